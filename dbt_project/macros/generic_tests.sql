{#- Generic test for dq_* models: they return rows only for violations, so any row fails the build. -#}
{% test planalign_expect_no_rows(model) %}
select * from {{ model }}
{% endtest %}

{#- Generic test: `columns` identify a row within its scenario (every key is (scenario_id, ...)). A row whose
    key repeats in its scenario, or whose scenario_id is null, fails; null key columns count as equal, so a
    key column that must not be null still needs its not_null test. -#}
{% test planalign_unique_per_scenario(model, columns) %}
select scenario_id, {{ columns | join(', ') }}, count(*) as copies
from {{ model }}
group by scenario_id, {{ columns | join(', ') }}
having count(*) > 1 or scenario_id is null
{% endtest %}

{#- Generic test: every non-null `column_name` has a row in `to` with `field` of the same value in the same
    scenario (a relationships test within each scenario). -#}
{% test planalign_relationship_per_scenario(model, column_name, to, field) %}
select child.scenario_id, child.{{ column_name }}
from {{ model }} as child
where child.{{ column_name }} is not null
    and not exists (
        select 1 from {{ to }} as parent
        where parent.scenario_id = child.scenario_id and parent.{{ field }} = child.{{ column_name }}
    )
{% endtest %}
