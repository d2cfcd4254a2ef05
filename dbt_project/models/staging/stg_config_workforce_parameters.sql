select
    cast(parameter_name as varchar) as parameter_name,
    cast(parameter_value as double) as parameter_value,
    cast(description as varchar) as description
from {{ ref('config_workforce_parameters') }}
