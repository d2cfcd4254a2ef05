{#-
  Deferral auto-escalation on January 1: participants enrolled for at least escalation_delay_years full plan
  years, below the cap, who never opted out and stay the whole year, go up by escalation_increment without
  passing escalation_cap.
-#}
with params as (
    select * from {{ ref('int_effective_parameters') }}
)

select
    actives.employee_id,
    actives.simulation_year,
    'deferral_escalation' as event_type,
    params.year_start as effective_date,
    actives.deferral_rate as deferral_rate_before,
    cast(least(actives.deferral_rate + params.escalation_increment, params.escalation_cap) as decimal(8, 4))
        as deferral_rate_after
from {{ ref('int_active_employees_prev_year_snapshot') }} as actives
cross join params
where params.escalation_enabled
    and actives.is_enrolled
    and not actives.ever_opted_out
    and actives.deferral_rate < params.escalation_cap
    and extract(year from actives.enrollment_date) + params.escalation_delay_years <= actives.simulation_year
    and actives.employee_id not in (select employee_id from {{ ref('int_termination_events') }})
