{#-
  Experienced terminations: exactly int_workforce_needs.experienced_terminations per scenario. First the
  year's retirees (int_hazard_retirement, termination_kind retirement, on a day uniform in the year), then,
  for the rest of the count, the other start-of-year actives with the smallest hazard keys (termination_kind
  experienced).
-#}
with needs as (
    select * from {{ planalign_this_year('int_workforce_needs') }}
),

params as (
    select * from {{ ref('int_effective_parameters') }}
),

retirees as (
    select scenario_id, employee_id from {{ ref('int_hazard_retirement') }} where is_retiring
),

ranked as (
    select
        hazard.*,
        row_number() over (
            partition by hazard.scenario_id order by hazard.selection_key, hazard.employee_id
        ) as termination_rank
    from {{ ref('int_hazard_termination') }} as hazard
    where (hazard.scenario_id, hazard.employee_id) not in (select scenario_id, employee_id from retirees)
),

leavers as (
    select retirees.scenario_id, retirees.employee_id, 'retirement' as termination_kind,
        {{ planalign_uniform('retirement_date', 'retirees.employee_id', 'scenarios.random_seed') }} as u_date
    from retirees
    inner join {{ ref('dim_scenarios') }} as scenarios on retirees.scenario_id = scenarios.scenario_id
    union all
    select ranked.scenario_id, ranked.employee_id, 'experienced',
        {{ planalign_uniform('termination_date', 'ranked.employee_id', 'scenarios.random_seed') }}
    from ranked
    inner join {{ ref('dim_scenarios') }} as scenarios on ranked.scenario_id = scenarios.scenario_id
    inner join needs on ranked.scenario_id = needs.scenario_id
    where ranked.termination_rank <= needs.experienced_terminations - needs.retirements
)

select
    leavers.scenario_id,
    leavers.employee_id,
    actives.simulation_year,
    'termination' as event_type,
    leavers.termination_kind,
    {{ planalign_add_days('params.year_start', 'floor(leavers.u_date * params.days_in_year)') }} as effective_date,
    actives.annual_compensation as compensation_before,
    actives.job_level as level_before,
    actives.deferral_rate as deferral_rate_before
from leavers
inner join params on leavers.scenario_id = params.scenario_id
inner join {{ ref('int_active_employees_prev_year_snapshot') }} as actives
    on leavers.scenario_id = actives.scenario_id
    and leavers.employee_id = actives.employee_id
