{#-
  Retirement hazard and this year's draw for every start-of-year active. Age is the age reached by
  December 31 of the year (as for catch-up). An active retires this year when that age is at least
  retirement_max_age (certain retirement), or when the draw falls under the retirement_rate of the age's row
  of config_retirement_hazard (0 for an age no row covers). Retirees are terminations of kind retirement
  (int_termination_events), counted in the year's experienced terminations (int_workforce_needs).
-#}
with params as (
    select * from {{ ref('int_effective_parameters') }}
),

aged as (
    select
        actives.scenario_id,
        actives.employee_id,
        actives.simulation_year,
        {{ planalign_full_years('actives.birth_date', 'params.year_end') }} as age_at_year_end,
        params.retirement_max_age,
        {{ planalign_uniform('retirement', 'actives.employee_id', 'scenarios.random_seed') }} as draw
    from {{ ref('int_active_employees_prev_year_snapshot') }} as actives
    inner join params on actives.scenario_id = params.scenario_id
    inner join {{ ref('dim_scenarios') }} as scenarios on actives.scenario_id = scenarios.scenario_id
),

rated as (
    select
        aged.*,
        case
            when aged.age_at_year_end >= aged.retirement_max_age then 1.0
            else coalesce((
                select max(hazard.retirement_rate)
                from {{ ref('stg_config_retirement_hazard') }} as hazard
                where hazard.scenario_id = aged.scenario_id
                    and aged.age_at_year_end between hazard.min_age and hazard.max_age
            ), 0.0)
        end as retirement_rate
    from aged
)

select
    *,
    age_at_year_end >= retirement_max_age or draw < retirement_rate as is_retiring
from rated
