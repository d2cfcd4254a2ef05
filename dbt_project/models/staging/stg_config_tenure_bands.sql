{#- The seed config_tenure_bands, once per scenario: seeds are shared by every scenario (dim_scenarios). -#}
select
    scenarios.scenario_id,
    cast(tenure_band as varchar) as tenure_band,
    cast(min_tenure as integer) as min_tenure,
    cast(max_tenure as integer) as max_tenure,
    cast(promotion_multiplier as double) as promotion_multiplier,
    cast(termination_multiplier as double) as termination_multiplier
from {{ ref('config_tenure_bands') }}
cross join {{ ref('dim_scenarios') }} as scenarios
