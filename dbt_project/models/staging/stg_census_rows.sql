{#- Every census row, as text, with the reason it is rejected (null = good). Rules: macros/census_rules.sql. -#}
with raw as (
    select
        {% for column in census_columns().split(',') -%}
        cast({{ column }} as varchar) as {{ column }}{{ "," if not loop.last }}
        {% endfor %}
    from {{ planalign_read_census(var('census_path')) }}
)

select
    raw.*,
    {{ census_reject_reason(var('effective_date')) }} as reject_reason
from raw
