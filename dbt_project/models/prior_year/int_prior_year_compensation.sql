{#-
  Pay received in the previous calendar year by the start-of-year actives, one row per employee: the HCE
  look-back compensation (IRC 414(q)(1)(B), int_nondiscrimination_corrections) and the prior-year wages of
  the SECURE 2.0 section 603 Roth catch-up (int_employee_contributions) read it from here, so the two rules
  use the same figure. After the first simulated year: the previous year's prorated pay (0 for someone
  without a row); in the first: the census's optional prior_year_compensation, else its pay rate (issue #23
  item 6). Every read is declared below so the graph is the same whatever year is compiled.
-#}
-- depends_on: {{ ref('stg_census_data') }}
-- depends_on: {{ ref('dim_scenarios') }}
-- depends_on: {{ source('planalign_state', 'int_workforce_snapshot_optimized') }}
{%- set year = var('simulation_year') | int %}
{%- set start_year = var('start_year') | int %}
select
    actives.scenario_id,
    actives.employee_id,
{%- if year > start_year %}
    coalesce(prior.prorated_compensation, 0) as prior_year_compensation
from {{ ref('int_active_employees_prev_year_snapshot') }} as actives
left join (
    select scenario_id, employee_id, prorated_compensation
    from {{ source('planalign_state', 'int_workforce_snapshot_optimized') }}
    where simulation_year = {{ year - 1 }} and {{ planalign_in_build() }}
) as prior on actives.scenario_id = prior.scenario_id and actives.employee_id = prior.employee_id
{%- else %}
    coalesce(census.prior_year_compensation, actives.annual_compensation) as prior_year_compensation
from {{ ref('int_active_employees_prev_year_snapshot') }} as actives
left join {{ ref('stg_census_data') }} as census
    on actives.scenario_id = census.scenario_id and actives.employee_id = census.employee_id
{%- endif %}
