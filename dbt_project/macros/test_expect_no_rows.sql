{#- Generic test for dq_* models: they return rows only for violations, so any row fails the build. -#}
{% test planalign_expect_no_rows(model) %}
select * from {{ model }}
{% endtest %}
