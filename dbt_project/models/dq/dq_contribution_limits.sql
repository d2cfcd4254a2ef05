{#-
  Money rules, one row per violation: deferrals within 402(g) (+ catch-up from catch_up_age, the SECURE 2.0
  super catch-up at 60-63) and never above
  rate x deferred pay capped at 401(a)(17) (plan compensation); annual additions within 415(c); no match without a deferral; match within the cap; escalations within the cap and
  never for employees who opted out.
-#}
{%- set year = var('simulation_year') | int %}
with params as (
    select * from {{ ref('int_effective_parameters') }}
),

contributions as (
    select * from {{ planalign_this_year('int_employee_contributions') }}
),

match as (
    select * from {{ planalign_this_year('int_employee_match_calculations') }}
),

escalations as (
    select * from {{ planalign_this_year('fct_yearly_events') }} where event_type = 'deferral_escalation'
),

violations as (
    select contributions.scenario_id, contributions.employee_id, 'contribution_above_irs_limit' as check_name,
        cast(contributions.employee_contribution as varchar) as detail
    from contributions
    inner join params on contributions.scenario_id = params.scenario_id
    where contributions.employee_contribution > params.elective_deferral_limit
        + case
            when contributions.age < params.catch_up_age then 0
            when contributions.age between 60 and 63 then greatest(params.super_catch_up_limit, params.catch_up_limit)
            else params.catch_up_limit
        end

    union all
    select match.scenario_id, match.employee_id, 'annual_additions_above_415c', cast(match.annual_additions as varchar)
    from match
    inner join contributions
        on match.scenario_id = contributions.scenario_id and match.employee_id = contributions.employee_id
    inner join params on match.scenario_id = params.scenario_id
    where match.annual_additions > least(params.annual_additions_limit, contributions.annual_plan_compensation)
        or match.annual_additions <> contributions.employee_contribution - contributions.catch_up_contribution
            + match.employer_match + match.employer_core_contribution

    union all
    select contributions.scenario_id, contributions.employee_id, 'contribution_above_rate_times_capped_pay',
        cast(contributions.employee_contribution as varchar)
    from contributions
    inner join params on contributions.scenario_id = params.scenario_id
    where contributions.employee_contribution
        > contributions.deferral_rate * least(contributions.deferral_compensation, params.compensation_limit) + 0.01

    union all
    select contributions.scenario_id, contributions.employee_id, 'plan_compensation_above_401a17',
        cast(contributions.plan_compensation as varchar)
    from contributions
    inner join params on contributions.scenario_id = params.scenario_id
    where contributions.plan_compensation > params.compensation_limit
        or contributions.plan_compensation > contributions.deferral_compensation

    union all
    select match.scenario_id, match.employee_id, 'match_without_deferral', cast(match.employer_match as varchar)
    from match
    inner join contributions
        on match.scenario_id = contributions.scenario_id and match.employee_id = contributions.employee_id
    where match.employer_match > 0 and contributions.employee_contribution <= 0

    union all
    select match.scenario_id, match.employee_id, 'match_above_cap', cast(match.employer_match as varchar)
    from match
    inner join params on match.scenario_id = params.scenario_id
    where match.employer_match > params.match_cap_rate * match.match_eligible_compensation + 0.01
        or match.match_eligible_compensation > params.compensation_limit

    union all
    select escalations.scenario_id, escalations.employee_id, 'escalation_above_cap',
        cast(escalations.deferral_rate_after as varchar)
    from escalations
    inner join params on escalations.scenario_id = params.scenario_id
    where escalations.deferral_rate_after > params.escalation_cap + 1e-9

    union all
    select escalations.scenario_id, escalations.employee_id, 'escalation_of_opted_out_employee', null
    from escalations
    inner join {{ ref('int_active_employees_prev_year_snapshot') }} as actives
        on escalations.scenario_id = actives.scenario_id and escalations.employee_id = actives.employee_id
    where actives.ever_opted_out
)

select scenario_id, {{ year }} as simulation_year, employee_id, check_name, detail
from violations
