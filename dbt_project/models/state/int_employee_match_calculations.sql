{#-
  Employer money. Match-eligible pay is the plan compensation deferrals use (the pay deferred on, capped at
  the 401(a)(17) limit: int_employee_contributions); the matched deferral is what the employee actually
  contributed as a share of it. Each tier adds match_rate x (part of the matched deferral between
  employee_min and employee_max) x eligible pay; the total never exceeds match_cap_rate x eligible pay, and
  there is no match without a contribution. The core (non-elective) contribution is core_contribution_rate x
  annual plan compensation, for everyone employed in the year. 415(c): annual additions (deferrals without
  catch-up + match + core) never exceed the lesser of the annual additions limit and annual plan
  compensation; an excess comes out of the core contribution first, then the match.
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
        contributions.employee_contribution - contributions.catch_up_contribution as deferral_annual_addition,
        contributions.annual_plan_compensation,
        contributions.plan_compensation as match_eligible_compensation,
        case
            when contributions.plan_compensation > 0
                then contributions.employee_contribution / contributions.plan_compensation
            else 0
        end as matched_deferral_rate,
        params.match_cap_rate,
        params.core_contribution_rate,
        params.annual_additions_limit
    from {{ planalign_this_year('int_employee_contributions') }} as contributions
    inner join params on contributions.scenario_id = params.scenario_id
),

tiered as (
    select
        base.scenario_id,
        base.employee_id,
        coalesce(sum(
            tiers.match_rate
            * greatest(0, least(base.matched_deferral_rate, tiers.employee_max) - tiers.employee_min)
        ), 0) as match_rate_of_pay
    from base
    left join {{ ref('int_effective_match_tiers') }} as tiers on base.scenario_id = tiers.scenario_id
    group by base.scenario_id, base.employee_id
),

before_415c as (
    select
        base.*,
        tiered.match_rate_of_pay,
        case
            when base.employee_contribution <= 0 then 0
            else round(least(tiered.match_rate_of_pay, base.match_cap_rate) * base.match_eligible_compensation, 2)
        end as match_before_limit,
        round(base.core_contribution_rate * base.annual_plan_compensation, 2) as core_before_limit,
        least(base.annual_additions_limit, base.annual_plan_compensation) as additions_limit
    from base
    inner join tiered on base.scenario_id = tiered.scenario_id and base.employee_id = tiered.employee_id
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
        as annual_additions
from limited
