{#-
  Employer money. Match-eligible pay is the plan compensation deferrals use (the pay deferred on, capped at
  the 401(a)(17) limit: int_employee_contributions); the matched deferral is what the employee actually
  contributed as a share of it. Each tier adds match_rate x (part of the matched deferral between
  employee_min and employee_max) x eligible pay; the total never exceeds match_cap_rate x eligible pay, and
  there is no match without a contribution. The core (non-elective) contribution is core_contribution_rate x
  annual plan compensation, for everyone employed in the year. 415(c): annual additions (deferrals without
  catch-up + match + core) never exceed the lesser of the annual additions limit and annual plan
  compensation; an excess comes out of the core contribution first, then the match.

  Match period (match_true_up). A participant defers one rate from the day it applies (January 1, or the
  enrollment day) to December 31 or termination, so per pay period the match is match_rate_of_pay(rate) x the
  pay of the periods deferred on. Those periods are all of the plan pay, except for a deferrer who reaches
  the 402(g) (+ catch-up) limit before December 31 (is_limited): deferrals stop there, and so does a
  per-period match, which then covers only contribution / rate of pay. The plan-year (annual) match is the
  formula on the year's totals, contribution / plan pay of plan pay (the match since issue #15). With
  match_true_up on (the default) the match is the annual one: the per-period amount plus a year-end true-up
  of the difference (negative only for a formula whose tiers rise, when the per-period deposits exceeded the
  annual formula); off, the per-period amount.

  Core rate: core_contribution_rate, or with core_contribution_graded the highest core_rate of the
  int_effective_core_contribution_schedule rows whose min_age (age on December 31) and min_service_years
  (completed years of service to December 31 or termination) the employee has reached (0 if none).
-#}
with params as (
    select * from {{ ref('int_effective_parameters') }}
),

base as (
    select
        contributions.scenario_id,
        contributions.employee_id,
        contributions.simulation_year,
        contributions.employee_contribution,
        cast(contributions.deferral_rate as double) as deferral_rate,
        contributions.is_limited,
        contributions.age,
        snapshot.tenure_years as years_of_service,
        contributions.employee_contribution - contributions.catch_up_contribution as deferral_annual_addition,
        contributions.annual_plan_compensation,
        contributions.plan_compensation as match_eligible_compensation,
        case
            when contributions.plan_compensation > 0
                then contributions.employee_contribution / contributions.plan_compensation
            else 0
        end as matched_deferral_rate,
        params.match_cap_rate,
        params.match_true_up,
        params.core_contribution_rate,
        params.core_contribution_graded,
        params.annual_additions_limit
    from {{ planalign_this_year('int_employee_contributions') }} as contributions
    inner join params on contributions.scenario_id = params.scenario_id
    inner join {{ planalign_this_year('int_workforce_snapshot_optimized') }} as snapshot
        on contributions.scenario_id = snapshot.scenario_id and contributions.employee_id = snapshot.employee_id
),

graded_core as (
    select
        base.scenario_id,
        base.employee_id,
        coalesce(max(schedule.core_rate), 0) as graded_core_rate
    from base
    left join {{ ref('int_effective_core_contribution_schedule') }} as schedule
        on base.scenario_id = schedule.scenario_id
        and base.age >= schedule.min_age
        and base.years_of_service >= schedule.min_service_years
    group by base.scenario_id, base.employee_id
),

tiered as (
    select
        base.scenario_id,
        base.employee_id,
        coalesce(sum(
            tiers.match_rate
            * greatest(0, least(base.matched_deferral_rate, tiers.employee_max) - tiers.employee_min)
        ), 0) as match_rate_of_pay,
        coalesce(sum(
            tiers.match_rate
            * greatest(0, least(base.deferral_rate, tiers.employee_max) - tiers.employee_min)
        ), 0) as period_match_rate_of_pay
    from base
    left join {{ ref('int_effective_match_tiers') }} as tiers on base.scenario_id = tiers.scenario_id
    group by base.scenario_id, base.employee_id
),

match_periods as (
    select
        base.*,
        tiered.match_rate_of_pay,
        case when base.core_contribution_graded then graded_core.graded_core_rate
            else base.core_contribution_rate end as applied_core_rate,
        case
            when base.employee_contribution <= 0 then 0
            else round(least(tiered.match_rate_of_pay, base.match_cap_rate) * base.match_eligible_compensation, 2)
        end as match_annual,
        case
            when base.employee_contribution <= 0 then 0
            when base.is_limited and base.deferral_rate > 0 then round(
                least(tiered.period_match_rate_of_pay, base.match_cap_rate)
                * least(cast(base.employee_contribution as double) / base.deferral_rate,
                    cast(base.match_eligible_compensation as double)), 2)
            else round(least(tiered.match_rate_of_pay, base.match_cap_rate) * base.match_eligible_compensation, 2)
        end as match_per_pay_period
    from base
    inner join tiered on base.scenario_id = tiered.scenario_id and base.employee_id = tiered.employee_id
    inner join graded_core
        on base.scenario_id = graded_core.scenario_id and base.employee_id = graded_core.employee_id
),

before_415c as (
    select
        *,
        case when match_true_up
            then cast(match_annual as decimal(18, 2)) - cast(match_per_pay_period as decimal(18, 2))
            else 0 end as match_true_up_amount,
        case when match_true_up then match_annual else match_per_pay_period end as match_before_limit,
        round(applied_core_rate * annual_plan_compensation, 2) as core_before_limit,
        least(annual_additions_limit, annual_plan_compensation) as additions_limit
    from match_periods
),

limited as (
    select
        *,
        greatest(0, deferral_annual_addition + match_before_limit + core_before_limit - additions_limit)
            as excess_annual_additions
    from before_415c
)

select
    scenario_id,
    employee_id,
    cast(simulation_year as integer) as simulation_year,
    cast(match_eligible_compensation as decimal(18, 2)) as match_eligible_compensation,
    matched_deferral_rate,
    match_rate_of_pay,
    cast(match_before_limit as decimal(18, 2)) as match_before_415c,
    cast(core_before_limit as decimal(18, 2)) as core_before_415c,
    cast(additions_limit as decimal(18, 2)) as annual_additions_limit,
    cast(excess_annual_additions as decimal(18, 2)) as excess_annual_additions,
    cast(match_before_limit - least(match_before_limit,
        greatest(0, excess_annual_additions - core_before_limit)) as decimal(18, 2)) as employer_match,
    cast(core_before_limit - least(core_before_limit, excess_annual_additions) as decimal(18, 2))
        as employer_core_contribution,
    cast(deferral_annual_addition
        + match_before_limit - least(match_before_limit, greatest(0, excess_annual_additions - core_before_limit))
        + core_before_limit - least(core_before_limit, excess_annual_additions) as decimal(18, 2))
        as annual_additions,
    applied_core_rate as core_contribution_rate,
    cast(match_per_pay_period as decimal(18, 2)) as match_per_pay_period,
    cast(match_annual as decimal(18, 2)) as match_annual,
    cast(match_true_up_amount as decimal(18, 2)) as match_true_up
from limited
