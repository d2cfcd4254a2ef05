{#-
  The scalar parameters in force, one row per scenario and one column per parameter var (as a double:
  booleans 1/0, a coded choice its code): the scenario's var, else the top-level var, else the seed value
  (macro planalign_param, seeds config_workforce_parameters, config_plan_parameters and
  config_account_balance_parameters); safe_harbor_type has no seed row (unset: 0, no safe-harbor design).
  The one home of the parameter lookup: int_effective_parameters and
  int_effective_account_balance_parameters read it, and so does planalign's record of a run's assumptions
  (planalign.simulation.assumptions_resolve).
-#}
{%- set seeds = {
    'workforce': ref('stg_config_workforce_parameters'),
    'plan': ref('stg_config_plan_parameters'),
    'account_balances': ref('stg_config_account_balance_parameters'),
} %}
{%- set parameters = [
    ('irs_indexing_rate', 'workforce'),
    ('target_growth_rate', 'workforce'),
    ('total_termination_rate', 'workforce'),
    ('new_hire_termination_rate', 'workforce'),
    ('cola_rate', 'workforce'),
    ('merit_effective_month', 'workforce'),
    ('auto_enrollment_enabled', 'plan'),
    ('auto_enrollment_default_deferral_rate', 'plan'),
    ('auto_enrollment_opt_out_rate', 'plan'),
    ('auto_enrollment_window_days', 'plan'),
    ('voluntary_enrollment_rate', 'plan'),
    ('escalation_enabled', 'plan'),
    ('escalation_increment', 'plan'),
    ('escalation_cap', 'plan'),
    ('escalation_delay_years', 'plan'),
    ('match_cap_rate', 'plan'),
    ('catch_up_age', 'plan'),
    ('vesting_normal_retirement_age', 'plan'),
    ('safe_harbor_qaca', 'plan'),
    ('auto_enrollment_eaca', 'plan'),
    ('auto_enrollment_permissive_withdrawal_share', 'plan'),
    ('auto_enrollment_secure_2_0_mandatory', 'plan'),
    ('vesting_forfeiture_timing', 'plan'),
    ('nondiscrimination_testing_method', 'plan'),
    ('hce_top_paid_group', 'plan'),
    ('eligibility_min_age', 'plan'),
    ('eligibility_service_months', 'plan'),
    ('eligibility_service_days', 'plan'),
    ('eligibility_entry_frequency_months', 'plan'),
    ('core_contribution_rate', 'plan'),
    ('core_contribution_graded', 'plan'),
    ('match_true_up', 'plan'),
    ('roth_catch_up_start_year', 'plan'),
    ('forfeitures_offset_employer_cost', 'plan'),
    ('retirement_max_age', 'workforce'),
    ('deferral_response_enabled', 'plan'),
    ('deferral_match_threshold_share', 'plan'),
    ('deferral_below_match_share', 'plan'),
    ('voluntary_enrollment_match_sensitivity', 'plan'),
    ('voluntary_enrollment_match_reference', 'plan'),
    ('auto_enrollment_default_departure_rate', 'plan'),
    ('auto_enrollment_opt_out_default_slope', 'plan'),
    ('escalation_opt_out_rate', 'plan'),
    ('account_balances_enabled', 'account_balances'),
    ('account_balances_expected_return', 'account_balances'),
    ('account_balances_return_volatility', 'account_balances'),
    ('account_balances_deterministic_returns', 'account_balances'),
    ('account_balances_distributions_enabled', 'account_balances'),
    ('account_balances_cash_out_limit', 'account_balances'),
    ('account_balances_involuntary_limit', 'account_balances'),
    ('account_balances_small_cash_out_share', 'account_balances'),
    ('account_balances_cash_out_share', 'account_balances'),
    ('account_balances_rollover_share', 'account_balances'),
    ('account_balances_top_heavy', 'account_balances'),
] %}
{%- for scenario in planalign_scenarios() %}
select
    {{ planalign_scenario_literal(scenario) }} as scenario_id,
    cast({{ var('simulation_year') | int }} as integer) as simulation_year,
    {%- for name, seed in parameters %}
    {{ planalign_param(name, seeds[seed], scenario) }} as {{ name }},
    {%- endfor %}
    {%- set safe_harbor = planalign_scenario_var(scenario, 'safe_harbor_type') %}
    cast('{{ planalign_number_literal(
        0 if safe_harbor is none else safe_harbor, planalign_scenario_var_label(scenario, 'safe_harbor_type')
    ) }}' as double)
        as safe_harbor_type
{{ "union all" if not loop.last }}
{%- endfor %}
