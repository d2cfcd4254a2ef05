{#- The seed config_age_bands, once per scenario: seeds are shared by every scenario (dim_scenarios). -#}
select
    scenarios.scenario_id,
    cast(age_band as varchar) as age_band,
    cast(min_age as integer) as min_age,
    cast(max_age as integer) as max_age,
    cast(promotion_multiplier as double) as promotion_multiplier,
    cast(termination_multiplier as double) as termination_multiplier
from {{ ref('config_age_bands') }}
cross join {{ ref('dim_scenarios') }} as scenarios
