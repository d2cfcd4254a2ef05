{#- The year's raise rate by scenario and job level: merit for the level plus COLA, effective on the merit date. -#}
select
    levers.scenario_id,
    levers.simulation_year,
    levers.job_level,
    levers.merit_rate,
    params.cola_rate,
    levers.merit_rate + params.cola_rate as raise_rate,
    params.merit_effective_date
from {{ ref('int_effective_comp_levers') }} as levers
inner join {{ ref('int_effective_parameters') }} as params
    on levers.scenario_id = params.scenario_id
