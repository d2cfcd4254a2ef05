{#-
  Plan timing and vesting rules, one row per violation:
  * escalation_before_full_plan_years: an escalation before escalation_delay_years full plan years enrolled
    (the first full plan year is the enrollment year for a January 1 enrollment, the next year otherwise);
  * auto_enrollment_off_window: an auto-enrollment decision not on hire date + auto_enrollment_window_days
    (windows crossing December 31 carry into the next year, they are not cut short).
-#}
{%- set year = var('simulation_year') | int %}
with params as (
    select * from {{ ref('int_effective_parameters') }}
),

snapshot as (
    select * from {{ planalign_this_year('int_workforce_snapshot_optimized') }}
),

violations as (
    select escalations.employee_id, 'escalation_before_full_plan_years' as check_name,
        'enrolled ' || cast(actives.enrollment_date as varchar) as detail
    from {{ ref('int_deferral_escalation_events') }} as escalations
    inner join {{ ref('int_active_employees_prev_year_snapshot') }} as actives
        on escalations.employee_id = actives.employee_id
    cross join params
    where actives.enrollment_date is null
        or extract(year from actives.enrollment_date)
            + case when extract(month from actives.enrollment_date) = 1 and extract(day from actives.enrollment_date) = 1
                then 0 else 1 end
            + params.escalation_delay_years > {{ year }}

    union all
    select enrollments.employee_id, 'auto_enrollment_off_window',
        cast(snapshot.hire_date as varchar) || ' -> ' || cast(enrollments.effective_date as varchar)
    from {{ ref('int_enrollment_events') }} as enrollments
    inner join snapshot on enrollments.employee_id = snapshot.employee_id
    cross join params
    where enrollments.enrollment_source = 'auto'
        and (enrollments.effective_date <> least(
                {{ planalign_add_days('snapshot.hire_date', 'params.auto_enrollment_window_days') }}, params.year_end)
            or (extract(year from snapshot.hire_date) = {{ year }}
                and {{ planalign_add_days('snapshot.hire_date', 'params.auto_enrollment_window_days') }}
                    > params.year_end))
)

select {{ year }} as simulation_year, employee_id, check_name, detail
from violations
