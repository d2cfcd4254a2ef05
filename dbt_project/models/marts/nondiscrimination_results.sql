{#-
  The year's nondiscrimination tests, one row per scenario (README: "Nondiscrimination"): HCE count, the ADP and ACP
  tests (NHCE and HCE averages over eligible employees, the HCE limit
  max(1.25 x NHCE, min(NHCE + 2 points, 2 x NHCE)), pass/fail, the total excess found by levelling the HCE
  ratios and the refunds the dollar levelling gives each HCE) and the top-heavy status (key employees'
  share of the account balances above 60%, as of December 31: it governs the next plan year). The ADP
  refunds are after the catch-up recharacterization, the ACP test and refunds after the match forfeited on
  the refunded deferrals (int_nondiscrimination_corrections), both totalled here.
  With account_balances_top_heavy (issue #20; off by default, so the results are today's), the balances are
  fct_account_balances': each closing balance plus the year's distributions (IRC 416(g)(3)(A): distributions
  on separation in the 1-year period ending on the determination date are added back) of everyone employed
  in the year; former employees who performed no services in the year are left out (IRC 416(g)(4)(E)).
-#}
{%- set year = var('simulation_year') | int %}
with nhce_benchmarks as (
    select benchmarks.*
    from {{ ref('int_nondiscrimination_benchmarks') }} as benchmarks
    inner join {{ ref('int_effective_parameters') }} as elected
        on benchmarks.scenario_id = elected.scenario_id and elected.prior_year_testing
),

employees as (
    select * from {{ planalign_this_year('int_nondiscrimination_employees') }}
),

params as (
    select * from {{ ref('int_effective_parameters') }}
),

{#- per scenario of params (one row each), so a scenario without employees still gets its row (each filter
    is false on the null row of the left join) -#}
tests as (
    select
        params.scenario_id,
        count(*) filter (where is_eligible and is_hce) as eligible_hces,
        count(*) filter (where is_eligible and not is_hce) as eligible_nhces,
        count(*) filter (where is_hce) as hces,
        {#- averages to the nearest 0.01% (planalign_average_basis_points), in basis points -#}
        {{ planalign_average_basis_points('deferral_ratio', 'is_eligible and not is_hce') }} as nhce_adp_bp,
        {{ planalign_average_basis_points('deferral_ratio', 'is_eligible and is_hce') }} as hce_adp_bp,
        {{ planalign_average_basis_points('contribution_ratio', 'is_eligible and not is_hce') }} as nhce_acp_bp,
        {{ planalign_average_basis_points('contribution_ratio', 'is_eligible and is_hce') }} as hce_acp_bp,
        coalesce(sum(adp_refund), 0) as adp_refunds,
        count(*) filter (where adp_refund > 0) as adp_refunded_hces,
        coalesce(sum(acp_refund), 0) as acp_refunds,
        count(*) filter (where acp_refund + acp_forfeited > 0) as acp_refunded_hces,
        coalesce(sum(acp_forfeited), 0) as acp_forfeited,
        coalesce(sum(catch_up_recharacterized), 0) as catch_up_recharacterized,
        coalesce(sum(match_forfeited), 0) as match_forfeited,
        count(*) filter (where is_key_employee) as key_employees,
        coalesce(sum(account_balance) filter (where is_key_employee), 0) as key_employee_balances,
        coalesce(sum(account_balance), 0) as total_balances
    from params
    left join employees on params.scenario_id = employees.scenario_id
    group by params.scenario_id
),

{#- issue #20: the top-heavy balances from fct_account_balances, per scenario of params -#}
account_balances as (
    select
        switch.scenario_id,
        switch.account_balances_enabled and switch.account_balances_top_heavy as use_account_balances,
        coalesce(sum(balances.closing_balance + balances.distributions)
            filter (where employees.is_key_employee), 0) as key_employee_balances,
        coalesce(sum(balances.closing_balance + balances.distributions), 0) as total_balances
    from {{ ref('int_effective_account_balance_parameters') }} as switch
    left join {{ planalign_this_year('fct_account_balances') }} as balances
        on switch.scenario_id = balances.scenario_id and balances.employment_status <> 'former'
    left join employees
        on balances.scenario_id = employees.scenario_id and balances.employee_id = employees.employee_id
    group by switch.scenario_id, switch.account_balances_enabled, switch.account_balances_top_heavy
),

top_heavy as (
    select
        tests.scenario_id,
        case when account_balances.use_account_balances then account_balances.key_employee_balances
            else tests.key_employee_balances end as key_employee_balances,
        case when account_balances.use_account_balances then account_balances.total_balances
            else tests.total_balances end as total_balances
    from tests
    inner join account_balances on tests.scenario_id = account_balances.scenario_id
),

{#- issue #23 item 7: the NHCE averages the limits are computed on: the previous year's with prior-year
    testing (int_nondiscrimination_benchmarks), else this year's -#}
benchmarked as (
    select
        tests.*,
        coalesce(adp_benchmark.nhce_basis_points, tests.nhce_adp_bp) as adp_benchmark_bp,
        coalesce(acp_benchmark.nhce_basis_points, tests.nhce_acp_bp) as acp_benchmark_bp,
        adp_benchmark.nhce_basis_points is not null as adp_prior_year,
        acp_benchmark.nhce_basis_points is not null as acp_prior_year
    from tests
    left join nhce_benchmarks as adp_benchmark
        on tests.scenario_id = adp_benchmark.scenario_id and adp_benchmark.test = 'adp'
    left join nhce_benchmarks as acp_benchmark
        on tests.scenario_id = acp_benchmark.scenario_id and acp_benchmark.test = 'acp'
),

limited as (
    select
        benchmarked.*,
        nhce_adp_bp / 10000.0 as nhce_adp,
        hce_adp_bp / 10000.0 as hce_adp,
        nhce_acp_bp / 10000.0 as nhce_acp,
        hce_acp_bp / 10000.0 as hce_acp,
        greatest(1.25 * adp_benchmark_bp, least(adp_benchmark_bp + 200, 2 * adp_benchmark_bp)) / 10000.0
            as adp_hce_limit,
        greatest(1.25 * acp_benchmark_bp, least(acp_benchmark_bp + 200, 2 * acp_benchmark_bp)) / 10000.0
            as acp_hce_limit
    from benchmarked
)

select
    limited.scenario_id,
    cast({{ year }} as integer) as simulation_year,
    cast(params.hce_compensation_limit as decimal(18, 2)) as hce_compensation_limit,
    params.hce_top_paid_group,
    cast(hces as integer) as hces,
    cast(eligible_hces as integer) as eligible_hces,
    cast(eligible_nhces as integer) as eligible_nhces,
    cast(nhce_adp as double) as nhce_adp,
    cast(hce_adp as double) as hce_adp,
    cast(adp_hce_limit as double) as adp_hce_limit,
    {{ planalign_test_passed('hce_adp_bp', 'adp_benchmark_bp') }} or params.safe_harbor_type > 0 as adp_passed,
    cast(adp_refunds as decimal(18, 2)) as adp_refunds,
    cast(adp_refunded_hces as integer) as adp_refunded_hces,
    cast(nhce_acp as double) as nhce_acp,
    cast(hce_acp as double) as hce_acp,
    cast(acp_hce_limit as double) as acp_hce_limit,
    {{ planalign_test_passed('hce_acp_bp', 'acp_benchmark_bp') }} or params.safe_harbor_type in (1, 2) as acp_passed,
    cast(acp_refunds as decimal(18, 2)) as acp_refunds,
    cast(acp_refunded_hces as integer) as acp_refunded_hces,
    cast(params.key_employee_compensation_limit as decimal(18, 2)) as key_employee_compensation_limit,
    cast(key_employees as integer) as key_employees,
    cast(top_heavy.key_employee_balances as decimal(18, 2)) as key_employee_balances,
    cast(top_heavy.total_balances as decimal(18, 2)) as total_balances,
    cast(case when top_heavy.total_balances > 0
        then top_heavy.key_employee_balances / top_heavy.total_balances end as double) as key_employee_share,
    coalesce(top_heavy.key_employee_balances > 0.6 * top_heavy.total_balances, false) as is_top_heavy,
    cast(catch_up_recharacterized as decimal(18, 2)) as catch_up_recharacterized,
    cast(match_forfeited as decimal(18, 2)) as match_forfeited,
    cast(top_heavy_minimums.officer_cap as integer) as officer_cap,
    top_heavy_minimums.is_top_heavy_year,
    cast(top_heavy_minimums.top_heavy_minimum as decimal(18, 2)) as top_heavy_minimum,
    {#- issue #23: how each test is met: deemed passed by a safe-harbor design (a QACA's, IRC 401(k)(13) and
        401(m)(12), when safe_harbor_qaca), or run on the year's ratios -#}
    cast(case when params.safe_harbor_type > 0 and params.safe_harbor_qaca then 'QACA safe harbor'
        when params.safe_harbor_type > 0 then 'safe harbor' when limited.adp_prior_year then 'prior year'
        else 'current year' end as varchar)
        as adp_test_method,
    cast(case when params.safe_harbor_type in (1, 2) and params.safe_harbor_qaca then 'QACA safe harbor'
        when params.safe_harbor_type in (1, 2) then 'safe harbor' when limited.acp_prior_year then 'prior year'
        else 'current year' end as varchar)
        as acp_test_method,
    {#- issue #23 item 7: the unvested part of the ACP correction, forfeited (acp_refunds is the vested part
        distributed), and the NHCE averages each limit was computed on -#}
    cast(limited.acp_forfeited as decimal(18, 2)) as acp_forfeited,
    cast(limited.adp_benchmark_bp / 10000.0 as double) as adp_nhce_benchmark,
    cast(limited.acp_benchmark_bp / 10000.0 as double) as acp_nhce_benchmark
from limited
inner join params on limited.scenario_id = params.scenario_id
inner join top_heavy on limited.scenario_id = top_heavy.scenario_id
left join (
    select scenario_id, max(officer_cap) as officer_cap,
        max(case when is_top_heavy_year then 1 else 0 end) = 1 as is_top_heavy_year,
        sum(top_heavy_minimum) as top_heavy_minimum
    from {{ planalign_this_year('int_top_heavy_minimum') }}
    group by scenario_id
) as top_heavy_minimums on limited.scenario_id = top_heavy_minimums.scenario_id
