select
    cast(min_age as integer) as min_age,
    cast(max_age as integer) as max_age,
    cast(retirement_rate as double) as retirement_rate
from {{ ref('config_retirement_hazard') }}
