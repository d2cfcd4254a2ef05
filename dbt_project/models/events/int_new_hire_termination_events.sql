{#- New-hire terminations: exactly round(hires * new_hire_termination_rate), on a day between hire and year end. -#}
with needs as (
    select * from {{ planalign_this_year('int_workforce_needs') }}
),

params as (
    select * from {{ ref('int_effective_parameters') }}
),

ranked as (
    select
        hires.*,
        row_number() over (
            order by {{ planalign_uniform('new_hire_termination', 'hires.employee_id') }}, hires.employee_id
        ) as termination_rank
    from {{ ref('int_hiring_events') }} as hires
)

select
    ranked.employee_id,
    ranked.simulation_year,
    'termination' as event_type,
    'new_hire' as termination_kind,
    {{ planalign_add_days('ranked.hire_date',
        'floor(' ~ planalign_uniform('new_hire_termination_date', 'ranked.employee_id') ~ ' * ('
        ~ planalign_days_between('ranked.hire_date', 'params.year_end') ~ ' + 1))') }} as effective_date,
    ranked.compensation_after as compensation_before,
    ranked.level_after as level_before
from ranked
cross join needs
cross join params
where ranked.termination_rank <= needs.new_hire_terminations
