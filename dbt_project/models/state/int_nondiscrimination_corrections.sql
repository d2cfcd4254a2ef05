{#-
  The year's ADP and ACP tests and their corrections in the order of the regulations, one row per employee
  employed in the year (docs/methodology.md, "Statutory rules (issue #23)").
  * HCE (IRC 414(q)): look-back compensation (pay received in Y - 1: the previous year's prorated pay; in
    the first simulated year the census's optional prior_year_compensation, else its pay rate) above hce_compensation_limit (the limit of Y - 1); with
    hce_top_paid_group, also in the top round(20%) of the start-of-year actives by look-back compensation.
    Hires of the year have no look-back compensation and are NHCEs unless owners. A census employee owning more
    than 5% (ownership_share) is an HCE whatever the pay (414(q)(1)(A)); IRC 318 attribution is not modelled.
  * ADP (current-year testing): deferral ratio = deferrals without catch-up / test compensation (each ratio
    and each group's average to the nearest 0.01%, Treas. Reg. 1.401(k)-2(a)(3)(ii), 1.401(m)-2(a)(3)(ii)), test
    compensation = pay received in the year capped at 401(a)(17) (0 ratios for 0 pay), over the eligible
    employees (entered the plan by December 31, participants or not). A failed test is corrected by the
    levelling of planalign_levelled_corrections (Treas. Reg. 1.401(k)-2(b)(2)): adp_excess per HCE.
  * Catch-up (IRC 414(v); Treas. Reg. 1.414(v)-1(b)(1)(iii) and (d), see the methodology): the excess of an HCE eligible for catch-up
    (age catch_up_age by December 31) is recharacterized as catch-up up to the catch-up limit the
    employee has not used (int_employee_contributions.contribution_limit - the 402(g) limit - the catch-up
    already made); only the rest is refunded (adp_refund).
  * Match on refunded deferrals (Treas. Reg. 1.401(m)-2(a)(5)(ii), 1.411(a)-4(b)(7)): forfeited. It is the
    match less the plan's formula on the deferrals kept (contribution - adp_refund, annual formula of
    int_employee_match_calculations), never below 0 nor above the match.
  * ACP on the match that remains (1.401(m)-2(a)(5)(ii)): contribution ratio = (match - forfeited) / test
    compensation; a failed test is corrected by the same levelling (1.401(m)-2(b)(2)). The excess aggregate
    contributions are distributed only as far as they are vested, the rest is forfeited (IRC 401(m)(6)(A):
    "distributed (or, if forfeitable, ... forfeited)"; issue #23 item 7): acp_refund = the excess x the
    HCE's vested share (planalign_vested_share, the share int_employer_contribution_accounts uses), to the
    cent; acp_forfeited = the rest.
  * Prior-year testing (nondiscrimination_testing_method = 1; IRC 401(k)(3)(A); Treas. Reg.
    1.401(k)-2(a)(2)(ii)): both limits are computed on the previous year's NHCE averages
    (int_nondiscrimination_benchmarks; the current year's in the first simulated year).
  * Safe harbor (safe_harbor_type > 0; IRC 401(k)(12), 401(m)(11)): the ADP test is deemed passed, and the
    ACP test for the basic and enhanced match designs: no correction.
  The corrections are applied to the money (fct_workforce_snapshot, int_employer_contribution_accounts,
  fct_account_balances, rpt_yearly_summary).
-#}
-- depends_on: {{ ref('stg_census_data') }}
{%- set year = var('simulation_year') | int %}
with params as (
    select * from {{ ref('int_effective_parameters') }}
),

snapshot as (
    select * from {{ planalign_this_year('int_workforce_snapshot_optimized') }}
),

nhce_benchmarks as (
    select benchmarks.*
    from {{ ref('int_nondiscrimination_benchmarks') }} as benchmarks
    inner join {{ ref('int_effective_parameters') }} as elected
        on benchmarks.scenario_id = elected.scenario_id and elected.prior_year_testing
),

lookback as (
    select scenario_id, employee_id, prior_year_compensation as lookback_compensation
    from {{ ref('int_prior_year_compensation') }}
),

top_paid as (
    select
        scenario_id,
        employee_id,
        lookback_compensation,
        row_number() over (partition by scenario_id order by lookback_compensation desc, employee_id asc)
            <= round(0.2 * count(*) over (partition by scenario_id)) as in_top_paid_group
    from lookback
),

employees as (
    select
        snapshot.scenario_id,
        snapshot.employee_id,
        snapshot.employment_status,
        coalesce(top_paid.lookback_compensation, 0) as lookback_compensation,
        {#- IRC 414(q)(1)(A): a more-than-5% owner (the census's ownership_share; hires own nothing) is an HCE
            whatever the pay; (B): pay above the limit, in the top-paid group when the plan elects it -#}
        coalesce(owners.ownership_share, 0) > 0.05
            or (coalesce(top_paid.lookback_compensation, 0) > params.hce_compensation_limit
                and (not params.hce_top_paid_group or coalesce(top_paid.in_top_paid_group, false))) as is_hce,
        snapshot.eligibility_date <= params.year_end as is_eligible,
        contributions.annual_plan_compensation as test_compensation,
        contributions.employee_contribution,
        contributions.employee_contribution - contributions.catch_up_contribution as adp_deferral,
        greatest(0, contributions.contribution_limit - params.elective_deferral_limit
            - contributions.catch_up_contribution) as unused_catch_up,
        contributions.plan_compensation,
        money.match_eligible_compensation,
        money.employer_match,
        params.match_cap_rate,
        {{ planalign_vested_share('snapshot', 'params') }} as vested_share,
        {#- IRC 401(k)(12), 401(m)(11): a safe-harbor design is deemed to pass the ADP test, and the ACP test for
            the two match designs (whose match meets 401(m)(11)(B)) -#}
        params.safe_harbor_type > 0 as adp_safe_harbor,
        params.safe_harbor_type in (1, 2) as acp_safe_harbor,
        {#- to the nearest 0.01% (Treas. Reg. 1.401(k)-2(a)(3)(ii)) -#}
        round(cast(case when contributions.annual_plan_compensation > 0
            then (contributions.employee_contribution - contributions.catch_up_contribution)
                / contributions.annual_plan_compensation else 0 end as decimal(20, 12)), 4) as deferral_ratio
    from snapshot
    inner join params on snapshot.scenario_id = params.scenario_id
    left join top_paid on snapshot.scenario_id = top_paid.scenario_id and snapshot.employee_id = top_paid.employee_id
    left join {{ ref('stg_census_data') }} as owners
        on snapshot.scenario_id = owners.scenario_id and snapshot.employee_id = owners.employee_id
    inner join {{ planalign_this_year('int_employee_contributions') }} as contributions
        on snapshot.scenario_id = contributions.scenario_id and snapshot.employee_id = contributions.employee_id
    inner join {{ planalign_this_year('int_employee_match_calculations') }} as money
        on snapshot.scenario_id = money.scenario_id and snapshot.employee_id = money.employee_id
),

{#- ratios are decimals (12 places) so that every sum is exact and the same in any row order -#}
adp_tested as (
    select scenario_id, 'adp' as test, employee_id, is_hce, adp_deferral as amount, test_compensation,
        deferral_ratio as ratio
    from employees where is_eligible and not adp_safe_harbor
),

{{ planalign_levelled_corrections('adp_tested', 'adp', 'nhce_benchmarks') }},

adp_corrected as (
    select
        employees.*,
        coalesce(adp_refunds.refund, 0) as adp_excess,
        least(coalesce(adp_refunds.refund, 0), employees.unused_catch_up) as catch_up_recharacterized,
        coalesce(adp_refunds.refund, 0) - least(coalesce(adp_refunds.refund, 0), employees.unused_catch_up)
            as adp_refund
    from employees
    left join adp_refunds on employees.scenario_id = adp_refunds.scenario_id
        and employees.employee_id = adp_refunds.employee_id
),

{#- the plan's (annual) match formula on the deferrals kept -#}
kept_match as (
    select
        corrected.scenario_id,
        corrected.employee_id,
        coalesce(sum(
            tiers.match_rate * greatest(0, least(
                case when corrected.plan_compensation > 0
                    then (corrected.employee_contribution - corrected.adp_refund) / corrected.plan_compensation
                    else 0 end, tiers.employee_max) - tiers.employee_min)
        ), 0) as kept_match_rate_of_pay
    from adp_corrected as corrected
    left join {{ ref('int_effective_match_tiers') }} as tiers on corrected.scenario_id = tiers.scenario_id
    where corrected.adp_refund > 0
    group by corrected.scenario_id, corrected.employee_id
),

forfeited as (
    select
        corrected.*,
        case when corrected.adp_refund > 0 then corrected.employer_match - least(corrected.employer_match,
            round(least(kept_match.kept_match_rate_of_pay, corrected.match_cap_rate)
                * corrected.match_eligible_compensation, 2))
            else 0 end as match_forfeited
    from adp_corrected as corrected
    left join kept_match
        on corrected.scenario_id = kept_match.scenario_id and corrected.employee_id = kept_match.employee_id
),

acp_tested as (
    select
        scenario_id, 'acp' as test, employee_id, is_hce, employer_match - match_forfeited as amount,
        test_compensation,
        {#- to the nearest 0.01% (Treas. Reg. 1.401(m)-2(a)(3)(ii)) -#}
        round(cast(case when test_compensation > 0 then (employer_match - match_forfeited) / test_compensation
            else 0 end as decimal(20, 12)), 4) as ratio
    from forfeited where is_eligible and not acp_safe_harbor
),

{{ planalign_levelled_corrections('acp_tested', 'acp', 'nhce_benchmarks') }}

select
    cast(forfeited.scenario_id as varchar) as scenario_id,
    cast(forfeited.employee_id as varchar) as employee_id,
    cast({{ year }} as integer) as simulation_year,
    cast(forfeited.employment_status as varchar) as employment_status,
    cast(forfeited.lookback_compensation as decimal(18, 2)) as lookback_compensation,
    forfeited.is_hce,
    forfeited.is_eligible,
    cast(forfeited.test_compensation as decimal(18, 2)) as test_compensation,
    cast(forfeited.adp_deferral as decimal(18, 2)) as adp_deferral,
    cast(forfeited.deferral_ratio as decimal(20, 12)) as deferral_ratio,
    cast(forfeited.adp_excess as decimal(18, 2)) as adp_excess,
    cast(forfeited.catch_up_recharacterized as decimal(18, 2)) as catch_up_recharacterized,
    cast(forfeited.adp_refund as decimal(18, 2)) as adp_refund,
    cast(forfeited.employer_match as decimal(18, 2)) as employer_match,
    cast(forfeited.match_forfeited as decimal(18, 2)) as match_forfeited,
    cast(round(cast(case when forfeited.test_compensation > 0
        then (forfeited.employer_match - forfeited.match_forfeited) / forfeited.test_compensation else 0 end
        as decimal(20, 12)), 4) as decimal(20, 12)) as contribution_ratio,
    cast(round(coalesce(acp_refunds.refund, 0) * forfeited.vested_share, 2) as decimal(18, 2)) as acp_refund,
    cast(coalesce(acp_refunds.refund, 0) - round(coalesce(acp_refunds.refund, 0) * forfeited.vested_share, 2)
        as decimal(18, 2)) as acp_forfeited
from forfeited
left join acp_refunds
    on forfeited.scenario_id = acp_refunds.scenario_id and forfeited.employee_id = acp_refunds.employee_id
