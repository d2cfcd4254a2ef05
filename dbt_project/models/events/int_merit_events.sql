{#-
  Annual raise (merit for the level after any promotion, plus COLA) on the merit effective date, for every
  start-of-year active who does not leave this year. Employees hired this year wait for next year's cycle.
-#}
select
    comp.scenario_id,
    comp.employee_id,
    comp.simulation_year,
    'raise' as event_type,
    merit.merit_effective_date as effective_date,
    coalesce(promo.compensation_after, comp.starting_compensation) as compensation_before,
    cast(round(coalesce(promo.compensation_after, comp.starting_compensation) * (1 + merit.raise_rate), 2)
        as decimal(18, 2)) as compensation_after,
    coalesce(promo.level_after, comp.job_level) as level_before,
    coalesce(promo.level_after, comp.job_level) as level_after
from {{ ref('int_employee_compensation_by_year') }} as comp
left join {{ ref('int_promotion_events') }} as promo
    on comp.scenario_id = promo.scenario_id
    and comp.employee_id = promo.employee_id
inner join {{ ref('int_hazard_merit') }} as merit
    on comp.scenario_id = merit.scenario_id
    and coalesce(promo.level_after, comp.job_level) = merit.job_level
where merit.raise_rate > 0
    and (comp.scenario_id, comp.employee_id)
        not in (select scenario_id, employee_id from {{ ref('int_termination_events') }})
