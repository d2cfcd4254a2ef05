{#-
  Vesting schedule of employer money in force, per scenario: the scenario's var vesting_schedule, else the
  top-level var (a list of {years_of_service, vested_share}, ascending), else the seed
  config_vesting_schedule. An employee with s completed years of service is vested in the share of the last
  row with years_of_service <= s, and in nothing below the first row. A cliff schedule is one row
  ({years_of_service: 3, vested_share: 1.0}); immediate vesting is {years_of_service: 0, vested_share: 1.0}.
-#}
-- depends_on: {{ ref('stg_config_vesting_schedule') }}
{%- set year = var('simulation_year') | int %}
{%- for scenario in planalign_scenarios() %}
{%- set schedule = planalign_scenario_var(scenario, 'vesting_schedule') %}
{%- set label = planalign_scenario_var_label(scenario, 'vesting_schedule') %}
{%- if schedule is none %}
select scenario_id, {{ year }} as simulation_year, years_of_service, vested_share
from {{ ref('stg_config_vesting_schedule') }}
where scenario_id = '{{ scenario["scenario_id"] }}'
{%- elif schedule | length == 0 %}
{{ exceptions.raise_compiler_error("var " ~ label ~ " must list at least one {years_of_service, vested_share} (use [{years_of_service: 0, vested_share: 1.0}] for immediate vesting)") }}
{%- else %}
{%- for row in schedule %}
select
    {{ planalign_scenario_literal(scenario) }} as scenario_id,
    {{ year }} as simulation_year,
    cast(cast('{{ planalign_number_literal(row["years_of_service"], label ~ '[' ~ loop.index0 ~ '].years_of_service') }}' as double) as integer)
        as years_of_service,
    cast('{{ planalign_number_literal(row["vested_share"], label ~ '[' ~ loop.index0 ~ '].vested_share') }}' as double)
        as vested_share
{{ "union all" if not loop.last }}
{%- endfor %}
{%- endif %}
{{ "union all" if not loop.last }}
{%- endfor %}
