{#- The seed config_account_balance_parameters, once per scenario: seeds are shared by every scenario
    (dim_scenarios). -#}
select
    scenarios.scenario_id,
    cast(parameter_name as varchar) as parameter_name,
    cast(parameter_value as double) as parameter_value,
    cast(description as varchar) as description
from {{ ref('config_account_balance_parameters') }}
cross join {{ ref('dim_scenarios') }} as scenarios
