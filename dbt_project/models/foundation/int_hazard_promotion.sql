{#- Promotion probability (level x age band x tenure band) and this year's draw for every start-of-year active. -#}
with actives as (
    select * from {{ ref('int_active_employees_prev_year_snapshot') }}
)

select
    actives.employee_id,
    actives.simulation_year,
    actives.job_level,
    actives.age_band,
    actives.tenure_band,
    coalesce(hazards.promotion_rate, 0.0) as promotion_rate,
    {{ planalign_uniform('promotion', 'actives.employee_id') }} as draw
from actives
left join {{ ref('dim_hazard_table') }} as hazards
    on actives.job_level = hazards.job_level
    and actives.age_band = hazards.age_band
    and actives.tenure_band = hazards.tenure_band
