{#-
  Age/service-graded core (employer non-elective) contribution rates in force, per scenario: the scenario's
  var core_contribution_schedule, else the top-level var (a list of {min_age, min_service_years, core_rate}),
  else the seed config_core_contribution_schedule. Used only when core_contribution_graded is on
  (int_effective_parameters): an employee's rate is then the highest core_rate of the rows whose min_age
  (age on December 31) and min_service_years (completed years of service, as for vesting) they have both
  reached, 0 when no row applies. The rule does not depend on the order of the rows.
-#}
-- depends_on: {{ ref('stg_config_core_contribution_schedule') }}
{%- set year = var('simulation_year') | int %}
{%- for scenario in planalign_scenarios() %}
{%- set schedule = planalign_scenario_var(scenario, 'core_contribution_schedule') %}
{%- set label = planalign_scenario_var_label(scenario, 'core_contribution_schedule') %}
{%- if schedule is none %}
select scenario_id, {{ year }} as simulation_year, min_age, min_service_years, core_rate
from {{ ref('stg_config_core_contribution_schedule') }}
where scenario_id = '{{ scenario["scenario_id"] }}'
{%- elif schedule is string or schedule is mapping or schedule | length == 0 %}
{{ exceptions.raise_compiler_error("var " ~ label ~ " must list at least one {min_age, min_service_years, core_rate} (e.g. [{min_age: 0, min_service_years: 0, core_rate: 0.03}])") }}
{%- else %}
{%- for row in schedule %}
{%- set where = label ~ '[' ~ loop.index0 ~ ']' %}
{%- if row is not mapping %}
{{ exceptions.raise_compiler_error("var " ~ where ~ " must be a mapping {min_age, min_service_years, core_rate}, got " ~ (row | string)[:80]) }}
{%- endif %}
select
    {{ planalign_scenario_literal(scenario) }} as scenario_id,
    {{ year }} as simulation_year,
    cast(cast('{{ planalign_number_literal(row.get("min_age", 0), where ~ '.min_age') }}' as double) as integer)
        as min_age,
    cast(cast('{{ planalign_number_literal(row.get("min_service_years", 0), where ~ '.min_service_years') }}' as double) as integer)
        as min_service_years,
    cast('{{ planalign_number_literal(row.get("core_rate"), where ~ '.core_rate') }}' as double) as core_rate
{{ "union all" if not loop.last }}
{%- endfor %}
{%- endif %}
{{ "union all" if not loop.last }}
{%- endfor %}
