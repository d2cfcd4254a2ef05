{#- Experienced terminations: exactly int_workforce_needs.experienced_terminations, the smallest hazard keys. -#}
with needs as (
    select * from {{ planalign_this_year('int_workforce_needs') }}
),

params as (
    select * from {{ ref('int_effective_parameters') }}
),

ranked as (
    select
        hazard.*,
        row_number() over (order by hazard.selection_key, hazard.employee_id) as termination_rank
    from {{ ref('int_hazard_termination') }} as hazard
)

select
    ranked.employee_id,
    ranked.simulation_year,
    'termination' as event_type,
    'experienced' as termination_kind,
    {{ planalign_add_days('params.year_start',
        'floor(' ~ planalign_uniform('termination_date', 'ranked.employee_id') ~ ' * params.days_in_year)') }}
        as effective_date,
    actives.annual_compensation as compensation_before,
    actives.job_level as level_before,
    actives.deferral_rate as deferral_rate_before
from ranked
cross join needs
cross join params
inner join {{ ref('int_active_employees_prev_year_snapshot') }} as actives
    on ranked.employee_id = actives.employee_id
where ranked.termination_rank <= needs.experienced_terminations
