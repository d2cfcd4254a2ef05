{#- Generic test for dq_* models: they return rows only for violations, so any row fails the build. -#}
{% test planalign_expect_no_rows(model) %}
select * from {{ model }}
{% endtest %}

{#- Generic test: `columns` identify a row within its scenario (every key is (scenario_id, ...)). A row whose
    key repeats in its scenario, or whose scenario_id is null, fails; null key columns count as equal, so a
    key column that must not be null still needs its not_null test. With this_year_only (for an incremental,
    all-years model whose key holds the year) only the year being built is checked: a build replaces only its
    own (scenario, year) rows and earlier years were checked when they were built, so checking every year
    again each year is work that grows with years x scenarios and finds nothing new. -#}
{% test planalign_unique_per_scenario(model, columns, this_year_only=false) %}
select scenario_id, {{ columns | join(', ') }}, count(*) as copies
from {{ model }}
{%- if this_year_only %}
where simulation_year = {{ var('simulation_year') | int }}
{%- endif %}
group by scenario_id, {{ columns | join(', ') }}
having count(*) > 1 or scenario_id is null
{% endtest %}

{#- Generic test: every non-null `column_name` has a row in `to` with `field` of the same value in the same
    scenario (a relationships test within each scenario). With same_year (both models incremental, all
    years) only the year being built is checked, and the parent row must be of the same year: the check is
    stronger, and it does not grow with the years already built. -#}
{% test planalign_relationship_per_scenario(model, column_name, to, field, same_year=false) %}
select child.scenario_id, child.{{ column_name }}
from {{ model }} as child
where child.{{ column_name }} is not null
    {%- if same_year %}
    and child.simulation_year = {{ var('simulation_year') | int }}
    {%- endif %}
    and not exists (
        select 1 from {{ to }} as parent
        where parent.scenario_id = child.scenario_id and parent.{{ field }} = child.{{ column_name }}
        {%- if same_year %}
            and parent.simulation_year = child.simulation_year
        {%- endif %}
    )
{% endtest %}
