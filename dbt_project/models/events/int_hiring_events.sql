{#-
  The year's hires: int_workforce_needs.total_hires_needed new employees per scenario. Every attribute is a
  hash draw on the new id (macro hire_employee_id: NH<year>_<sequence>, unique however many hires; census ids
  of that shape are rejected): level by the configured new-hire mix, pay uniform in the level's range
  (inflated by COLA per year since start_year), age by level (at most retirement_max_age - 2), hire date
  uniform in the year. The ids are the same in every scenario (1..its hires), so scenarios with one seed
  draw the same hires.
-#}
{%- set year = var('simulation_year') | int %}
with needs as (
    select * from {{ planalign_this_year('int_workforce_needs') }}
),

params as (
    select * from {{ ref('int_effective_parameters') }}
),

levels as (
    select
        *,
        sum(new_hire_share) over (partition by scenario_id order by job_level)
            / sum(new_hire_share) over (partition by scenario_id) as cumulative_share
    from {{ ref('stg_config_job_levels') }}
),

{#- one sequence as long as the largest scenario's hires, cut to each scenario's count -#}
new_ids as (
    select
        needs.scenario_id,
        {{ hire_employee_id(year, 'sequence.seq') }} as employee_id
    from needs
    inner join {{ planalign_sequence(
        'select coalesce(max(total_hires_needed), 0) from ' ~ planalign_this_year('int_workforce_needs')
    ) }}
        as sequence on needs.total_hires_needed >= sequence.seq
),

draws as (
    select
        new_ids.scenario_id,
        new_ids.employee_id,
        {{ planalign_uniform('hire_level', 'new_ids.employee_id', 'scenarios.random_seed') }} as u_level,
        {{ planalign_uniform('hire_pay', 'new_ids.employee_id', 'scenarios.random_seed') }} as u_pay,
        {{ planalign_uniform('hire_age', 'new_ids.employee_id', 'scenarios.random_seed') }} as u_age,
        {{ planalign_uniform('hire_birthday', 'new_ids.employee_id', 'scenarios.random_seed') }} as u_birthday,
        {{ planalign_uniform('hire_date', 'new_ids.employee_id', 'scenarios.random_seed') }} as u_date
    from new_ids
    inner join {{ ref('dim_scenarios') }} as scenarios on new_ids.scenario_id = scenarios.scenario_id
),

leveled as (
    select
        draws.*,
        (select min(levels.job_level) from levels
            where levels.scenario_id = draws.scenario_id and levels.cumulative_share > draws.u_level) as job_level
    from draws
),

hires as (
    select
        leveled.scenario_id,
        leveled.employee_id,
        leveled.job_level,
        cast(round((levels.min_compensation + leveled.u_pay * (levels.max_compensation - levels.min_compensation))
            * power(1 + params.cola_rate, {{ year - var('start_year') | int }}), 2) as decimal(18, 2))
            as compensation,
        {{ planalign_add_days('params.year_start', 'floor(leveled.u_date * params.days_in_year)') }} as hire_date,
        {#- never so old that the hire would be past retirement_max_age by December 31 -#}
        least(19 + 3 * leveled.job_level + cast(floor(leveled.u_age * (16 + 3 * leveled.job_level)) as integer),
            params.retirement_max_age - 2) as age_at_hire,
        leveled.u_birthday
    from leveled
    inner join levels on leveled.scenario_id = levels.scenario_id and leveled.job_level = levels.job_level
    inner join params on leveled.scenario_id = params.scenario_id
)

select
    scenario_id,
    employee_id,
    {{ year }} as simulation_year,
    'hire' as event_type,
    hire_date as effective_date,
    hire_date,
    {{ planalign_add_days(planalign_add_years('hire_date', '-1 - age_at_hire'), 'floor(u_birthday * 365) + 1') }}
        as birth_date,
    compensation as compensation_after,
    job_level as level_after
from hires
