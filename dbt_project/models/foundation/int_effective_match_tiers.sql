{#-
  Employer match tiers in force, per scenario: the scenario's var match_tiers, else the top-level var (a list
  of {employee_max, match_rate}, ascending; each tier starts where the previous one ends), else the seed.
  Tier t matches match_rate per unit of deferral between employee_min and employee_max. One select per
  scenario and tier.
-#}
-- depends_on: {{ ref('stg_config_match_tiers') }}
{%- set year = var('simulation_year') | int %}
{%- for scenario in planalign_scenarios() %}
{%- set tiers = planalign_scenario_var(scenario, 'match_tiers') %}
{%- set label = planalign_scenario_var_label(scenario, 'match_tiers') %}
{%- if tiers is none %}
select
    scenario_id, {{ year }} as simulation_year, tier, employee_min, employee_max, match_rate
from {{ ref('stg_config_match_tiers') }}
where scenario_id = '{{ scenario["scenario_id"] }}'
{%- elif tiers | length == 0 %}
select
    {{ planalign_scenario_literal(scenario) }} as scenario_id,
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
    {{ planalign_scenario_literal(scenario) }} as scenario_id,
    {{ year }} as simulation_year,
    {{ loop.index }} as tier,
    cast('{{ planalign_number_literal(ns.previous, label ~ '[' ~ (loop.index0 - 1) ~ '].employee_max') }}' as double)
        as employee_min,
    cast('{{ planalign_number_literal(t["employee_max"], label ~ '[' ~ loop.index0 ~ '].employee_max') }}' as double)
        as employee_max,
    cast('{{ planalign_number_literal(t["match_rate"], label ~ '[' ~ loop.index0 ~ '].match_rate') }}' as double)
        as match_rate
{{ "union all" if not loop.last }}
{%- set ns.previous = t["employee_max"] %}
{%- endfor %}
{%- endif %}
{{ "union all" if not loop.last }}
{%- endfor %}
