{#- The seed config_comp_levers, once per scenario: seeds are shared by every scenario (dim_scenarios). -#}
select
    scenarios.scenario_id,
    cast(job_level as integer) as job_level,
    cast(merit_rate as double) as merit_rate,
    cast(promotion_raise_rate as double) as promotion_raise_rate
from {{ ref('config_comp_levers') }}
cross join {{ ref('dim_scenarios') }} as scenarios
