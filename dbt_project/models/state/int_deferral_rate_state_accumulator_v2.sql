{#-
  Deferral rate at year end for everyone employed during the year, and the day it started to apply this
  year (January 1 for continuing participants, the enrollment day for new ones; never before the plan entry
  date: a census participant who has not entered the plan yet defers from entry).
-#}
with params as (
    select * from {{ ref('int_effective_parameters') }}
),

population as (
    select scenario_id, employee_id, simulation_year, deferral_rate, is_enrolled, birth_date, hire_date
    from {{ ref('int_active_employees_prev_year_snapshot') }}
    union all
    select scenario_id, employee_id, simulation_year, cast(0 as decimal(8, 4)), false, birth_date, hire_date
    from {{ ref('int_hiring_events') }}
),

changes as (
    select scenario_id, employee_id, event_type, effective_date, deferral_rate_after
    from {{ ref('int_enrollment_events') }}
    union all
    select scenario_id, employee_id, event_type, effective_date, deferral_rate_after
    from {{ ref('int_deferral_escalation_events') }}
)

select
    population.scenario_id,
    population.employee_id,
    cast(population.simulation_year as integer) as simulation_year,
    cast(coalesce(changes.deferral_rate_after, population.deferral_rate) as decimal(8, 4)) as deferral_rate,
    case
        when changes.event_type = 'enrollment' then changes.effective_date
        when population.is_enrolled
            then greatest(
                params.year_start, {{ planalign_eligibility_date('population.birth_date', 'population.hire_date') }}
            )
    end as deferral_start_date,
    coalesce(changes.event_type = 'deferral_escalation', false) as escalated_this_year
from population
inner join params on population.scenario_id = params.scenario_id
left join changes
    on population.scenario_id = changes.scenario_id and population.employee_id = changes.employee_id
