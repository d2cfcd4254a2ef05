{#- Every census row, as trimmed text (blank = null), with the reason it is rejected (null = good). Reader,
    projection and rules: macros/census_rules.sql, shared with `planalign census --check`. The rules run on
    the file once (its duplicate-id rule counts the file's rows); the census is shared, so the result is then
    repeated for every scenario of the build (dim_scenarios). -#}
with raw as (
    select {{ census_projection() }}
    from {{ planalign_read_census(var('census_path')) }}
),

checked as (
    select
        raw.*,
        {{ census_reject_reason(planalign_date_var('effective_date') | trim) }} as reject_reason
    from raw
)

{#- the optional columns last, after reject_reason, so the columns every census has keep their places -#}
select
    scenarios.scenario_id,
    {%- for column in (census_columns() ~ ',reject_reason,' ~ census_optional_columns()).split(',') %}
    checked.{{ column }}{{ "," if not loop.last }}
    {%- endfor %}
from checked
cross join {{ ref('dim_scenarios') }} as scenarios
