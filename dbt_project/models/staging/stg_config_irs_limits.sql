select
    cast(plan_year as integer) as plan_year,
    cast(elective_deferral_limit as double) as elective_deferral_limit,
    cast(catch_up_limit as double) as catch_up_limit,
    cast(compensation_limit as double) as compensation_limit
from {{ ref('config_irs_limits') }}
