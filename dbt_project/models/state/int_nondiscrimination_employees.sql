{#-
  Nondiscrimination testing, one row per employee employed in the year (README: "Nondiscrimination"): the
  HCE determination, the ADP and ACP tests and their corrections of int_nondiscrimination_corrections (in the
  order of the regulations: ADP excess, catch-up recharacterization, refund, forfeiture of the match on the
  refunded deferrals, ACP on the rest), and the top-heavy inputs.
  * Key employee (top-heavy, IRC 416(i)): int_top_heavy_minimum (pay above key_employee_compensation_limit,
    every such employee taken as an officer, at most the officer cap; no owners). Account balance:
    the employee's deferrals kept since start_year (after refunds) plus the employer account balance (no
    investment returns); for a leaver only its vested part (issue #23 item 7: the unvested part is forfeited,
    so it is no accrued benefit on the determination date, IRC 416(g)); with forfeiture after five one-year
    breaks (vesting_forfeiture_timing) the unvested part is still in the account at December 31, so the
    whole balance counts.
-#}
{%- set year = var('simulation_year') | int %}
with deferrals_to_date as (
    select scenario_id, employee_id, sum(employee_contribution) as employee_balance
    from {{ ref('fct_workforce_snapshot') }}
    where simulation_year <= {{ year }} and {{ planalign_in_build() }}
    group by scenario_id, employee_id
)

select
    corrections.scenario_id,
    corrections.employee_id,
    corrections.simulation_year,
    corrections.employment_status,
    corrections.lookback_compensation,
    corrections.is_hce,
    corrections.is_eligible,
    corrections.test_compensation,
    corrections.adp_deferral,
    corrections.deferral_ratio,
    corrections.employer_match,
    corrections.contribution_ratio,
    corrections.adp_refund,
    corrections.acp_refund,
    top_heavy.is_key_employee,
    cast(coalesce(deferrals_to_date.employee_balance, 0)
        + coalesce(case when accounts.employment_status = 'active' or params.forfeiture_after_five_breaks
            then accounts.balance else accounts.vested_balance end, 0) as decimal(18, 2))
        as account_balance,
    corrections.adp_excess,
    corrections.catch_up_recharacterized,
    corrections.match_forfeited,
    corrections.acp_forfeited
from {{ planalign_this_year('int_nondiscrimination_corrections') }} as corrections
inner join {{ planalign_this_year('int_top_heavy_minimum') }} as top_heavy
    on corrections.scenario_id = top_heavy.scenario_id and corrections.employee_id = top_heavy.employee_id
left join {{ planalign_this_year('int_employer_contribution_accounts') }} as accounts
    on corrections.scenario_id = accounts.scenario_id and corrections.employee_id = accounts.employee_id
inner join {{ ref('int_effective_parameters') }} as params on corrections.scenario_id = params.scenario_id
left join deferrals_to_date
    on corrections.scenario_id = deferrals_to_date.scenario_id
    and corrections.employee_id = deferrals_to_date.employee_id
