{#- Account balances per scenario and simulation year (issue #20): the totals of fct_account_balances, the
    year's return and what leavers did with their money, for the run and comparison reports. One row per
    scenario (from the parameters, so a scenario whose table is switched off has its row, with zeros). -#}
{%- set year = var('simulation_year') | int %}
with params as (
    select * from {{ ref('int_effective_account_balance_parameters') }}
),

balances as (
    select * from {{ planalign_this_year('fct_account_balances') }}
),

totals as (
    select
        params.scenario_id,
        params.account_balances_enabled,
        params.annual_return,
        count(balances.employee_id) filter (where balances.closing_balance > 0) as accounts_with_balance,
        count(balances.employee_id) filter (where balances.employment_status = 'former') as former_employees,
        coalesce(sum(balances.opening_balance), 0) as opening_balance,
        coalesce(sum(balances.employee_contributions), 0) as employee_contributions,
        coalesce(sum(balances.employer_contributions), 0) as employer_contributions,
        coalesce(sum(balances.investment_return), 0) as investment_return,
        coalesce(sum(balances.distributions), 0) as distributions,
        coalesce(sum(balances.cash_outs), 0) as cash_outs,
        coalesce(sum(balances.forfeitures), 0) as forfeitures,
        coalesce(sum(balances.closing_balance), 0) as closing_balance,
        coalesce(sum(balances.vested_balance), 0) as vested_balance,
        count(balances.employee_id) filter (where balances.employment_status = 'terminated') as leavers,
        count(balances.employee_id) filter (where balances.distribution_type = 'cash_out') as leavers_cashed_out,
        count(balances.employee_id) filter (where balances.distribution_type = 'rollover') as leavers_rolled_over,
        count(balances.employee_id) filter (where balances.distribution_type = 'stay') as leavers_stayed
    from params
    left join balances on params.scenario_id = balances.scenario_id
    group by params.scenario_id, params.account_balances_enabled, params.annual_return
)

select
    cast(scenario_id as varchar) as scenario_id,
    cast({{ year }} as integer) as simulation_year,
    account_balances_enabled,
    cast(annual_return as double) as annual_return,
    cast(accounts_with_balance as integer) as accounts_with_balance,
    cast(former_employees as integer) as former_employees,
    cast(opening_balance as decimal(18, 2)) as opening_balance,
    cast(employee_contributions as decimal(18, 2)) as employee_contributions,
    cast(employer_contributions as decimal(18, 2)) as employer_contributions,
    cast(investment_return as decimal(18, 2)) as investment_return,
    cast(distributions as decimal(18, 2)) as distributions,
    cast(cash_outs as decimal(18, 2)) as cash_outs,
    cast(distributions - cash_outs as decimal(18, 2)) as rollovers,
    cast(forfeitures as decimal(18, 2)) as forfeitures,
    cast(closing_balance as decimal(18, 2)) as closing_balance,
    cast(vested_balance as decimal(18, 2)) as vested_balance,
    cast(leavers as integer) as leavers,
    cast(leavers_cashed_out as integer) as leavers_cashed_out,
    cast(leavers_rolled_over as integer) as leavers_rolled_over,
    cast(leavers_stayed as integer) as leavers_stayed
from totals
