{#- Start-of-year pay for every start-of-year active, with the level's raise rate for the year. -#}
select
    actives.scenario_id,
    actives.employee_id,
    actives.simulation_year,
    actives.job_level,
    actives.annual_compensation as starting_compensation,
    merit.merit_rate,
    merit.cola_rate,
    merit.raise_rate
from {{ ref('int_active_employees_prev_year_snapshot') }} as actives
left join {{ ref('int_hazard_merit') }} as merit
    on actives.scenario_id = merit.scenario_id
    and actives.job_level = merit.job_level
