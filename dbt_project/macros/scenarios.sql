{#-
  The scenario dimension (issue #14, docs: /work/notes/scenario_contract.md sections 1 and 2). One build of
  the project simulates many scenarios (plan designs x random seeds) side by side, so dbt's fixed
  per-invocation cost is paid once for all of them instead of once per scenario. Every model's relation
  starts with scenario_id and every key, join, window and test is per scenario.

  Without the `scenarios` var the project builds exactly one scenario from the top-level vars: scenario_id =
  var('scenario_id') ('baseline'), scenario_name = var('scenario_name') (else the id), seed =
  var('random_seed'): today's run plus a scenario_id column. With it, every item
      {scenario_id, scenario_name, random_seed, vars}
  is one scenario; a parameter of a scenario is its `vars` entry, else the top-level var, else the seed
  value. Draws hash the scenario's own seed (dim_scenarios.random_seed), so scenarios with one seed share
  every draw (common random numbers) and a scenario in a sweep equals, row for row, a single run of its
  configuration and seed.

  Everything here is validated at parse time, like the other vars (macros/parameters.sql): a bad or
  duplicate scenario_id, a bad seed, a run-identity var in a scenario's vars or a value that is not a number
  is a compiler error naming it, before anything is written.
-#}

{#- The vars a scenario may set: the parameter vars of dbt_project.yml (those whose default is null, i.e.
    "use the seed value"). tests/dbt_project/test_scenario_dimension.py keeps this list equal to them. -#}
{% macro planalign_parameter_var_names() -%}
    {{ return([
        'target_growth_rate', 'total_termination_rate', 'new_hire_termination_rate', 'cola_rate',
        'merit_effective_month', 'irs_indexing_rate', 'retirement_max_age',
        'merit_rate_level_1', 'merit_rate_level_2', 'merit_rate_level_3', 'merit_rate_level_4',
        'merit_rate_level_5',
        'auto_enrollment_enabled', 'auto_enrollment_default_deferral_rate', 'auto_enrollment_opt_out_rate',
        'auto_enrollment_window_days', 'voluntary_enrollment_rate', 'escalation_enabled',
        'escalation_increment', 'escalation_cap', 'escalation_delay_years', 'match_cap_rate', 'catch_up_age',
        'core_contribution_rate', 'forfeitures_offset_employer_cost', 'hce_top_paid_group',
        'eligibility_min_age', 'eligibility_service_months', 'eligibility_service_days',
        'eligibility_entry_frequency_months', 'vesting_schedule', 'match_tiers',
        'core_contribution_graded', 'core_contribution_schedule', 'match_true_up', 'roth_catch_up_start_year',
        'deferral_response_enabled', 'deferral_match_threshold_share', 'deferral_below_match_share',
        'voluntary_enrollment_match_sensitivity', 'voluntary_enrollment_match_reference',
        'auto_enrollment_default_departure_rate', 'auto_enrollment_opt_out_default_slope', 'escalation_opt_out_rate',
        'account_balances_enabled', 'account_balances_expected_return', 'account_balances_return_volatility',
        'account_balances_deterministic_returns', 'account_balances_distributions_enabled',
        'account_balances_cash_out_limit', 'account_balances_involuntary_limit',
        'account_balances_small_cash_out_share', 'account_balances_cash_out_share',
        'account_balances_rollover_share', 'account_balances_top_heavy',
        'vesting_normal_retirement_age', 'safe_harbor_type', 'safe_harbor_qaca', 'auto_enrollment_eaca',
        'auto_enrollment_permissive_withdrawal_share', 'auto_enrollment_secure_2_0_mandatory',
        'vesting_forfeiture_timing', 'nondiscrimination_testing_method',
    ]) }}
{%- endmacro %}

{#- Vars that name the run rather than a plan design: the same for every scenario of a build. -#}
{% macro planalign_run_identity_var_names() -%}
    {{ return([
        'simulation_year', 'start_year', 'random_seed', 'census_path', 'effective_date',
        'census_max_reject_share', 'database_path', 'scenarios', 'scenario_id', 'scenario_name',
    ]) }}
{%- endmacro %}

{#- A scenario_id is rendered into SQL as a string literal and names the scenario in every table. -#}
{% macro planalign_scenario_id_text(value, where) -%}
    {%- if value is string and modules.re.fullmatch('[A-Za-z0-9_.-]{1,64}', value) -%}
        {{ return(value) }}
    {%- endif -%}
    {{ exceptions.raise_compiler_error(where ~ ": scenario_id must be 1 to 64 letters, digits, '_', '.' or '-', got " ~ (value | string)[:80] ~ "; fix --vars or the configuration") }}
{%- endmacro %}

{#- A seed as an integer in [0, 2^63) (the bigint dim_scenarios.random_seed), else a compiler error. -#}
{% macro planalign_seed_value(value, where) -%}
    {%- if value is number and value is not sameas true and value is not sameas false and value == value | int
        and value >= 0 and value < 9223372036854775808 -%}
        {{ return(value | int) }}
    {%- elif value is string and modules.re.fullmatch('[0-9]{1,18}', value.strip()) -%}
        {{ return(value.strip() | int) }}
    {%- endif -%}
    {{ exceptions.raise_compiler_error(where ~ " must be a non-negative integer below 2^63, got " ~ (value | string)[:80] ~ "; fix --vars or the configuration") }}
{%- endmacro %}

{#-
  The scenarios of this build, validated: a list of {scenario_id, scenario_name, random_seed, vars} with
  random_seed an int and vars a mapping of parameter vars only.
-#}
{% macro planalign_scenarios() -%}
    {%- set raw = var('scenarios', none) -%}
    {%- if raw is none -%}
        {%- set scenario_id = planalign_scenario_id_text(var('scenario_id', 'baseline'), 'var scenario_id') -%}
        {%- set name = var('scenario_name', none) -%}
        {{ return([{
            'scenario_id': scenario_id,
            'scenario_name': scenario_id if name is none else name | string,
            'random_seed': planalign_seed_value(var('random_seed'), 'var random_seed'),
            'vars': {},
        }]) }}
    {%- endif -%}
    {%- if raw is string or raw is mapping or raw is not iterable or raw | length == 0 -%}
        {{ exceptions.raise_compiler_error("var scenarios must be a non-empty list of {scenario_id, scenario_name, random_seed, vars}, got " ~ (raw | string)[:80] ~ "; fix --vars") }}
    {%- endif -%}
    {%- set parameters = planalign_parameter_var_names() -%}
    {%- set identity = planalign_run_identity_var_names() -%}
    {%- set scenarios = [] -%}
    {%- set seen = [] -%}
    {%- for item in raw -%}
        {%- set where = 'scenarios[' ~ loop.index0 ~ ']' -%}
        {%- if item is not mapping -%}
            {{ exceptions.raise_compiler_error(where ~ " must be a mapping {scenario_id, scenario_name, random_seed, vars}, got " ~ (item | string)[:80]) }}
        {%- endif -%}
        {%- for key in item -%}
            {%- if key not in ['scenario_id', 'scenario_name', 'random_seed', 'vars'] -%}
                {{ exceptions.raise_compiler_error(where ~ " has an unknown key " ~ key ~ "; a scenario has scenario_id, scenario_name, random_seed and vars") }}
            {%- endif -%}
        {%- endfor -%}
        {%- if 'scenario_id' not in item -%}
            {{ exceptions.raise_compiler_error(where ~ " has no scenario_id") }}
        {%- endif -%}
        {%- set scenario_id = planalign_scenario_id_text(item['scenario_id'], where) -%}
        {%- set where = where ~ ' (' ~ scenario_id ~ ')' -%}
        {%- if scenario_id in seen -%}
            {{ exceptions.raise_compiler_error(where ~ ": duplicate scenario_id " ~ scenario_id ~ "; every scenario needs its own id") }}
        {%- endif -%}
        {%- do seen.append(scenario_id) -%}
        {%- if 'random_seed' not in item -%}
            {{ exceptions.raise_compiler_error(where ~ " has no random_seed") }}
        {%- endif -%}
        {%- set seed = planalign_seed_value(item['random_seed'], where ~ ' random_seed') -%}
        {%- set name = item.get('scenario_name') -%}
        {%- if name is not none and name is not string -%}
            {{ exceptions.raise_compiler_error(where ~ ": scenario_name must be text, got " ~ (name | string)[:80]) }}
        {%- endif -%}
        {%- set overrides = item.get('vars') -%}
        {%- if overrides is none -%}
            {%- set overrides = {} -%}
        {%- elif overrides is not mapping -%}
            {{ exceptions.raise_compiler_error(where ~ ": vars must be a mapping of parameter vars, got " ~ (overrides | string)[:80]) }}
        {%- endif -%}
        {%- for key in overrides -%}
            {%- if key in identity -%}
                {{ exceptions.raise_compiler_error(where ~ ": var " ~ key ~ " is a run-identity var, the same for every scenario of a build; set it at the top level of --vars, not in a scenario's vars") }}
            {%- elif key not in parameters -%}
                {{ exceptions.raise_compiler_error(where ~ ": " ~ key ~ " is not a parameter var; a scenario's vars take the parameter vars of dbt_project.yml: " ~ parameters | join(', ')) }}
            {%- endif -%}
        {%- endfor -%}
        {%- do scenarios.append({
            'scenario_id': scenario_id,
            'scenario_name': scenario_id if name is none else name,
            'random_seed': seed,
            'vars': overrides,
        }) -%}
    {%- endfor -%}
    {{ return(scenarios) }}
{%- endmacro %}

{#- A parameter var for one scenario: its vars entry, else the top-level var (null: use the seed value). -#}
{% macro planalign_scenario_var(scenario, name) -%}
    {%- set value = scenario['vars'].get(name) -%}
    {{ return(var(name, none) if value is none else value) }}
{%- endmacro %}

{#- The name a scenario's var is reported under in an error: the top-level var, or the scenario's entry. -#}
{% macro planalign_scenario_var_label(scenario, name) -%}
    {{- name if scenario['vars'].get(name) is none else 'scenarios[' ~ scenario['scenario_id'] ~ '].vars.' ~ name -}}
{%- endmacro %}

{#- A scenario_id as a SQL string literal (the id is validated: letters, digits, '_', '.', '-'). -#}
{% macro planalign_scenario_literal(scenario) -%}
    cast('{{ scenario["scenario_id"] }}' as varchar)
{%- endmacro %}

{#- A condition keeping the rows of this build's scenarios: an incremental table or earlier-year state may
    also hold other scenarios (another build into the same database), which this build must not read. -#}
{% macro planalign_in_build(alias=none) -%}
    {{ alias ~ '.' if alias }}scenario_id in (select scenario_id from {{ ref('dim_scenarios') }})
{%- endmacro %}
