{#- Enrollment state at year end for everyone employed during the year: start-of-year state plus the year's events. -#}
with population as (
    select scenario_id, employee_id, simulation_year, is_enrolled, enrollment_date, ever_opted_out
    from {{ ref('int_active_employees_prev_year_snapshot') }}
    union all
    select scenario_id, employee_id, simulation_year, false, cast(null as date), false
    from {{ ref('int_hiring_events') }}
),

events as (
    select * from {{ ref('int_enrollment_events') }}
)

select
    population.scenario_id,
    population.employee_id,
    cast(population.simulation_year as integer) as simulation_year,
    population.is_enrolled or coalesce(events.event_type = 'enrollment', false) as is_enrolled,
    case when events.event_type = 'enrollment' then events.effective_date else population.enrollment_date end
        as enrollment_date,
    case
        when events.event_type = 'enrollment' then events.enrollment_source
        when population.is_enrolled then 'prior'
    end as enrollment_source,
    population.ever_opted_out or coalesce(events.event_type = 'enrollment_opt_out', false) as ever_opted_out,
    case when events.event_type = 'enrollment_opt_out' then events.effective_date end as opt_out_date,
    events.event_type is not null as changed_this_year
from population
left join events
    on population.scenario_id = events.scenario_id and population.employee_id = events.employee_id
