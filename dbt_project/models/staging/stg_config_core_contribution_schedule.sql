{#- The seed config_core_contribution_schedule, once per scenario: seeds are shared by every scenario
    (dim_scenarios). -#}
select
    scenarios.scenario_id,
    cast(min_age as integer) as min_age,
    cast(min_service_years as integer) as min_service_years,
    cast(core_rate as double) as core_rate
from {{ ref('config_core_contribution_schedule') }}
cross join {{ ref('dim_scenarios') }} as scenarios
