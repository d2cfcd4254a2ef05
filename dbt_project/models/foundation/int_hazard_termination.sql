{#-
  Termination weight and selection key for every start-of-year active. The year's experienced terminations
  are the employees with the smallest keys: key = -ln(1 - u) / weight is an exponential race, i.e. weighted
  sampling without replacement, so higher-hazard employees leave more often while the count stays exact.
-#}
with actives as (
    select * from {{ ref('int_active_employees_prev_year_snapshot') }}
),

weighted as (
    select
        actives.scenario_id,
        actives.employee_id,
        actives.simulation_year,
        actives.job_level,
        actives.age_band,
        actives.tenure_band,
        coalesce(hazards.termination_weight, 1.0) as termination_weight,
        {{ planalign_uniform('termination', 'actives.employee_id', 'scenarios.random_seed') }} as draw
    from actives
    inner join {{ ref('dim_scenarios') }} as scenarios
        on actives.scenario_id = scenarios.scenario_id
    left join {{ ref('dim_hazard_table') }} as hazards
        on actives.scenario_id = hazards.scenario_id
        and actives.job_level = hazards.job_level
        and actives.age_band = hazards.age_band
        and actives.tenure_band = hazards.tenure_band
)

select
    *,
    -ln(1 - draw) / greatest(termination_weight, 1e-9) as selection_key
from weighted
