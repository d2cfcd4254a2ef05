select
    cast(job_level as integer) as job_level,
    cast(merit_rate as double) as merit_rate,
    cast(promotion_raise_rate as double) as promotion_raise_rate
from {{ ref('config_comp_levers') }}
