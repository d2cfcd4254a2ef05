{#- New-hire terminations: exactly round(hires * new_hire_termination_rate) per scenario, on a day between hire
    and year end. -#}
with needs as (
    select * from {{ planalign_this_year('int_workforce_needs') }}
),

params as (
    select * from {{ ref('int_effective_parameters') }}
),

ranked as (
    select
        hires.*,
        scenarios.random_seed,
        row_number() over (
            partition by hires.scenario_id
            order by {{ planalign_uniform('new_hire_termination', 'hires.employee_id', 'scenarios.random_seed') }},
                hires.employee_id
        ) as termination_rank
    from {{ ref('int_hiring_events') }} as hires
    inner join {{ ref('dim_scenarios') }} as scenarios on hires.scenario_id = scenarios.scenario_id
)

select
    ranked.scenario_id,
    ranked.employee_id,
    ranked.simulation_year,
    'termination' as event_type,
    'new_hire' as termination_kind,
    {{ planalign_add_days('ranked.hire_date',
        'floor(' ~ planalign_uniform('new_hire_termination_date', 'ranked.employee_id', 'ranked.random_seed') ~ ' * ('
        ~ planalign_days_between('ranked.hire_date', 'params.year_end') ~ ' + 1))') }} as effective_date,
    ranked.compensation_after as compensation_before,
    ranked.level_after as level_before
from ranked
inner join needs on ranked.scenario_id = needs.scenario_id
inner join params on ranked.scenario_id = params.scenario_id
where ranked.termination_rank <= needs.new_hire_terminations
