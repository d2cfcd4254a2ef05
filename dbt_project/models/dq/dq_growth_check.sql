{#-
  Growth exactness for the year, one row per failed check: year-end actives = target +-1, experienced and
  new-hire termination counts and hires exactly as int_workforce_needs solved them.
-#}
{%- set year = var('simulation_year') | int %}
with needs as (
    select * from {{ planalign_this_year('int_workforce_needs') }}
),

events as (
    select * from {{ planalign_this_year('fct_yearly_events') }}
),

hired as (
    select scenario_id, employee_id from events where event_type = 'hire'
),

{#- per scenario of needs (one row each) -#}
actual as (
    select
        needs.scenario_id,
        (select count(*) from {{ planalign_this_year('fct_workforce_snapshot') }} as snapshot
            where snapshot.scenario_id = needs.scenario_id and snapshot.employment_status = 'active')
            as ending_actives,
        (select count(*) from hired where hired.scenario_id = needs.scenario_id) as hires,
        (select count(*) from events
            where events.scenario_id = needs.scenario_id and events.event_type = 'termination'
                and (events.scenario_id, events.employee_id) not in (select scenario_id, employee_id from hired))
            as experienced_terminations,
        (select count(*) from events
            where events.scenario_id = needs.scenario_id and events.event_type = 'termination'
                and (events.scenario_id, events.employee_id) in (select scenario_id, employee_id from hired))
            as new_hire_terminations
    from needs
),

checks as (
    select needs.scenario_id, 'ending_actives' as check_name, needs.target_ending_actives as expected,
        actual.ending_actives as actual, 1 as tolerance
    from needs inner join actual on needs.scenario_id = actual.scenario_id
    union all
    -- a union arm after the first takes the first's column names
    select needs.scenario_id, 'experienced_terminations', needs.experienced_terminations,
        actual.experienced_terminations, 0  -- noqa: AL08
    from needs inner join actual on needs.scenario_id = actual.scenario_id
    union all
    select needs.scenario_id, 'new_hire_terminations', needs.new_hire_terminations,
        actual.new_hire_terminations, 0  -- noqa: AL08
    from needs inner join actual on needs.scenario_id = actual.scenario_id
    union all
    select needs.scenario_id, 'hires', needs.total_hires_needed, actual.hires, 0
    from needs inner join actual on needs.scenario_id = actual.scenario_id
)

select scenario_id, {{ year }} as simulation_year, check_name, expected, actual, tolerance
from checks
where abs(actual - expected) > tolerance
