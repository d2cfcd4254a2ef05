select
    cast(years_of_service as integer) as years_of_service,
    cast(vested_share as double) as vested_share
from {{ ref('config_vesting_schedule') }}
