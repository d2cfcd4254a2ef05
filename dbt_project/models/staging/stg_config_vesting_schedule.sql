{#- The seed config_vesting_schedule, once per scenario: seeds are shared by every scenario (dim_scenarios). -#}
select
    scenarios.scenario_id,
    cast(years_of_service as integer) as years_of_service,
    cast(vested_share as double) as vested_share
from {{ ref('config_vesting_schedule') }}
cross join {{ ref('dim_scenarios') }} as scenarios
