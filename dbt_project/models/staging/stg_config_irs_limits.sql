{#- The seed config_irs_limits, once per scenario: seeds are shared by every scenario (dim_scenarios). -#}
select
    scenarios.scenario_id,
    cast(plan_year as integer) as plan_year,
    cast(elective_deferral_limit as double) as elective_deferral_limit,
    cast(catch_up_limit as double) as catch_up_limit,
    cast(super_catch_up_limit as double) as super_catch_up_limit,
    cast(compensation_limit as double) as compensation_limit,
    cast(annual_additions_limit as double) as annual_additions_limit,
    cast(hce_compensation_limit as double) as hce_compensation_limit,
    cast(key_employee_compensation_limit as double) as key_employee_compensation_limit,
    cast(roth_catch_up_wage_threshold as double) as roth_catch_up_wage_threshold
from {{ ref('config_irs_limits') }}
cross join {{ ref('dim_scenarios') }} as scenarios
