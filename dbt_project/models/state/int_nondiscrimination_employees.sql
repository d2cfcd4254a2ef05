{#-
  Nondiscrimination testing, one row per employee employed in the year (README: "Nondiscrimination").
  * HCE (IRC 414(q)): look-back compensation (pay received in Y - 1: the previous year's prorated pay; in
    the first simulated year the census pay rate) above hce_compensation_limit (the limit of Y - 1); with
    hce_top_paid_group, also in the top round(20%) of the start-of-year actives by look-back compensation.
    Hires of the year have no look-back compensation and are NHCEs. No owners are modelled.
  * ADP / ACP (current-year testing): deferral ratio = deferrals without catch-up / test compensation,
    contribution ratio = match / test compensation, test compensation = pay received in the year capped at
    401(a)(17) (0 ratios for 0 pay), over the eligible employees (entered the plan by December 31,
    participants or not).
  * Corrections when a test fails (Treas. Reg. 1.401(k)-2(b)(2), 1.401(m)-2(b)(2)): the total excess is found
    by levelling the HCEs' ratios down from the highest to the level L at which the HCE average equals the
    test's limit; it is refunded by levelling the HCEs' dollar amounts down from the highest to the level D
    whose excess over it is that total. Reported, not applied to the contributions.
  * Key employee (top-heavy, IRC 416(i), simplified): pay received in the year above
    key_employee_compensation_limit (every such employee counts as an officer; no owners). Account balance:
    the employee's deferrals since start_year plus the employer account balance (no investment returns).
-#}
{%- set year = var('simulation_year') | int %}
{%- set start_year = var('start_year') | int %}
with params as (
    select * from {{ ref('int_effective_parameters') }}
),

snapshot as (
    select * from {{ planalign_this_year('int_workforce_snapshot_optimized') }}
),

lookback as (
    select
        actives.scenario_id,
        actives.employee_id,
{%- if year > start_year %}
        coalesce(prior.prorated_compensation, 0) as lookback_compensation
    from {{ ref('int_active_employees_prev_year_snapshot') }} as actives
    left join (
        select scenario_id, employee_id, prorated_compensation
        from {{ ref('fct_workforce_snapshot') }}
        where simulation_year = {{ year - 1 }} and {{ planalign_in_build() }}
    ) as prior on actives.scenario_id = prior.scenario_id and actives.employee_id = prior.employee_id
{%- else %}
        actives.annual_compensation as lookback_compensation
    from {{ ref('int_active_employees_prev_year_snapshot') }} as actives
{%- endif %}
),

top_paid as (
    select
        scenario_id,
        employee_id,
        lookback_compensation,
        row_number() over (partition by scenario_id order by lookback_compensation desc, employee_id)
            <= round(0.2 * count(*) over (partition by scenario_id)) as in_top_paid_group
    from lookback
),

employees as (
    select
        snapshot.scenario_id,
        snapshot.employee_id,
        snapshot.employment_status,
        coalesce(top_paid.lookback_compensation, 0) as lookback_compensation,
        coalesce(top_paid.lookback_compensation, 0) > params.hce_compensation_limit
            and (not params.hce_top_paid_group or coalesce(top_paid.in_top_paid_group, false)) as is_hce,
        snapshot.eligibility_date <= params.year_end as is_eligible,
        contributions.annual_plan_compensation as test_compensation,
        contributions.employee_contribution - contributions.catch_up_contribution as adp_deferral,
        money.employer_match,
        snapshot.prorated_compensation > params.key_employee_compensation_limit as is_key_employee,
        coalesce(accounts.balance, 0) as employer_balance
    from snapshot
    inner join params on snapshot.scenario_id = params.scenario_id
    left join top_paid on snapshot.scenario_id = top_paid.scenario_id and snapshot.employee_id = top_paid.employee_id
    inner join {{ planalign_this_year('int_employee_contributions') }} as contributions
        on snapshot.scenario_id = contributions.scenario_id and snapshot.employee_id = contributions.employee_id
    inner join {{ planalign_this_year('int_employee_match_calculations') }} as money
        on snapshot.scenario_id = money.scenario_id and snapshot.employee_id = money.employee_id
    left join {{ planalign_this_year('int_employer_contribution_accounts') }} as accounts
        on snapshot.scenario_id = accounts.scenario_id and snapshot.employee_id = accounts.employee_id
),

{#- both tests in one long relation: (scenario, test, employee, is_hce, ratio, amount, compensation). Ratios are
    decimals (12 places) so that every sum below is exact and the same in any row order. -#}
ratios as (
    select
        *,
        cast(case when test_compensation > 0 then adp_deferral / test_compensation else 0 end
            as decimal(20, 12)) as deferral_ratio,
        cast(case when test_compensation > 0 then employer_match / test_compensation else 0 end
            as decimal(20, 12)) as contribution_ratio
    from employees
),

tested as (
    select scenario_id, 'adp' as test, employee_id, is_hce, adp_deferral as amount, test_compensation,
        deferral_ratio as ratio
    from ratios where is_eligible
    union all
    select scenario_id, 'acp', employee_id, is_hce, employer_match, test_compensation, contribution_ratio
    from ratios where is_eligible
),

averages as (
    select
        scenario_id,
        test,
        cast(sum(ratio) filter (where not is_hce) as double)
            / nullif(count(*) filter (where not is_hce), 0) as nhce_average,
        cast(sum(ratio) filter (where is_hce) as double) / nullif(count(*) filter (where is_hce), 0)
            as hce_average,
        count(*) filter (where is_hce) as hces
    from tested
    group by scenario_id, test
),

limits as (
    select
        *,
        greatest(1.25 * nhce_average, least(nhce_average + 0.02, 2 * nhce_average)) as hce_limit,
        coalesce(hce_average <= greatest(1.25 * nhce_average, least(nhce_average + 0.02, 2 * nhce_average)), true)
            as passed
    from averages
),

hces as (
    select tested.*, limits.hce_limit, limits.hces
    from tested
    inner join limits on tested.scenario_id = limits.scenario_id and tested.test = limits.test
    where tested.is_hce and not limits.passed
),

{#- step 1: the ratio level L at which the HCE average equals the limit -#}
ratio_breakpoints as (
    select scenario_id, test, ratio as level from hces
    union
    select distinct scenario_id, test, cast(0 as decimal(20, 12)) from hces
),

ratio_sums as (
    select
        breakpoints.scenario_id,
        breakpoints.test,
        breakpoints.level,
        cast(sum(least(hces.ratio, breakpoints.level)) as double) as capped_sum,
        count(*) filter (where hces.ratio > breakpoints.level) as above,
        max(hces.hces * hces.hce_limit) as target
    from ratio_breakpoints as breakpoints
    inner join hces on breakpoints.scenario_id = hces.scenario_id and breakpoints.test = hces.test
    group by breakpoints.scenario_id, breakpoints.test, breakpoints.level
),

ratio_levels as (
    select scenario_id, test, level + (target - capped_sum) / above as ratio_level
    from (
        select *, row_number() over (partition by scenario_id, test order by level desc) as pick
        from ratio_sums
        where capped_sum <= target and above > 0
    ) as candidates
    where pick = 1
),

excess as (
    select
        hces.scenario_id,
        hces.test,
        {#- each employee's excess in whole cents first (exact decimals), then the sum -#}
        sum(cast(greatest(0, hces.ratio - ratio_levels.ratio_level) * hces.test_compensation as decimal(18, 2)))
            as excess_total
    from hces
    inner join ratio_levels on hces.scenario_id = ratio_levels.scenario_id and hces.test = ratio_levels.test
    group by hces.scenario_id, hces.test
),

{#- step 2: the dollar level D whose excess over it is the total -#}
amount_breakpoints as (
    select scenario_id, test, amount as level from hces
    union
    select distinct scenario_id, test, cast(0 as decimal(18, 2)) from hces
),

amount_sums as (
    select
        breakpoints.scenario_id,
        breakpoints.test,
        breakpoints.level,
        sum(greatest(0, hces.amount - breakpoints.level)) as excess_above,
        count(*) filter (where hces.amount >= breakpoints.level) as at_or_above
    from amount_breakpoints as breakpoints
    inner join hces on breakpoints.scenario_id = hces.scenario_id and breakpoints.test = hces.test
    group by breakpoints.scenario_id, breakpoints.test, breakpoints.level
),

amount_levels as (
    select candidates.scenario_id, candidates.test, candidates.level - (excess.excess_total - candidates.excess_above)
        / candidates.at_or_above as amount_level
    from (
        select
            amount_sums.*,
            row_number() over (
                partition by amount_sums.scenario_id, amount_sums.test order by amount_sums.level
            ) as pick
        from amount_sums
        inner join excess on amount_sums.scenario_id = excess.scenario_id and amount_sums.test = excess.test
        where amount_sums.excess_above <= excess.excess_total
    ) as candidates
    inner join excess on candidates.scenario_id = excess.scenario_id and candidates.test = excess.test
    where candidates.pick = 1
),

refunds as (
    select
        hces.scenario_id,
        hces.test,
        hces.employee_id,
        round(greatest(0, hces.amount - amount_levels.amount_level), 2) as refund
    from hces
    inner join amount_levels on hces.scenario_id = amount_levels.scenario_id and hces.test = amount_levels.test
),

deferrals_to_date as (
    select scenario_id, employee_id, sum(employee_contribution) as employee_balance
    from {{ ref('fct_workforce_snapshot') }}
    where simulation_year <= {{ year }} and {{ planalign_in_build() }}
    group by scenario_id, employee_id
)

select
    cast(employees.scenario_id as varchar) as scenario_id,
    cast(employees.employee_id as varchar) as employee_id,
    cast({{ year }} as integer) as simulation_year,
    cast(employees.employment_status as varchar) as employment_status,
    cast(employees.lookback_compensation as decimal(18, 2)) as lookback_compensation,
    employees.is_hce,
    employees.is_eligible,
    cast(employees.test_compensation as decimal(18, 2)) as test_compensation,
    cast(employees.adp_deferral as decimal(18, 2)) as adp_deferral,
    employees.deferral_ratio,
    cast(employees.employer_match as decimal(18, 2)) as employer_match,
    employees.contribution_ratio,
    cast(coalesce(adp_refunds.refund, 0) as decimal(18, 2)) as adp_refund,
    cast(coalesce(acp_refunds.refund, 0) as decimal(18, 2)) as acp_refund,
    employees.is_key_employee,
    cast(coalesce(deferrals_to_date.employee_balance, 0) + employees.employer_balance as decimal(18, 2))
        as account_balance
from ratios as employees
left join (select * from refunds where test = 'adp') as adp_refunds
    on employees.scenario_id = adp_refunds.scenario_id and employees.employee_id = adp_refunds.employee_id
left join (select * from refunds where test = 'acp') as acp_refunds
    on employees.scenario_id = acp_refunds.scenario_id and employees.employee_id = acp_refunds.employee_id
left join deferrals_to_date
    on employees.scenario_id = deferrals_to_date.scenario_id and employees.employee_id = deferrals_to_date.employee_id
