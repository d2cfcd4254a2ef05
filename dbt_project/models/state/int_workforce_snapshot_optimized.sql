{#-
  Full employee state at the end of the year (everyone employed at some point in the year), built from the
  start-of-year state and the year's events. Next year's int_workforce_previous_year reads it back through
  source('planalign_state', ...). Pay is prorated by calendar day: the start-of-year rate (after any January 1
  promotion) until the day before the merit date, the post-raise rate from it, only while employed.
-#}
with params as (
    select * from {{ ref('int_effective_parameters') }}
),

population as (
    select
        scenario_id, employee_id, simulation_year, birth_date, hire_date, job_level, annual_compensation,
        false as is_new_hire
    from {{ ref('int_active_employees_prev_year_snapshot') }}
    union all
    select
        scenario_id, employee_id, simulation_year, birth_date, hire_date, level_after, compensation_after, true
    from {{ ref('int_hiring_events') }}
),

terminations as (
    select scenario_id, employee_id, effective_date from {{ ref('int_termination_events') }}
    union all
    select scenario_id, employee_id, effective_date from {{ ref('int_new_hire_termination_events') }}
),

state as (
    select
        population.scenario_id,
        population.employee_id,
        population.simulation_year,
        population.birth_date,
        population.hire_date,
        {{ planalign_eligibility_date('population.birth_date', 'population.hire_date') }} as eligibility_date,
        terminations.effective_date as termination_date,
        population.is_new_hire,
        coalesce(promo.level_after, population.job_level) as job_level,
        population.annual_compensation as starting_compensation,
        coalesce(promo.compensation_after, population.annual_compensation) as pre_raise_compensation,
        coalesce(merit.compensation_after, promo.compensation_after, population.annual_compensation)
            as annual_compensation,
        greatest(population.hire_date, params.year_start) as employed_from,
        coalesce(terminations.effective_date, params.year_end) as employed_to,
        params.merit_effective_date,
        params.year_start,
        params.year_end,
        params.days_in_year,
        enrollment.is_enrolled,
        enrollment.enrollment_date,
        enrollment.ever_opted_out,
        deferral.deferral_rate,
        deferral.deferral_start_date
    from population
    inner join params on population.scenario_id = params.scenario_id
    left join terminations
        on population.scenario_id = terminations.scenario_id and population.employee_id = terminations.employee_id
    left join {{ ref('int_promotion_events') }} as promo
        on population.scenario_id = promo.scenario_id and population.employee_id = promo.employee_id
    left join {{ ref('int_merit_events') }} as merit
        on population.scenario_id = merit.scenario_id and population.employee_id = merit.employee_id
    left join {{ planalign_this_year('int_enrollment_state_accumulator') }} as enrollment
        on population.scenario_id = enrollment.scenario_id and population.employee_id = enrollment.employee_id
    left join {{ planalign_this_year('int_deferral_rate_state_accumulator_v2') }} as deferral
        on population.scenario_id = deferral.scenario_id and population.employee_id = deferral.employee_id
),

{%- set merit_eve = planalign_add_days('merit_effective_date', -1) %}
paid as (
    select
        *,
        (pre_raise_compensation * {{ planalign_overlap_days('employed_from', 'employed_to', 'year_start', merit_eve) }}
            + annual_compensation
                * {{ planalign_overlap_days('employed_from', 'employed_to', 'merit_effective_date', 'year_end') }}
        ) / days_in_year as prorated_compensation_raw,
        case when is_enrolled and deferral_rate > 0 then
            (pre_raise_compensation
                * {{ planalign_overlap_days(
                    'greatest(employed_from, deferral_start_date)', 'employed_to', 'year_start', merit_eve
                ) }}
             + annual_compensation
                * {{ planalign_overlap_days(
                    'greatest(employed_from, deferral_start_date)', 'employed_to', 'merit_effective_date', 'year_end'
                ) }}
            ) / days_in_year
        else 0 end as deferral_compensation_raw
    from state
)

select
    cast(scenario_id as varchar) as scenario_id,
    cast(employee_id as varchar) as employee_id,
    cast(simulation_year as integer) as simulation_year,
    case when termination_date is null then 'active' else 'terminated' end as employment_status,
    birth_date,
    hire_date,
    termination_date,
    eligibility_date,
    is_new_hire,
    {{ planalign_full_years('birth_date', 'year_end') }} as age,
    {{ planalign_full_years('hire_date', 'coalesce(termination_date, year_end)') }} as tenure_years,
    cast(job_level as integer) as job_level,
    cast(starting_compensation as decimal(18, 2)) as starting_compensation,
    cast(annual_compensation as decimal(18, 2)) as annual_compensation,
    cast(round(prorated_compensation_raw, 2) as decimal(18, 2)) as prorated_compensation,
    cast(round(deferral_compensation_raw, 2) as decimal(18, 2)) as deferral_compensation,
    coalesce(is_enrolled, false) as is_enrolled,
    enrollment_date,
    coalesce(ever_opted_out, false) as ever_opted_out,
    cast(coalesce(deferral_rate, 0) as decimal(8, 4)) as deferral_rate,
    deferral_start_date
from paid
