select
    cast(tier as integer) as tier,
    cast(employee_min as double) as employee_min,
    cast(employee_max as double) as employee_max,
    cast(match_rate as double) as match_rate
from {{ ref('config_match_tiers') }}
