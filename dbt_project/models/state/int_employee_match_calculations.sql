{#-
  Employer match. Match-eligible pay is the plan compensation deferrals use (the pay deferred on, capped at
  the 401(a)(17) limit: int_employee_contributions); the matched
  deferral is what the employee actually contributed as a share of it. Each tier adds
  match_rate x (part of the matched deferral between employee_min and employee_max) x eligible pay; the
  total never exceeds match_cap_rate x eligible pay, and there is no match without a contribution.
-#}
with params as (
    select * from {{ ref('int_effective_parameters') }}
),

base as (
    select
        contributions.employee_id,
        contributions.simulation_year,
        contributions.employee_contribution,
        contributions.plan_compensation as match_eligible_compensation,
        case
            when contributions.plan_compensation > 0
                then contributions.employee_contribution / contributions.plan_compensation
            else 0
        end as matched_deferral_rate,
        params.match_cap_rate
    from {{ ref('int_employee_contributions') }} as contributions
    cross join params
    where contributions.simulation_year = {{ var('simulation_year') | int }}
),

tiered as (
    select
        base.employee_id,
        coalesce(sum(
            tiers.match_rate
            * greatest(0, least(base.matched_deferral_rate, tiers.employee_max) - tiers.employee_min)
        ), 0) as match_rate_of_pay
    from base
    left join {{ ref('int_effective_match_tiers') }} as tiers on true
    group by base.employee_id
)

select
    base.employee_id,
    cast(base.simulation_year as integer) as simulation_year,
    cast(base.match_eligible_compensation as decimal(18, 2)) as match_eligible_compensation,
    base.matched_deferral_rate,
    tiered.match_rate_of_pay,
    cast(case
        when base.employee_contribution <= 0 then 0
        else round(least(tiered.match_rate_of_pay, base.match_cap_rate) * base.match_eligible_compensation, 2)
    end as decimal(18, 2)) as employer_match
from base
inner join tiered on base.employee_id = tiered.employee_id
