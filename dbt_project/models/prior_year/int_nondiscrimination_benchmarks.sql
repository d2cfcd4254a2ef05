{#-
  Prior-year testing (issue #23 item 7; IRC 401(k)(3)(A), 401(m)(2)(A); Treas. Reg. 1.401(k)-2(a)(2)(ii),
  1.401(m)-2(a)(2)(ii)): the NHCE averages of the previous plan year, in basis points, one row per scenario
  and test ('adp', 'acp'), read from the previous
  year's nondiscrimination_results (its nhce_adp / nhce_acp: that year's NHCEs and data, whatever method that
  year used). int_nondiscrimination_corrections and nondiscrimination_results hold the HCEs to them for the
  scenarios that elect prior-year testing (nondiscrimination_testing_method = 1; read there, as this
  initialization-stage model may not read the foundation's int_effective_parameters). The first
  simulated year has no simulated previous year: no rows, so the current year's averages are used (the census
  is an existing plan, not a first plan year, so the 3% of Treas. Reg. 1.401(k)-2(c)(2) does not apply; see
  docs/methodology.md). Every read is declared below so the graph is the same whatever year is compiled.
-#}
-- depends_on: {{ ref('dim_scenarios') }}
-- depends_on: {{ source('planalign_state', 'nondiscrimination_results') }}
{%- set year = var('simulation_year') | int %}
{%- set start_year = var('start_year') | int %}
{% if year > start_year %}
select cast(prior.scenario_id as varchar) as scenario_id, cast(prior.test as varchar) as test,
    cast(prior.nhce_basis_points as bigint) as nhce_basis_points
from (
    select scenario_id, 'adp' as test, round(nhce_adp * 10000) as nhce_basis_points
    from {{ source('planalign_state', 'nondiscrimination_results') }}
    where simulation_year = {{ year - 1 }} and {{ planalign_in_build() }} and nhce_adp is not null
    union all
    select scenario_id, 'acp' as test, round(nhce_acp * 10000) as nhce_basis_points
    from {{ source('planalign_state', 'nondiscrimination_results') }}
    where simulation_year = {{ year - 1 }} and {{ planalign_in_build() }} and nhce_acp is not null
) as prior
{% else %}
select cast(scenario_id as varchar) as scenario_id, cast(null as varchar) as test,
    cast(null as bigint) as nhce_basis_points
from {{ ref('dim_scenarios') }}
where false
{% endif %}
