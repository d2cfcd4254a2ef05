{#-
  Warehouse-specific SQL lives here, behind adapter.dispatch, so models stay portable: adding another
  adapter means adding `<adapter>__` implementations of these macros, not touching models.
-#}

{#- A uniform draw in [0, 1) that is a pure function of (seed, id, simulation_year, kind); seed_expr is the
    scenario's seed column (dim_scenarios.random_seed), so scenarios with one seed share their draws. The
    hashed text is `seed|id|year|kind`, the seed written as a plain integer. -#}
{% macro planalign_uniform(kind, id_expr, seed_expr, year=none) -%}
    {%- set y = var('simulation_year') | int if year is none else year -%}
    {{ return(adapter.dispatch('planalign_uniform', 'planalign_sim')(kind, id_expr, seed_expr, y)) }}
{%- endmacro %}

{% macro duckdb__planalign_uniform(kind, id_expr, seed_expr, year) -%}
    (cast(('0x' || substr(md5(concat_ws('|', cast({{ seed_expr }} as varchar), cast({{ id_expr }} as varchar), '{{ year }}', '{{ kind }}')), 1, 13)) as bigint) / 4503599627370496.0)
{%- endmacro %}

{#- A stable text key (hex digest) for deterministic ids such as event_id. -#}
{% macro planalign_hash_text(expr) -%}
    {{ return(adapter.dispatch('planalign_hash_text', 'planalign_sim')(expr)) }}
{%- endmacro %}

{% macro duckdb__planalign_hash_text(expr) -%}
    md5({{ expr }})
{%- endmacro %}

{% macro planalign_make_date(year_expr, month_expr, day_expr) -%}
    {{ return(adapter.dispatch('planalign_make_date', 'planalign_sim')(year_expr, month_expr, day_expr)) }}
{%- endmacro %}

{% macro duckdb__planalign_make_date(year_expr, month_expr, day_expr) -%}
    make_date(cast({{ year_expr }} as integer), cast({{ month_expr }} as integer), cast({{ day_expr }} as integer))
{%- endmacro %}

{% macro planalign_add_days(date_expr, days_expr) -%}
    {{ return(adapter.dispatch('planalign_add_days', 'planalign_sim')(date_expr, days_expr)) }}
{%- endmacro %}

{% macro duckdb__planalign_add_days(date_expr, days_expr) -%}
    cast(({{ date_expr }}) + cast({{ days_expr }} as integer) as date)
{%- endmacro %}

{% macro planalign_add_years(date_expr, years_expr) -%}
    {{ return(adapter.dispatch('planalign_add_years', 'planalign_sim')(date_expr, years_expr)) }}
{%- endmacro %}

{% macro duckdb__planalign_add_years(date_expr, years_expr) -%}
    cast(({{ date_expr }}) + to_years(cast({{ years_expr }} as integer)) as date)
{%- endmacro %}

{#- A date plus whole months (the end of a shorter month clamps: January 31 + 1 month = February 28). -#}
{% macro planalign_add_months(date_expr, months_expr) -%}
    {{ return(adapter.dispatch('planalign_add_months', 'planalign_sim')(date_expr, months_expr)) }}
{%- endmacro %}

{% macro duckdb__planalign_add_months(date_expr, months_expr) -%}
    cast(({{ date_expr }}) + to_months(cast({{ months_expr }} as integer)) as date)
{%- endmacro %}

{#- Days from start to end (end - start), as an integer. -#}
{% macro planalign_days_between(start_expr, end_expr) -%}
    {{ return(adapter.dispatch('planalign_days_between', 'planalign_sim')(start_expr, end_expr)) }}
{%- endmacro %}

{% macro duckdb__planalign_days_between(start_expr, end_expr) -%}
    date_diff('day', cast({{ start_expr }} as date), cast({{ end_expr }} as date))
{%- endmacro %}

{#- Completed years from start to end (age or tenure on a date). -#}
{% macro planalign_full_years(start_expr, end_expr) -%}
    {{ return(adapter.dispatch('planalign_full_years', 'planalign_sim')(start_expr, end_expr)) }}
{%- endmacro %}

{% macro duckdb__planalign_full_years(start_expr, end_expr) -%}
    cast(extract(year from age(cast({{ end_expr }} as date), cast({{ start_expr }} as date))) as integer)
{%- endmacro %}

{#- A relation of integers 1..n_expr in a column named `seq` (n_expr is a scalar subquery or literal). -#}
{% macro planalign_sequence(n_expr) -%}
    {{ return(adapter.dispatch('planalign_sequence', 'planalign_sim')(n_expr)) }}
{%- endmacro %}

{% macro duckdb__planalign_sequence(n_expr) -%}
    (select cast(generate_series as integer) as seq from generate_series(1, cast(({{ n_expr }}) as bigint)))
{%- endmacro %}

{#- A boolean expression that aborts the query with `message_expr` when `condition` holds. -#}
{% macro planalign_fail_if(condition, message_expr) -%}
    {{ return(adapter.dispatch('planalign_fail_if', 'planalign_sim')(condition, message_expr)) }}
{%- endmacro %}

{% macro duckdb__planalign_fail_if(condition, message_expr) -%}
    (case when {{ condition }} then error({{ message_expr }}) else true end)
{%- endmacro %}

{#- The census file as a relation whose census columns are all text. -#}
{% macro planalign_read_census(path) -%}
    {{ return(adapter.dispatch('planalign_read_census', 'planalign_sim')(path)) }}
{%- endmacro %}

{#- The reader itself is census_reader (macros/census_rules.sql), shared with the pre-flight check. -#}
{% macro duckdb__planalign_read_census(path) -%}
    {%- set reader = census_reader(path | string) | trim -%}
    {%- if not reader -%}
        {{ exceptions.raise_compiler_error("census_path must end in .csv or .parquet, got: " ~ path) }}
    {%- endif -%}
    {{ reader }}
{%- endmacro %}
