{#-
  Promotions, effective January 1: start-of-year actives below the top level who do not leave this year and
  whose draw falls under their level x age band x tenure band promotion rate. One level up, pay raised by
  the old level's promotion_raise_rate.
-#}
with params as (
    select * from {{ ref('int_effective_parameters') }}
)

select
    hazard.scenario_id,
    hazard.employee_id,
    hazard.simulation_year,
    'promotion' as event_type,
    params.year_start as effective_date,
    comp.starting_compensation as compensation_before,
    cast(round(comp.starting_compensation * (1 + levers.promotion_raise_rate), 2) as decimal(18, 2))
        as compensation_after,
    hazard.job_level as level_before,
    hazard.job_level + 1 as level_after
from {{ ref('int_hazard_promotion') }} as hazard
inner join {{ ref('int_employee_compensation_by_year') }} as comp
    on hazard.scenario_id = comp.scenario_id
    and hazard.employee_id = comp.employee_id
inner join {{ ref('int_effective_comp_levers') }} as levers
    on hazard.scenario_id = levers.scenario_id
    and hazard.job_level = levers.job_level
inner join params on hazard.scenario_id = params.scenario_id
where hazard.job_level < 5
    and hazard.draw < hazard.promotion_rate
    and (hazard.scenario_id, hazard.employee_id)
        not in (select scenario_id, employee_id from {{ ref('int_termination_events') }})
