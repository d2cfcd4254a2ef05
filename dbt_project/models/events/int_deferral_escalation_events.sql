{#-
  Deferral auto-escalation on January 1 (plan years are calendar years): a participant escalates once they
  have been enrolled for escalation_delay_years full plan years. The first full plan year is the enrollment
  year for a January 1 enrollment and the next year otherwise (census participants count as enrolled on the
  effective date, so a 2024-12-31 census gives 2025 as their first full plan year and, with the default delay
  of 1, a first escalation on 2026-01-01). Only participants below the cap, who never opted out and stay the
  whole year, go up by escalation_increment, never passing escalation_cap.
  With deferral_response_enabled, escalation has its own opt-out: at every January 1 from the first one due
  (the rule above, from start_year on), a participant opts out of escalation for good with probability
  escalation_opt_out_rate (draw escalation_opt_out of that year), and is not escalated that year or later.
-#}
{%- set year = var('simulation_year') | int %}
{%- set start = var('start_year') | int %}
{%- set first_due = "(extract(year from actives.enrollment_date)
        + case when extract(month from actives.enrollment_date) = 1 and extract(day from actives.enrollment_date) = 1
            then 0 else 1 end
        + params.escalation_delay_years)" %}
with params as (
    select * from {{ ref('int_effective_parameters') }}
)

select
    actives.scenario_id,
    actives.employee_id,
    actives.simulation_year,
    'deferral_escalation' as event_type,
    params.year_start as effective_date,
    actives.deferral_rate as deferral_rate_before,
    cast(least(actives.deferral_rate + params.escalation_increment, params.escalation_cap) as decimal(8, 4))
        as deferral_rate_after
from {{ ref('int_active_employees_prev_year_snapshot') }} as actives
inner join params on actives.scenario_id = params.scenario_id
inner join {{ ref('dim_scenarios') }} as scenarios on actives.scenario_id = scenarios.scenario_id
where params.escalation_enabled
    and actives.is_enrolled
    and not actives.ever_opted_out
    and actives.deferral_rate < params.escalation_cap
    and extract(year from actives.enrollment_date)
        + case when extract(month from actives.enrollment_date) = 1 and extract(day from actives.enrollment_date) = 1
            then 0 else 1 end
        + params.escalation_delay_years <= actives.simulation_year
    and (actives.scenario_id, actives.employee_id)
        not in (select scenario_id, employee_id from {{ ref('int_termination_events') }})
    and not (params.deferral_response_enabled and ({% for y in range(start, year + 1) %}
        ({{ first_due }} <= {{ y }}
            and {{ planalign_uniform('escalation_opt_out', 'actives.employee_id', 'scenarios.random_seed', year=y) }}
                < params.escalation_opt_out_rate){{ ' or' if not loop.last }}
    {%- endfor %}))
