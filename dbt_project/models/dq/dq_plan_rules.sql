{#-
  Plan timing and vesting rules, one row per violation:
  * escalation_before_full_plan_years: an escalation before escalation_delay_years full plan years enrolled
    (the first full plan year is the enrollment year for a January 1 enrollment, the next year otherwise);
  * auto_enrollment_off_window: an auto-enrollment decision not on entry date + auto_enrollment_window_days
    (windows crossing December 31 carry into the next year, they are not cut short);
  * vesting: the vested share is the schedule's for the years of service, the balance is the opening balance
    plus the year's employer money, the opening balance is last year's closing balance, only leavers forfeit
    and they forfeit exactly the unvested part;
  * enrollment_before_entry, deferral_before_entry: an enrollment before the plan entry date, deferrals
    counted from before it, or deferrals or match for someone who has not entered the plan by December 31;
  * active_past_retirement_max_age: an active at December 31 who has reached retirement_max_age;
  * retirement_not_from_hazard: a retirement of someone whose age has no retirement probability, or one
    that does not match the hazard draw (int_hazard_retirement).
-#}
{%- set year = var('simulation_year') | int %}
with params as (
    select * from {{ ref('int_effective_parameters') }}
),

snapshot as (
    select * from {{ planalign_this_year('int_workforce_snapshot_optimized') }}
),

accounts as (
    select * from {{ planalign_this_year('int_employer_contribution_accounts') }}
),

money as (
    select * from {{ planalign_this_year('int_employee_match_calculations') }}
),

violations as (
    select escalations.scenario_id, escalations.employee_id, 'escalation_before_full_plan_years' as check_name,
        'enrolled ' || cast(actives.enrollment_date as varchar) as detail
    from {{ ref('int_deferral_escalation_events') }} as escalations
    inner join {{ ref('int_active_employees_prev_year_snapshot') }} as actives
        on escalations.scenario_id = actives.scenario_id and escalations.employee_id = actives.employee_id
    inner join params on escalations.scenario_id = params.scenario_id
    where actives.enrollment_date is null
        or extract(year from actives.enrollment_date)
            + case when extract(month from actives.enrollment_date) = 1 and extract(day from actives.enrollment_date) = 1
                then 0 else 1 end
            + params.escalation_delay_years > {{ year }}

    union all
    select enrollments.scenario_id, enrollments.employee_id, 'auto_enrollment_off_window',
        cast(snapshot.eligibility_date as varchar) || ' -> ' || cast(enrollments.effective_date as varchar)
    from {{ ref('int_enrollment_events') }} as enrollments
    inner join snapshot
        on enrollments.scenario_id = snapshot.scenario_id and enrollments.employee_id = snapshot.employee_id
    inner join params on enrollments.scenario_id = params.scenario_id
    where enrollments.enrollment_source = 'auto'
        and (enrollments.effective_date <> least(
                {{ planalign_add_days('snapshot.eligibility_date', 'params.auto_enrollment_window_days') }}, params.year_end)
            or (extract(year from snapshot.eligibility_date) = {{ year }}
                and {{ planalign_add_days('snapshot.eligibility_date', 'params.auto_enrollment_window_days') }}
                    > params.year_end))
    union all
    select accounts.scenario_id, accounts.employee_id, 'vested_share_not_the_schedule',
        cast(accounts.vested_share as varchar)
    from accounts
    where accounts.vested_share <> coalesce((
        select schedule.vested_share
        from {{ ref('int_effective_vesting_schedule') }} as schedule
        where schedule.scenario_id = accounts.scenario_id
            and schedule.years_of_service <= accounts.years_of_service
        order by schedule.years_of_service desc
        limit 1
    ), 0)

    union all
    select accounts.scenario_id, accounts.employee_id, 'account_balance_not_explained',
        cast(accounts.balance as varchar)
    from accounts
    left join money on accounts.scenario_id = money.scenario_id and accounts.employee_id = money.employee_id
    where accounts.balance <> accounts.opening_balance + coalesce(money.employer_match, 0)
            + coalesce(money.employer_core_contribution, 0)
        or accounts.vested_balance > accounts.balance

    union all
    select accounts.scenario_id, accounts.employee_id, 'forfeiture_not_the_unvested_part',
        cast(accounts.forfeiture as varchar)
    from accounts
    where accounts.forfeiture <> case when accounts.employment_status = 'terminated'
            then accounts.balance - accounts.vested_balance else 0 end
        or accounts.closing_balance <> case when accounts.employment_status = 'active' then accounts.balance else 0 end

    union all
    select enrollments.scenario_id, enrollments.employee_id, 'enrollment_before_entry',
        cast(snapshot.eligibility_date as varchar) || ' > ' || cast(enrollments.effective_date as varchar)
    from {{ ref('int_enrollment_events') }} as enrollments
    inner join snapshot
        on enrollments.scenario_id = snapshot.scenario_id and enrollments.employee_id = snapshot.employee_id
    where enrollments.effective_date < snapshot.eligibility_date

    union all
    select snapshot.scenario_id, snapshot.employee_id, 'deferral_before_entry',
        cast(snapshot.eligibility_date as varchar)
    from snapshot
    inner join money on snapshot.scenario_id = money.scenario_id and snapshot.employee_id = money.employee_id
    inner join {{ planalign_this_year('int_employee_contributions') }} as contributions
        on snapshot.scenario_id = contributions.scenario_id and snapshot.employee_id = contributions.employee_id
    inner join params on snapshot.scenario_id = params.scenario_id
    where (snapshot.deferral_compensation > 0 and snapshot.deferral_start_date < snapshot.eligibility_date)
        or (snapshot.eligibility_date > params.year_end
            and (contributions.employee_contribution > 0 or money.employer_match > 0))

    union all
    select snapshot.scenario_id, snapshot.employee_id, 'active_past_retirement_max_age',
        cast(snapshot.age as varchar)
    from snapshot
    inner join params on snapshot.scenario_id = params.scenario_id
    where snapshot.employment_status = 'active' and snapshot.age >= params.retirement_max_age

    union all
    select coalesce(retirements.scenario_id, hazard.scenario_id), coalesce(retirements.employee_id, hazard.employee_id),
        'retirement_not_from_hazard', 'age ' || coalesce(cast(hazard.age_at_year_end as varchar), '?')
    from (
        select scenario_id, employee_id from {{ ref('int_termination_events') }} where termination_kind = 'retirement'
    ) as retirements
    full outer join (
        select * from {{ ref('int_hazard_retirement') }} where is_retiring
    ) as hazard on retirements.scenario_id = hazard.scenario_id and retirements.employee_id = hazard.employee_id
    where retirements.employee_id is null or hazard.employee_id is null or hazard.retirement_rate <= 0
{%- if year > var('start_year') | int %}

    union all
    select accounts.scenario_id, accounts.employee_id, 'opening_balance_not_last_closing',
        cast(accounts.opening_balance as varchar)
    from accounts
    left join (
        select scenario_id, employee_id, closing_balance
        from {{ ref('int_employer_contribution_accounts') }}
        where simulation_year = {{ year - 1 }} and {{ planalign_in_build() }}
    ) as last_year on accounts.scenario_id = last_year.scenario_id and accounts.employee_id = last_year.employee_id
    where accounts.opening_balance <> coalesce(last_year.closing_balance, 0)
{%- endif %}
)

select scenario_id, {{ year }} as simulation_year, employee_id, check_name, detail
from violations
