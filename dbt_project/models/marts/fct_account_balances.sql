{#-
  Participant account balances (issue #20), one row per scenario, employee and year: everyone employed in
  the year (int_employer_contribution_accounts' population: actives, leavers, hires) and every former
  employee who left money in the plan ('former'). Methodology and sources: docs/methodology.md.

      closing_balance = opening_balance + employee_contributions + employer_contributions
                        + investment_return - distributions - forfeitures          (exactly, in cents)

  - Opening: last year's closing balance (int_account_balances_previous_year), by source; in the first
    year the census's optional opening_balance (employee source, vested), else 0.
  - Contributions: the year's deferrals (int_employee_contributions.employee_contribution) less the ADP
    refund, and employer match + core (via int_employer_contribution_accounts: after the match forfeited on
    refunded deferrals and the ACP refund; int_nondiscrimination_corrections).
  - Return: per source, round(opening x r + contributions x r_half, 2) with the year's r of the seed
    (int_effective_account_balance_parameters; contributions arrive on average at mid-year). Leavers'
    money earns the whole year's return: distributions and forfeitures are made at December 31.
  - Forfeiture: a leaver's unvested share of the employer-source money (with its return), at the vested
    share of int_employer_contribution_accounts; with no return and no census balances it is exactly that
    model's forfeiture. Issue #23 item 7: by default in the year of termination (the model's distribution
    date); with vesting_forfeiture_timing five_year_break the unvested part stays in the account
    (unvested_balance, earning returns, not in vested_balance, never distributed) and is forfeited on
    December 31 of the fifth year after the year of termination (IRC 411(a)(6)(C)).
  - Distribution: a leaver's vested balance leaves the plan as a cash-out or a rollover, or stays, by size:
    up to account_balances_cash_out_limit cash; up to account_balances_involuntary_limit (SECURE 2.0
    section 304: $7,000) a forced distribution, cash with probability account_balances_small_cash_out_share
    else rolled over; above it cash / rollover / stay with account_balances_cash_out_share and
    account_balances_rollover_share. One uniform draw per seed, employee and year decides (common random
    numbers). Money that stays is the former employee's, fully vested, and earns returns in later years.
  - vested_balance: the part of the closing balance that is the employee's: employee money plus the vested
    share of the employer money for an active; the whole closing balance for a leaver or former employee.
-#}
{%- set year = var('simulation_year') | int %}
with params as (
    select * from {{ ref('int_effective_account_balance_parameters') }}
    where account_balances_enabled
),

employed as (
    select * from {{ planalign_this_year('int_employer_contribution_accounts') }}
),

{#- the deferrals kept: an ADP refund leaves the plan (int_nondiscrimination_corrections) -#}
deferrals as (
    select
        contributions.scenario_id,
        contributions.employee_id,
        contributions.employee_contribution - coalesce(corrections.adp_refund, 0) as employee_contribution
    from {{ planalign_this_year('int_employee_contributions') }} as contributions
    left join {{ planalign_this_year('int_nondiscrimination_corrections') }} as corrections
        on contributions.scenario_id = corrections.scenario_id and contributions.employee_id = corrections.employee_id
),

opening as (
    select * from {{ ref('int_account_balances_previous_year') }}
),

population as (
    select
        employed.scenario_id,
        employed.employee_id,
        employed.employment_status,
        employed.vested_share,
        coalesce(deferrals.employee_contribution, 0) as employee_contributions,
        employed.employer_match + employed.employer_core_contribution as employer_contributions
    from employed
    left join deferrals on employed.scenario_id = deferrals.scenario_id and employed.employee_id = deferrals.employee_id
    union all
    select
        opening.scenario_id,
        opening.employee_id,
        'former' as employment_status,
        cast(1 as double) as vested_share,
        cast(0 as decimal(18, 2)) as employee_contributions,
        cast(0 as decimal(18, 2)) as employer_contributions
    from opening
    left join employed on opening.scenario_id = employed.scenario_id and opening.employee_id = employed.employee_id
    where employed.employee_id is null
),

grown as (
    select
        population.*,
        params.annual_return,
        params.distributions_enabled,
        params.cash_out_limit,
        params.involuntary_limit,
        params.small_cash_out_share,
        params.cash_out_share,
        params.rollover_share,
        plan.forfeiture_after_five_breaks,
        coalesce(opening.fifth_break, false) as fifth_break,
        cast(coalesce(opening.unvested_balance, 0)
            + round(coalesce(opening.unvested_balance, 0) * params.annual_return, 2)
            as decimal(18, 2)) as unvested_money,
        {{ planalign_uniform('leaver_distribution', 'population.employee_id', 'params.random_seed') }} as u,
        cast(coalesce(opening.employee_source_balance, 0) as decimal(18, 2)) as employee_opening,
        cast(coalesce(opening.employer_source_balance, 0) as decimal(18, 2)) as employer_opening,
        cast(round(coalesce(opening.employee_source_balance, 0) * params.annual_return
            + population.employee_contributions * params.half_year_return, 2) as decimal(18, 2)) as employee_return,
        cast(round(coalesce(opening.employer_source_balance, 0) * params.annual_return
            + population.employer_contributions * params.half_year_return, 2) as decimal(18, 2)) as employer_return
    from population
    inner join params on population.scenario_id = params.scenario_id
    inner join {{ ref('int_effective_parameters') }} as plan on population.scenario_id = plan.scenario_id
    left join opening on population.scenario_id = opening.scenario_id and population.employee_id = opening.employee_id
),

before_leaving as (
    select
        *,
        employee_opening + employee_contributions + employee_return as employee_money,
        employer_opening + employer_contributions + employer_return as employer_money
    from grown
),

forfeited as (
    select
        *,
        cast(case
            when employment_status = 'terminated' and not forfeiture_after_five_breaks
                then employer_money - round(employer_money * vested_share, 2)
            when employment_status = 'former' and fifth_break then unvested_money
            else 0 end as decimal(18, 2)) as forfeitures,
        cast(case
            when employment_status = 'terminated' and forfeiture_after_five_breaks
                then employer_money - round(employer_money * vested_share, 2)
            when employment_status = 'former' and not fifth_break then unvested_money
            else 0 end as decimal(18, 2)) as held_unvested
    from before_leaving
),

decided as (
    select
        *,
        employee_money + employer_money - forfeitures - held_unvested as leaver_vested,
        case
            when employment_status <> 'terminated' then null
            when employee_money + employer_money - forfeitures - held_unvested <= 0 then null
            when not distributions_enabled then 'stay'
            when employee_money + employer_money - forfeitures - held_unvested <= cash_out_limit then 'cash_out'
            when employee_money + employer_money - forfeitures - held_unvested <= involuntary_limit
                then case when u < small_cash_out_share then 'cash_out' else 'rollover' end
            when u < cash_out_share then 'cash_out'
            when u < cash_out_share + rollover_share then 'rollover'
            else 'stay'
        end as distribution_type
    from forfeited
),

settled as (
    select
        *,
        cast(case when distribution_type in ('cash_out', 'rollover') then leaver_vested else 0 end
            as decimal(18, 2)) as distributions
    from decided
)

select
    cast(scenario_id as varchar) as scenario_id,
    cast(employee_id as varchar) as employee_id,
    cast({{ year }} as integer) as simulation_year,
    cast(employment_status as varchar) as employment_status,
    cast(employee_opening + employer_opening as decimal(18, 2)) as opening_balance,
    cast(employee_contributions as decimal(18, 2)) as employee_contributions,
    cast(employer_contributions as decimal(18, 2)) as employer_contributions,
    cast(employee_return + employer_return as decimal(18, 2)) as investment_return,
    cast(distributions as decimal(18, 2)) as distributions,
    cast(forfeitures as decimal(18, 2)) as forfeitures,
    cast(employee_money + employer_money - forfeitures - distributions as decimal(18, 2)) as closing_balance,
    cast(case
        when employment_status = 'active' then employee_money + round(employer_money * vested_share, 2)
        else employee_money + employer_money - forfeitures - distributions - held_unvested
    end as decimal(18, 2)) as vested_balance,
    cast(vested_share as double) as vested_share,
    cast(annual_return as double) as annual_return,
    cast(distribution_type as varchar) as distribution_type,
    cast(case when distribution_type = 'cash_out' then distributions else 0 end as decimal(18, 2)) as cash_outs,
    cast(case when distributions > 0 then held_unvested else employer_money - forfeitures end as decimal(18, 2))
        as employer_source_closing_balance,
    cast(held_unvested as decimal(18, 2)) as unvested_balance
from settled
