{#- The scalar parameters in force for the simulation year, one row per scenario: the scenario's var, else the
    top-level var, else the seed value (macro planalign_param), IRS limits indexed. -#}
{%- set year = var('simulation_year') | int %}
{%- if year > var('start_year') | int + 59 %}
    {{ exceptions.raise_compiler_error("dim_payroll_calendar covers 60 years from start_year; simulation_year " ~ year ~ " is beyond it") }}
{%- endif %}
with irs as (
    select * from {{ ref('stg_config_irs_limits') }}
),

last_seeded as (
    select * from irs where plan_year = (select max(seeded.plan_year) from irs as seeded)
),

this_year as (
    select * from irs where plan_year = {{ year }}
),

lookback_year as (
    select * from irs where plan_year = {{ year - 1 }}
),

{#- the scalar parameters as the project resolves them (int_effective_parameter_values, the one lookup) -#}
scenario_values as (
    select * from {{ ref('int_effective_parameter_values') }}
),

indexing as (
    select scenario_id, irs_indexing_rate as rate from scenario_values
),

{#- Beyond the seeded years, limits grow with irs_indexing_rate and round down like the IRS does. -#}
limits as (
    select
        indexing.scenario_id,
        coalesce(
            this_year.elective_deferral_limit,
            floor(last_seeded.elective_deferral_limit
                * power(1 + indexing.rate, {{ year }} - last_seeded.plan_year) / 500) * 500
        ) as elective_deferral_limit,
        coalesce(
            this_year.catch_up_limit,
            floor(last_seeded.catch_up_limit * power(1 + indexing.rate, {{ year }} - last_seeded.plan_year) / 500)
                * 500
        ) as catch_up_limit,
        coalesce(
            this_year.compensation_limit,
            floor(last_seeded.compensation_limit
                * power(1 + indexing.rate, {{ year }} - last_seeded.plan_year) / 5000) * 5000
        ) as compensation_limit,
        coalesce(
            this_year.super_catch_up_limit,
            floor(last_seeded.super_catch_up_limit
                * power(1 + indexing.rate, {{ year }} - last_seeded.plan_year) / 500) * 500
        ) as super_catch_up_limit,
        coalesce(
            this_year.annual_additions_limit,
            floor(last_seeded.annual_additions_limit
                * power(1 + indexing.rate, {{ year }} - last_seeded.plan_year) / 1000) * 1000
        ) as annual_additions_limit,
        {#- 414(q)(1)(B): the limit of the look-back year Y - 1 decides who is highly compensated in Y -#}
        coalesce(
            lookback_year.hce_compensation_limit,
            floor(last_seeded.hce_compensation_limit
                * power(1 + indexing.rate, {{ year - 1 }} - last_seeded.plan_year) / 5000) * 5000
        ) as hce_compensation_limit,
        coalesce(
            this_year.key_employee_compensation_limit,
            floor(last_seeded.key_employee_compensation_limit
                * power(1 + indexing.rate, {{ year }} - last_seeded.plan_year) / 5000) * 5000
        ) as key_employee_compensation_limit,
        {#- 414(v)(7)(E): indexed like 415(d), rounded down to a multiple of $5,000 -#}
        coalesce(
            this_year.roth_catch_up_wage_threshold,
            floor(last_seeded.roth_catch_up_wage_threshold
                * power(1 + indexing.rate, {{ year }} - last_seeded.plan_year) / 5000) * 5000
        ) as roth_catch_up_wage_threshold
    from last_seeded
    inner join indexing on last_seeded.scenario_id = indexing.scenario_id
    left join this_year on last_seeded.scenario_id = this_year.scenario_id
    left join lookback_year on last_seeded.scenario_id = lookback_year.scenario_id
)

select
    params.scenario_id,
    {{ year }} as simulation_year,
    calendar.year_start,
    calendar.year_end,
    calendar.days_in_year,
    params.target_growth_rate,
    params.total_termination_rate,
    params.new_hire_termination_rate,
    params.cola_rate,
    {{ planalign_make_date(year, 'params.merit_effective_month', 1) }} as merit_effective_date,
    params.auto_enrollment_enabled > 0 as auto_enrollment_enabled,
    params.auto_enrollment_default_deferral_rate,
    params.auto_enrollment_opt_out_rate,
    cast(params.auto_enrollment_window_days as integer) as auto_enrollment_window_days,
    params.voluntary_enrollment_rate,
    params.escalation_enabled > 0 as escalation_enabled,
    params.escalation_increment,
    params.escalation_cap,
    cast(params.escalation_delay_years as integer) as escalation_delay_years,
    params.match_cap_rate,
    cast(params.catch_up_age as integer) as catch_up_age,
    limits.elective_deferral_limit,
    limits.catch_up_limit,
    limits.compensation_limit,
    limits.super_catch_up_limit,
    limits.annual_additions_limit,
    limits.hce_compensation_limit,
    limits.key_employee_compensation_limit,
    params.hce_top_paid_group > 0 as hce_top_paid_group,
    cast(params.eligibility_min_age as integer) as eligibility_min_age,
    cast(params.eligibility_service_months as integer) as eligibility_service_months,
    cast(params.eligibility_service_days as integer) as eligibility_service_days,
    cast(params.eligibility_entry_frequency_months as integer) as eligibility_entry_frequency_months,
    params.core_contribution_rate,
    params.core_contribution_graded > 0 as core_contribution_graded,
    params.match_true_up > 0 as match_true_up,
    cast(params.roth_catch_up_start_year as integer) as roth_catch_up_start_year,
    limits.roth_catch_up_wage_threshold,
    params.forfeitures_offset_employer_cost > 0 as forfeitures_offset_employer_cost,
    cast(params.retirement_max_age as integer) as retirement_max_age,
    params.deferral_response_enabled > 0 as deferral_response_enabled,
    params.deferral_match_threshold_share,
    params.deferral_below_match_share,
    params.voluntary_enrollment_match_sensitivity,
    params.voluntary_enrollment_match_reference,
    params.auto_enrollment_default_departure_rate,
    params.auto_enrollment_opt_out_default_slope,
    params.escalation_opt_out_rate,
    cast(params.vesting_normal_retirement_age as integer) as normal_retirement_age,
    cast(params.safe_harbor_type as integer) as safe_harbor_type,
    params.safe_harbor_qaca > 0 as safe_harbor_qaca,
    {#- IRC 414A(b)(1): an arrangement under section 101 of SECURE 2.0 is an EACA -#}
    params.auto_enrollment_eaca > 0 or params.auto_enrollment_secure_2_0_mandatory > 0 as auto_enrollment_eaca,
    params.auto_enrollment_permissive_withdrawal_share,
    params.auto_enrollment_secure_2_0_mandatory > 0 as auto_enrollment_secure_2_0_mandatory,
    {#- issue #23 item 7: 1 = forfeiture after five one-year breaks (else at distribution, today's); 1 = prior-year
        testing (else current-year) -#}
    params.vesting_forfeiture_timing > 0 as forfeiture_after_five_breaks,
    params.nondiscrimination_testing_method > 0 as prior_year_testing
from scenario_values as params
inner join limits on params.scenario_id = limits.scenario_id
inner join (
    select * from {{ ref('dim_payroll_calendar') }} where calendar_year = {{ year }}
) as calendar on params.scenario_id = calendar.scenario_id
