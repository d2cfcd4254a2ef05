{#-
  Plan timing and vesting rules, one row per violation:
  * escalation_before_full_plan_years: an escalation before escalation_delay_years full plan years enrolled
    (the first full plan year is the enrollment year for a January 1 enrollment, the next year otherwise);
  * auto_enrollment_off_window: an auto-enrollment decision not on entry date + auto_enrollment_window_days
    (windows crossing December 31 carry into the next year, they are not cut short);
  * vesting: the vested share is the schedule's for the years of service (1 from normal_retirement_age,
    reached by the termination date or December 31), the balance is the opening balance
    plus the year's employer money, the opening balance is last year's closing balance, only leavers forfeit
    and they forfeit exactly the unvested part (nothing in the year of leaving with forfeiture after five
    one-year breaks, vesting_forfeiture_timing);
  * enrollment_before_entry, deferral_before_entry: an enrollment before the plan entry date, deferrals
    counted from before it, or deferrals or match for someone who has not entered the plan by December 31;
  * active_past_retirement_max_age: an active at December 31 who has reached retirement_max_age;
  * retirement_not_from_hazard: a retirement of someone whose age has no retirement probability, or one
    that does not match the hazard draw (int_hazard_retirement);
  * core_rate_not_the_plan: a core rate other than core_contribution_rate (graded: the highest rate of the
    schedule rows whose min_age and min_service_years the employee has reached), or a core contribution
    before 415(c) other than that rate x annual plan compensation; core_schedule_invalid: a schedule row
    with a rate outside 0-1, a negative minimum, or two rows with the same minimums (employee_id null);
  * match_true_up_inconsistent: the match before 415(c) is not the per-pay-period match plus the true-up,
    the true-up is not annual - per-period (0 with match_true_up off), or a per-period match differs from
    the annual one for a deferrer who never reached the deferral limit;
  * roth_catch_up_not_applied: from roth_catch_up_start_year, a catch-up of an employee whose prior-year pay
    (the HCE look-back pay of int_nondiscrimination_employees) exceeded roth_catch_up_wage_threshold that
    is not all Roth, Roth money of anyone else, or pre-tax + Roth not the contribution;
  * plan types (issue #23; the configuration refuses these first, planalign.simulation.plan_types, so a row
    means a var set around it): permissive_withdrawal_not_eaca, a permissive withdrawal outside an EACA, not an
    opt-out of an auto-enrollment, or with a deferral; withdrawn_deferrals_kept, deferrals or match of the year
    for a participant who withdrew this year (IRC 414(w)(2)); qaca_default_outside_the_law, a QACA whose
    default is outside 401(k)(13)(C)(iii) on the latest schedule (3, 3, 4, 5, 6% minimum from the year of
    auto-enrollment) or above 10% in the initial period on the earliest, or above 15%;
    mandatory_default_outside_the_law, a SECURE 2.0 section 101 plan (IRC 414A(b)) whose default is outside
    3-10%, does not rise by 1 point a year from the second plan year, or stops outside 10-15%;
    safe_harbor_correction: an ADP refund in a safe-harbor year (or an ACP refund under a match design)
    (employee_id null for plan-level rows).
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
            + case when extract(month from actives.enrollment_date) = 1
                and extract(day from actives.enrollment_date) = 1
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
                {{ planalign_add_days('snapshot.eligibility_date', 'params.auto_enrollment_window_days') }},
                params.year_end)
            or (extract(year from snapshot.eligibility_date) = {{ year }}
                and {{ planalign_add_days('snapshot.eligibility_date', 'params.auto_enrollment_window_days') }}
                    > params.year_end))
    union all
    select accounts.scenario_id, accounts.employee_id, 'vested_share_not_the_schedule',
        cast(accounts.vested_share as varchar)
    from accounts
    inner join snapshot on accounts.scenario_id = snapshot.scenario_id and accounts.employee_id = snapshot.employee_id
    inner join params on accounts.scenario_id = params.scenario_id
    where accounts.vested_share <> case
        when {{ planalign_full_years('snapshot.birth_date', 'coalesce(snapshot.termination_date, params.year_end)') }}
            >= params.normal_retirement_age then 1
        else coalesce((
            select schedule.vested_share
            from {{ ref('int_effective_vesting_schedule') }} as schedule
            where schedule.scenario_id = accounts.scenario_id
                and schedule.years_of_service <= accounts.years_of_service
            order by schedule.years_of_service desc
            limit 1
        ), 0) end

    union all
    select accounts.scenario_id, accounts.employee_id, 'account_balance_not_explained',
        cast(accounts.balance as varchar)
    from accounts
    left join money on accounts.scenario_id = money.scenario_id and accounts.employee_id = money.employee_id
    left join {{ planalign_this_year('int_nondiscrimination_corrections') }} as corrections
        on accounts.scenario_id = corrections.scenario_id and accounts.employee_id = corrections.employee_id
    left join {{ planalign_this_year('int_top_heavy_minimum') }} as top_heavy
        on accounts.scenario_id = top_heavy.scenario_id and accounts.employee_id = top_heavy.employee_id
    where accounts.balance <> accounts.opening_balance + coalesce(money.employer_match, 0)
            - coalesce(corrections.match_forfeited, 0) - coalesce(corrections.acp_refund, 0)
            - coalesce(corrections.acp_forfeited, 0)
            + coalesce(money.employer_core_contribution, 0) + coalesce(top_heavy.top_heavy_minimum, 0)
        or accounts.vested_balance > accounts.balance

    union all
    select accounts.scenario_id, accounts.employee_id, 'forfeiture_not_the_unvested_part',
        cast(accounts.forfeiture as varchar)
    from accounts
    inner join params on accounts.scenario_id = params.scenario_id
    -- issue #23 item 7: with forfeiture after five one-year breaks nothing is forfeited on leaving
    where accounts.forfeiture <> case when accounts.employment_status = 'terminated'
            and not params.forfeiture_after_five_breaks
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

    union all
    select money.scenario_id, money.employee_id, 'core_rate_not_the_plan',
        cast(money.core_contribution_rate as varchar) || ' of '
            || cast(contributions.annual_plan_compensation as varchar)
    from money
    inner join params on money.scenario_id = params.scenario_id
    inner join snapshot on money.scenario_id = snapshot.scenario_id and money.employee_id = snapshot.employee_id
    inner join {{ planalign_this_year('int_employee_contributions') }} as contributions
        on money.scenario_id = contributions.scenario_id and money.employee_id = contributions.employee_id
    where money.core_contribution_rate <> case when params.core_contribution_graded
            then coalesce((
                select max(schedule.core_rate)
                from {{ ref('int_effective_core_contribution_schedule') }} as schedule
                where schedule.scenario_id = money.scenario_id
                    and schedule.min_age <= snapshot.age
                    and schedule.min_service_years <= snapshot.tenure_years
            ), 0)
            else params.core_contribution_rate end
        or abs(money.core_before_415c - round(money.core_contribution_rate * contributions.annual_plan_compensation, 2))
            > 0.005

    union all
    select schedule.scenario_id, cast(null as varchar), 'core_schedule_invalid',
        cast(schedule.min_age as varchar) || '/' || cast(schedule.min_service_years as varchar) || ' -> '
            || cast(schedule.core_rate as varchar)
    from {{ ref('int_effective_core_contribution_schedule') }} as schedule
    where schedule.core_rate not between 0 and 1
        or schedule.min_age < 0
        or schedule.min_service_years < 0
        or (select count(*) from {{ ref('int_effective_core_contribution_schedule') }} as other
            where other.scenario_id = schedule.scenario_id and other.min_age = schedule.min_age
                and other.min_service_years = schedule.min_service_years) > 1

    union all
    select money.scenario_id, money.employee_id, 'match_true_up_inconsistent',
        cast(money.match_per_pay_period as varchar) || ' + ' || cast(money.match_true_up as varchar)
            || ' vs ' || cast(money.match_annual as varchar)
    from money
    inner join params on money.scenario_id = params.scenario_id
    inner join {{ planalign_this_year('int_employee_contributions') }} as contributions
        on money.scenario_id = contributions.scenario_id and money.employee_id = contributions.employee_id
    where money.match_before_415c <> money.match_per_pay_period + money.match_true_up
        or money.match_true_up <> case when params.match_true_up
            then money.match_annual - money.match_per_pay_period else 0 end
        or (not contributions.is_limited and money.match_per_pay_period <> money.match_annual)

    union all
    select contributions.scenario_id, contributions.employee_id, 'roth_catch_up_not_applied',
        cast(contributions.prior_year_compensation as varchar) || ': '
            || cast(contributions.catch_up_contribution as varchar)
            || ' catch-up, ' || cast(contributions.roth_catch_up_contribution as varchar) || ' Roth'
    from {{ planalign_this_year('int_employee_contributions') }} as contributions
    inner join params on contributions.scenario_id = params.scenario_id
    left join {{ planalign_this_year('int_nondiscrimination_employees') }} as lookback
        on contributions.scenario_id = lookback.scenario_id and contributions.employee_id = lookback.employee_id
    where contributions.roth_catch_up_required is distinct from (
            {{ year }} >= params.roth_catch_up_start_year
            and params.roth_catch_up_wage_threshold > 0
            and coalesce(lookback.lookback_compensation, 0) > params.roth_catch_up_wage_threshold)
        or contributions.roth_catch_up_contribution
            <> case when contributions.roth_catch_up_required then contributions.catch_up_contribution else 0 end
        or contributions.roth_contribution <> contributions.roth_catch_up_contribution
        or contributions.pretax_contribution + contributions.roth_contribution <> contributions.employee_contribution

    union all
    select enrollments.scenario_id, enrollments.employee_id, 'permissive_withdrawal_not_eaca',
        enrollments.event_type || ' at ' || cast(enrollments.deferral_rate_after as varchar)
    from {{ ref('int_enrollment_events') }} as enrollments
    inner join params on enrollments.scenario_id = params.scenario_id
    where enrollments.enrollment_source = 'permissive_withdrawal'
        and (not params.auto_enrollment_eaca or not params.auto_enrollment_enabled
            or enrollments.event_type <> 'enrollment_opt_out' or enrollments.deferral_rate_after <> 0)

    union all
    select enrollments.scenario_id, enrollments.employee_id, 'withdrawn_deferrals_kept',
        cast(contributions.employee_contribution as varchar) || ' deferred, '
            || cast(money.employer_match as varchar) || ' match'
    from {{ ref('int_enrollment_events') }} as enrollments
    inner join money on enrollments.scenario_id = money.scenario_id and enrollments.employee_id = money.employee_id
    inner join {{ planalign_this_year('int_employee_contributions') }} as contributions
        on enrollments.scenario_id = contributions.scenario_id and enrollments.employee_id = contributions.employee_id
    where enrollments.enrollment_source = 'permissive_withdrawal'
        and (contributions.employee_contribution <> 0 or money.employer_match <> 0)

    union all
    select params.scenario_id, cast(null as varchar), 'qaca_default_outside_the_law',
        cast(params.auto_enrollment_default_deferral_rate as varchar) || ' + '
            || cast(params.escalation_increment as varchar)
            || ' after ' || cast(params.escalation_delay_years as varchar)
            || ' up to ' || cast(params.escalation_cap as varchar)
    from params
    where params.safe_harbor_qaca and params.safe_harbor_type > 0 and (
        not params.auto_enrollment_enabled
{%- for minimum in [0.03, 0.03, 0.04, 0.05, 0.06] %}
        -- the latest schedule: the first increase on January 1 of the auto-enrollment year + 1 + delay
        or case when params.escalation_enabled and params.auto_enrollment_default_deferral_rate < params.escalation_cap
            then least(params.escalation_cap, params.auto_enrollment_default_deferral_rate
                + greatest(0, {{ loop.index0 }} - params.escalation_delay_years) * params.escalation_increment)
            else params.auto_enrollment_default_deferral_rate end < {{ minimum }} - 1e-9
{%- endfor %}
        -- the earliest: a January 1 enrollment, the first increase max(1, delay) years later
        or case when params.escalation_enabled and params.auto_enrollment_default_deferral_rate < params.escalation_cap
            then least(params.escalation_cap, params.auto_enrollment_default_deferral_rate
                + greatest(0, 2 - greatest(1, params.escalation_delay_years)) * params.escalation_increment)
            else params.auto_enrollment_default_deferral_rate end > 0.10 + 1e-9
        or greatest(params.auto_enrollment_default_deferral_rate,
            case when params.escalation_enabled then params.escalation_cap else 0 end) > 0.15 + 1e-9)

    union all
    select params.scenario_id, cast(null as varchar), 'mandatory_default_outside_the_law',
        cast(params.auto_enrollment_default_deferral_rate as varchar) || ' + '
            || cast(params.escalation_increment as varchar)
            || ' after ' || cast(params.escalation_delay_years as varchar)
            || ' up to ' || cast(params.escalation_cap as varchar)
    from params
    where params.auto_enrollment_secure_2_0_mandatory and (
        not params.auto_enrollment_enabled
        or params.auto_enrollment_default_deferral_rate not between 0.03 - 1e-9 and 0.10 + 1e-9
        or (params.auto_enrollment_default_deferral_rate < 0.10 - 1e-9 and (not params.escalation_enabled
            or abs(params.escalation_increment - 0.01) > 1e-9 or params.escalation_delay_years > 1))
        or (params.escalation_enabled and params.escalation_cap not between 0.10 - 1e-9 and 0.15 + 1e-9))

    union all
    select corrections.scenario_id, corrections.employee_id, 'safe_harbor_correction',
        cast(corrections.adp_refund as varchar) || ' ADP, ' || cast(corrections.acp_refund as varchar) || ' ACP'
    from {{ planalign_this_year('int_nondiscrimination_corrections') }} as corrections
    inner join params on corrections.scenario_id = params.scenario_id
    where (params.safe_harbor_type > 0 and corrections.adp_refund <> 0)
        or (params.safe_harbor_type in (1, 2) and corrections.acp_refund <> 0)
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
