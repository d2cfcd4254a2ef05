{#-
  Every var that is rendered into SQL goes through one of these, so a var can only ever become a number, an
  integer or a date literal: `--vars "{cola_rate: \"0') as double) ...\"}"` is refused at parse time (exit 2,
  before anything is written) instead of being pasted into a query.
-#}

{#- The text of a finite number (a number, or a string that is exactly a decimal number), else a compiler
    error naming the var. Rendered inside quotes by the callers, as before, so the values are unchanged. -#}
{% macro planalign_number_literal(value, name) -%}
    {%- if value is sameas true or value is sameas false -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " must be a number, got the boolean " ~ value) }}
    {%- elif value is number -%}
        {%- if not (value * 0 == 0) -%}
            {{ exceptions.raise_compiler_error("var " ~ name ~ " must be a finite number, got " ~ value) }}
        {%- endif -%}
        {{ value }}
    {%- elif value is string and modules.re.fullmatch('[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?', value.strip()) -%}
        {{ value.strip() }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " must be a number such as 0.03, got " ~ (value | string)[:80] ~ "; fix --vars or the configuration") }}
    {%- endif -%}
{%- endmacro %}

{#- The text of a var that must be an ISO date (YYYY-MM-DD; a YAML date is fine), else a compiler error. -#}
{% macro planalign_date_var(name) -%}
    {%- set text = var(name) | string | trim -%}
    {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', text) -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " must be a date written YYYY-MM-DD, got " ~ text[:80] ~ "; fix --vars or the configuration") }}
    {%- endif -%}
    {{ text }}
{%- endmacro %}

{#-
  Parameter lookup for one scenario (macros/scenarios.sql): the scenario's vars entry, else the top-level var,
  else the seed value (the seed relation is per scenario, so it is read at the scenario's rows). Booleans map
  to 1/0 so every parameter is numeric.
-#}
{% macro planalign_param(name, seed_relation, scenario) -%}
    {%- set value = planalign_scenario_var(scenario, name) -%}
    {%- if value is none -%}
        (select cast(parameter_value as double) from {{ seed_relation }}
            where scenario_id = '{{ scenario["scenario_id"] }}' and parameter_name = '{{ name }}')
    {%- elif value is sameas true -%}
        cast(1 as double)
    {%- elif value is sameas false -%}
        cast(0 as double)
    {%- else -%}
        cast('{{ planalign_number_literal(value, planalign_scenario_var_label(scenario, name)) }}' as double)
    {%- endif -%}
{%- endmacro %}

{#- Whole days of [a_start, a_end] that fall inside [b_start, b_end] (0 when they do not meet). -#}
{% macro planalign_overlap_days(a_start, a_end, b_start, b_end) -%}
    greatest(0, {{ planalign_days_between('greatest(' ~ a_start ~ ', ' ~ b_start ~ ')', 'least(' ~ a_end ~ ', ' ~ b_end ~ ')') }} + 1)
{%- endmacro %}

{#- The current simulation year's rows of an incremental (all-years) model for this build's scenarios, as a
    parenthesised subquery. -#}
{% macro planalign_this_year(model_name) -%}
    (select * from {{ ref(model_name) }}
        where simulation_year = {{ var('simulation_year') | int }} and {{ planalign_in_build() }})
{%- endmacro %}
