{#-
  Events and snapshot tell the same story, one row per violation: headcount continuity, status vs
  termination, no event outside employment, and every change of level, pay or deferral rate between the
  start and the end of the year explained by an event.
-#}
{%- set year = var('simulation_year') | int %}
with start_state as (
    select * from {{ ref('int_workforce_previous_year') }}
),

events as (
    select * from {{ planalign_this_year('fct_yearly_events') }}
),

snapshot as (
    select * from {{ planalign_this_year('fct_workforce_snapshot') }}
),

by_employee as (
    select
        scenario_id,
        employee_id,
        max(case when event_type = 'hire' then 1 else 0 end) as hired,
        max(case when event_type = 'termination' then effective_date end) as terminated_on,
        max(case when event_type = 'promotion' then level_after end) as promoted_to,
        max(case when event_type = 'raise' then compensation_after end) as raised_to,
        max(case when event_type = 'promotion' then compensation_after end) as promoted_pay,
        max(case when event_type in ('enrollment', 'enrollment_opt_out', 'deferral_escalation')
            then deferral_rate_after end) as deferral_set_to
    from events
    group by scenario_id, employee_id
),

counts as (
    select
        scenarios.scenario_id,
        (select count(*) from start_state where start_state.scenario_id = scenarios.scenario_id)
            as starting_actives,
        (select count(*) from snapshot
            where snapshot.scenario_id = scenarios.scenario_id and employment_status = 'active') as ending_actives,
        (select count(*) from events
            where events.scenario_id = scenarios.scenario_id and event_type = 'hire') as hires,
        (select count(*) from events
            where events.scenario_id = scenarios.scenario_id and event_type = 'termination') as terminations
    from {{ ref('dim_scenarios') }} as scenarios
),

violations as (
    select scenario_id, cast(null as varchar) as employee_id, 'headcount_continuity' as check_name,
        'start ' || starting_actives || ' - terminations ' || terminations || ' + hires ' || hires
            || ' <> end ' || ending_actives as detail
    from counts
    where starting_actives - terminations + hires <> ending_actives

    union all
    select snapshot.scenario_id, snapshot.employee_id, 'status_vs_termination_date',
        snapshot.employment_status || ' with termination_date '
            || coalesce(cast(snapshot.termination_date as varchar), 'null')
    from snapshot
    where (snapshot.employment_status = 'active') <> (snapshot.termination_date is null)

    union all
    select snapshot.scenario_id, snapshot.employee_id, 'termination_without_event',
        cast(snapshot.termination_date as varchar)
    from snapshot
    left join by_employee
        on snapshot.scenario_id = by_employee.scenario_id and snapshot.employee_id = by_employee.employee_id
    where not (snapshot.termination_date is not distinct from by_employee.terminated_on)

    union all
    select snapshot.scenario_id, snapshot.employee_id, 'in_snapshot_without_start_or_hire', null
    from snapshot
    left join by_employee
        on snapshot.scenario_id = by_employee.scenario_id and snapshot.employee_id = by_employee.employee_id
    where (snapshot.scenario_id, snapshot.employee_id) not in (select scenario_id, employee_id from start_state)
        and coalesce(by_employee.hired, 0) = 0

    union all
    select start_state.scenario_id, start_state.employee_id, 'start_active_missing_from_snapshot', null
    from start_state
    where (start_state.scenario_id, start_state.employee_id) not in (select scenario_id, employee_id from snapshot)

    union all
    select events.scenario_id, events.employee_id, 'event_outside_employment',
        events.event_type || ' on ' || cast(events.effective_date as varchar)
    from events
    inner join snapshot on events.scenario_id = snapshot.scenario_id and events.employee_id = snapshot.employee_id
    where events.effective_date < snapshot.hire_date
        or events.effective_date > coalesce(snapshot.termination_date, events.effective_date)
        or extract(year from events.effective_date) <> {{ year }}

    union all
    select snapshot.scenario_id, snapshot.employee_id, 'unexplained_level_change',
        cast(start_state.job_level as varchar) || ' -> ' || cast(snapshot.job_level as varchar)
    from snapshot
    inner join start_state
        on snapshot.scenario_id = start_state.scenario_id and snapshot.employee_id = start_state.employee_id
    left join by_employee
        on snapshot.scenario_id = by_employee.scenario_id and snapshot.employee_id = by_employee.employee_id
    where snapshot.job_level <> coalesce(by_employee.promoted_to, start_state.job_level)

    union all
    select snapshot.scenario_id, snapshot.employee_id, 'unexplained_compensation_change',
        cast(start_state.annual_compensation as varchar) || ' -> ' || cast(snapshot.annual_compensation as varchar)
    from snapshot
    inner join start_state
        on snapshot.scenario_id = start_state.scenario_id and snapshot.employee_id = start_state.employee_id
    left join by_employee
        on snapshot.scenario_id = by_employee.scenario_id and snapshot.employee_id = by_employee.employee_id
    where snapshot.annual_compensation
        <> coalesce(by_employee.raised_to, by_employee.promoted_pay, start_state.annual_compensation)

    union all
    select snapshot.scenario_id, snapshot.employee_id, 'unexplained_deferral_change',
        cast(start_state.deferral_rate as varchar) || ' -> ' || cast(snapshot.deferral_rate as varchar)
    from snapshot
    inner join start_state
        on snapshot.scenario_id = start_state.scenario_id and snapshot.employee_id = start_state.employee_id
    left join by_employee
        on snapshot.scenario_id = by_employee.scenario_id and snapshot.employee_id = by_employee.employee_id
    where snapshot.deferral_rate <> coalesce(by_employee.deferral_set_to, start_state.deferral_rate)
)

select scenario_id, {{ year }} as simulation_year, employee_id, check_name, detail
from violations
