{#- The seed config_job_levels, once per scenario: seeds are shared by every scenario (dim_scenarios). -#}
select
    scenarios.scenario_id,
    cast(job_level as integer) as job_level,
    cast(level_name as varchar) as level_name,
    cast(min_compensation as double) as min_compensation,
    cast(max_compensation as double) as max_compensation,
    cast(new_hire_share as double) as new_hire_share,
    cast(promotion_base_rate as double) as promotion_base_rate,
    cast(termination_weight as double) as termination_weight
from {{ ref('config_job_levels') }}
cross join {{ ref('dim_scenarios') }} as scenarios
