{#-
  Employer-money accounts (match + core) and vesting, one row per employee employed in the year. The opening
  balance is last year's closing balance of a start-of-year active (int_workforce_previous_year reads it
  back from this table; 0 in the first simulated year: the
  census carries no account balances, so only employer money contributed by the simulation is tracked;
  there are no investment returns). Years of service are completed years from hire to the termination date
  or December 31 (elapsed time); the vested share is the schedule's share for them
  (int_effective_vesting_schedule), or all of it from the plan's normal retirement age
  (normal_retirement_age, seed 65; IRC 411(a), 411(a)(8)); the model has no deaths or disabilities. A
  leaver forfeits the unvested part of the balance (issue #23 item 7, vesting_forfeiture_timing: in the year of
  termination, the model's distribution date, by default; with forfeiture after five one-year breaks the
  forfeiture column is 0 and rpt_yearly_summary counts the unvested part (balance - vested_balance of the
  leaver's row) in the fifth year after, IRC 411(a)(6)(C)); an active's balance
  is carried to next year. The match is what stays after the year's nondiscrimination corrections
  (int_nondiscrimination_corrections: the match forfeited on ADP-refunded deferrals and the ACP refund leave);
  the core contribution includes the top-heavy minimum (int_top_heavy_minimum).
-#}
{%- set year = var('simulation_year') | int %}
with snapshot as (
    select * from {{ planalign_this_year('int_workforce_snapshot_optimized') }}
),

money as (
    select
        calculated.scenario_id,
        calculated.employee_id,
        calculated.employer_match - coalesce(corrections.match_forfeited, 0) - coalesce(corrections.acp_refund, 0)
            - coalesce(corrections.acp_forfeited, 0) as employer_match,
        calculated.employer_core_contribution + coalesce(top_heavy.top_heavy_minimum, 0) as employer_core_contribution
    from {{ planalign_this_year('int_employee_match_calculations') }} as calculated
    left join {{ planalign_this_year('int_top_heavy_minimum') }} as top_heavy
        on calculated.scenario_id = top_heavy.scenario_id and calculated.employee_id = top_heavy.employee_id
    left join {{ planalign_this_year('int_nondiscrimination_corrections') }} as corrections
        on calculated.scenario_id = corrections.scenario_id and calculated.employee_id = corrections.employee_id
),

opening as (
    select scenario_id, employee_id, employer_account_balance as closing_balance
    from {{ ref('int_active_employees_prev_year_snapshot') }}
),

{#- full vesting at normal retirement age (IRC 411(a): the employee's right to the accrued benefit is
    nonforfeitable on reaching it): the age on the termination date, or on December 31 for an active -#}
vesting as (
    select
        snapshot.scenario_id,
        snapshot.employee_id,
        {{ planalign_vested_share('snapshot', 'params') }} as vested_share
    from snapshot
    inner join {{ ref('int_effective_parameters') }} as params on snapshot.scenario_id = params.scenario_id
),

accounts as (
    select
        snapshot.scenario_id,
        snapshot.employee_id,
        snapshot.employment_status,
        snapshot.tenure_years as years_of_service,
        vesting.vested_share,
        params.forfeiture_after_five_breaks,
        coalesce(opening.closing_balance, 0) as opening_balance,
        coalesce(money.employer_match, 0) as employer_match,
        coalesce(money.employer_core_contribution, 0) as employer_core_contribution,
        coalesce(opening.closing_balance, 0) + coalesce(money.employer_match, 0)
            + coalesce(money.employer_core_contribution, 0) as balance
    from snapshot
    inner join vesting on snapshot.scenario_id = vesting.scenario_id and snapshot.employee_id = vesting.employee_id
    left join opening on snapshot.scenario_id = opening.scenario_id and snapshot.employee_id = opening.employee_id
    left join money on snapshot.scenario_id = money.scenario_id and snapshot.employee_id = money.employee_id
    inner join {{ ref('int_effective_parameters') }} as params on snapshot.scenario_id = params.scenario_id
)

select
    cast(scenario_id as varchar) as scenario_id,
    cast(employee_id as varchar) as employee_id,
    cast({{ year }} as integer) as simulation_year,
    cast(employment_status as varchar) as employment_status,
    cast(years_of_service as integer) as years_of_service,
    cast(vested_share as double) as vested_share,
    cast(opening_balance as decimal(18, 2)) as opening_balance,
    cast(employer_match as decimal(18, 2)) as employer_match,
    cast(employer_core_contribution as decimal(18, 2)) as employer_core_contribution,
    cast(balance as decimal(18, 2)) as balance,
    cast(round(balance * vested_share, 2) as decimal(18, 2)) as vested_balance,
    cast(case when employment_status = 'terminated' and not forfeiture_after_five_breaks
        then balance - round(balance * vested_share, 2) else 0 end
        as decimal(18, 2)) as forfeiture,
    cast(case when employment_status = 'active' then balance else 0 end as decimal(18, 2)) as closing_balance
from accounts
