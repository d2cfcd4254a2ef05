{#-
  Parameter lookup: a var that is set (not null) overrides the seed value. Booleans map to 1/0 so every
  parameter is numeric.
-#}
{% macro planalign_param(name, seed_relation) -%}
    {%- set value = var(name, none) -%}
    {%- if value is none -%}
        (select cast(parameter_value as double) from {{ seed_relation }} where parameter_name = '{{ name }}')
    {%- elif value is sameas true -%}
        cast(1 as double)
    {%- elif value is sameas false -%}
        cast(0 as double)
    {%- else -%}
        cast('{{ value }}' as double)
    {%- endif -%}
{%- endmacro %}

{#- Whole days of [a_start, a_end] that fall inside [b_start, b_end] (0 when they do not meet). -#}
{% macro planalign_overlap_days(a_start, a_end, b_start, b_end) -%}
    greatest(0, {{ planalign_days_between('greatest(' ~ a_start ~ ', ' ~ b_start ~ ')', 'least(' ~ a_end ~ ', ' ~ b_end ~ ')') }} + 1)
{%- endmacro %}

{#- The current simulation year's rows of an incremental (all-years) model, as a parenthesised subquery. -#}
{% macro planalign_this_year(model_name) -%}
    (select * from {{ ref(model_name) }} where simulation_year = {{ var('simulation_year') | int }})
{%- endmacro %}
