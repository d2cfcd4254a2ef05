{#-
  Employer match tiers in force: var match_tiers (a list of {employee_max, match_rate}, ascending; each tier
  starts where the previous one ends) over the seed. Tier t matches match_rate per unit of deferral between
  employee_min and employee_max.
-#}
-- depends_on: {{ ref('stg_config_match_tiers') }}
{%- set year = var('simulation_year') | int %}
{%- set tiers = var('match_tiers', none) %}
{%- if tiers is none %}
select
    {{ year }} as simulation_year, tier, employee_min, employee_max, match_rate
from {{ ref('stg_config_match_tiers') }}
{%- elif tiers | length == 0 %}
select
    {{ year }} as simulation_year,
    cast(null as integer) as tier,
    cast(null as double) as employee_min,
    cast(null as double) as employee_max,
    cast(null as double) as match_rate
where false
{%- else %}
{%- set ns = namespace(previous=0) %}
{%- for t in tiers %}
select
    {{ year }} as simulation_year,
    {{ loop.index }} as tier,
    cast('{{ planalign_number_literal(ns.previous, 'match_tiers[' ~ (loop.index0 - 1) ~ '].employee_max') }}' as double)
        as employee_min,
    cast('{{ planalign_number_literal(t["employee_max"], 'match_tiers[' ~ loop.index0 ~ '].employee_max') }}' as double)
        as employee_max,
    cast('{{ planalign_number_literal(t["match_rate"], 'match_tiers[' ~ loop.index0 ~ '].match_rate') }}' as double)
        as match_rate
{{ "union all" if not loop.last }}
{%- set ns.previous = t["employee_max"] %}
{%- endfor %}
{%- endif %}
