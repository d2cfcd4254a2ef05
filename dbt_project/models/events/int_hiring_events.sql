{#-
  The year's hires: int_workforce_needs.total_hires_needed new employees. Every attribute is a hash draw on
  the new id (macro hire_employee_id: NH<year>_<sequence>, unique however many hires; census ids of that
  shape are rejected): level by the configured new-hire mix, pay uniform in the level's range (inflated by COLA per
  year since start_year), age by level (at most retirement_max_age - 2), hire date uniform in the year.
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
        sum(new_hire_share) over (order by job_level) / sum(new_hire_share) over () as cumulative_share
    from {{ ref('stg_config_job_levels') }}
),

new_ids as (
    select
        {{ hire_employee_id(year, 'seq') }} as employee_id
    from {{ planalign_sequence('select total_hires_needed from ' ~ planalign_this_year('int_workforce_needs')) }}
),

draws as (
    select
        employee_id,
        {{ planalign_uniform('hire_level', 'employee_id') }} as u_level,
        {{ planalign_uniform('hire_pay', 'employee_id') }} as u_pay,
        {{ planalign_uniform('hire_age', 'employee_id') }} as u_age,
        {{ planalign_uniform('hire_birthday', 'employee_id') }} as u_birthday,
        {{ planalign_uniform('hire_date', 'employee_id') }} as u_date
    from new_ids
),

leveled as (
    select
        draws.*,
        (select min(levels.job_level) from levels where levels.cumulative_share > draws.u_level) as job_level
    from draws
),

hires as (
    select
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
    inner join levels on leveled.job_level = levels.job_level
    cross join params
)

select
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
