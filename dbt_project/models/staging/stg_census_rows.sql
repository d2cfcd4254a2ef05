{#- Every census row, as trimmed text (blank = null), with the reason it is rejected (null = good). Reader,
    projection and rules: macros/census_rules.sql, shared with `planalign census --check`. -#}
with raw as (
    select {{ census_projection() }}
    from {{ planalign_read_census(var('census_path')) }}
)

select
    raw.*,
    {{ census_reject_reason(planalign_date_var('effective_date') | trim) }} as reject_reason
from raw
