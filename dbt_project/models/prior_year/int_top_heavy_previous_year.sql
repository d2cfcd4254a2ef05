{#-
  Whether the plan year is top-heavy (issue #23 item 3), per scenario: the status determined on December 31
  of the previous year (IRC 416(g)(4)(C): for a plan year after the first, the determination date is the last
  day of the preceding plan year), i.e. nondiscrimination_results.is_top_heavy of Y - 1. Empty in the first
  simulated year: the census has no history of balances, so that year is taken as not top-heavy.
  Every read is declared below so the graph is the same whatever year is compiled.
-#}
-- depends_on: {{ ref('dim_scenarios') }}
-- depends_on: {{ source('planalign_state', 'nondiscrimination_results') }}
{%- set year = var('simulation_year') | int %}
{%- set start_year = var('start_year') | int %}
{% if year == start_year %}
select cast(scenario_id as varchar) as scenario_id, false as is_top_heavy
from {{ ref('dim_scenarios') }}
where false
{% else %}
select cast(scenario_id as varchar) as scenario_id, is_top_heavy
from {{ source('planalign_state', 'nondiscrimination_results') }}
where simulation_year = {{ year - 1 }} and {{ planalign_in_build() }}
{% endif %}
