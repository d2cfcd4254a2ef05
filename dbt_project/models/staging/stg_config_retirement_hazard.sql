{#- The seed config_retirement_hazard, once per scenario: seeds are shared by every scenario (dim_scenarios). -#}
select
    scenarios.scenario_id,
    cast(min_age as integer) as min_age,
    cast(max_age as integer) as max_age,
    cast(retirement_rate as double) as retirement_rate
from {{ ref('config_retirement_hazard') }}
cross join {{ ref('dim_scenarios') }} as scenarios
