{#- The seed config_match_tiers, once per scenario: seeds are shared by every scenario (dim_scenarios). -#}
select
    scenarios.scenario_id,
    cast(tier as integer) as tier,
    cast(employee_min as double) as employee_min,
    cast(employee_max as double) as employee_max,
    cast(match_rate as double) as match_rate
from {{ ref('config_match_tiers') }}
cross join {{ ref('dim_scenarios') }} as scenarios
