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
    select employee_id from events where event_type = 'hire'
),

actual as (
    select
        (select count(*) from {{ planalign_this_year('fct_workforce_snapshot') }}
            where employment_status = 'active') as ending_actives,
        (select count(*) from hired) as hires,
        (select count(*) from events
            where event_type = 'termination' and employee_id not in (select employee_id from hired))
            as experienced_terminations,
        (select count(*) from events
            where event_type = 'termination' and employee_id in (select employee_id from hired))
            as new_hire_terminations
),

checks as (
    select 'ending_actives' as check_name, needs.target_ending_actives as expected, actual.ending_actives as actual,
        1 as tolerance
    from needs cross join actual
    union all
    select 'experienced_terminations', needs.experienced_terminations, actual.experienced_terminations, 0
    from needs cross join actual
    union all
    select 'new_hire_terminations', needs.new_hire_terminations, actual.new_hire_terminations, 0
    from needs cross join actual
    union all
    select 'hires', needs.total_hires_needed, actual.hires, 0
    from needs cross join actual
)

select {{ year }} as simulation_year, check_name, expected, actual, tolerance
from checks
where abs(actual - expected) > tolerance
