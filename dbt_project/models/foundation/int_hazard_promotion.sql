{#- Promotion probability (level x age band x tenure band) and this year's draw for every start-of-year active. -#}
with actives as (
    select * from {{ ref('int_active_employees_prev_year_snapshot') }}
)

select
    actives.scenario_id,
    actives.employee_id,
    actives.simulation_year,
    actives.job_level,
    actives.age_band,
    actives.tenure_band,
    coalesce(hazards.promotion_rate, 0.0) as promotion_rate,
    {{ planalign_uniform('promotion', 'actives.employee_id', 'scenarios.random_seed') }} as draw
from actives
inner join {{ ref('dim_scenarios') }} as scenarios
    on actives.scenario_id = scenarios.scenario_id
left join {{ ref('dim_hazard_table') }} as hazards
    on actives.scenario_id = hazards.scenario_id
    and actives.job_level = hazards.job_level
    and actives.age_band = hazards.age_band
    and actives.tenure_band = hazards.tenure_band
