{#- The scalar parameters in force for the simulation year: var overrides over seed values, IRS limits indexed. -#}
{%- set year = var('simulation_year') | int %}
{%- if year > var('start_year') | int + 59 %}
    {{ exceptions.raise_compiler_error("dim_payroll_calendar covers 60 years from start_year; simulation_year " ~ year ~ " is beyond it") }}
{%- endif %}
{%- set wf = ref('stg_config_workforce_parameters') %}
{%- set plan = ref('stg_config_plan_parameters') %}
with irs as (
    select * from {{ ref('stg_config_irs_limits') }}
),

last_seeded as (
    select * from irs where plan_year = (select max(plan_year) from irs)
),

indexing as (
    select {{ planalign_param('irs_indexing_rate', wf) }} as rate
),

{#- Beyond the seeded years, limits grow with irs_indexing_rate and round down like the IRS does. -#}
limits as (
    select
        coalesce(
            (select elective_deferral_limit from irs where plan_year = {{ year }}),
            floor(last_seeded.elective_deferral_limit
                * power(1 + indexing.rate, {{ year }} - last_seeded.plan_year) / 500) * 500
        ) as elective_deferral_limit,
        coalesce(
            (select catch_up_limit from irs where plan_year = {{ year }}),
            floor(last_seeded.catch_up_limit * power(1 + indexing.rate, {{ year }} - last_seeded.plan_year) / 500)
                * 500
        ) as catch_up_limit,
        coalesce(
            (select compensation_limit from irs where plan_year = {{ year }}),
            floor(last_seeded.compensation_limit
                * power(1 + indexing.rate, {{ year }} - last_seeded.plan_year) / 5000) * 5000
        ) as compensation_limit,
        coalesce(
            (select super_catch_up_limit from irs where plan_year = {{ year }}),
            floor(last_seeded.super_catch_up_limit
                * power(1 + indexing.rate, {{ year }} - last_seeded.plan_year) / 500) * 500
        ) as super_catch_up_limit,
        coalesce(
            (select annual_additions_limit from irs where plan_year = {{ year }}),
            floor(last_seeded.annual_additions_limit
                * power(1 + indexing.rate, {{ year }} - last_seeded.plan_year) / 1000) * 1000
        ) as annual_additions_limit,
        {#- 414(q)(1)(B): the limit of the look-back year Y - 1 decides who is highly compensated in Y -#}
        coalesce(
            (select hce_compensation_limit from irs where plan_year = {{ year - 1 }}),
            floor(last_seeded.hce_compensation_limit
                * power(1 + indexing.rate, {{ year - 1 }} - last_seeded.plan_year) / 5000) * 5000
        ) as hce_compensation_limit,
        coalesce(
            (select key_employee_compensation_limit from irs where plan_year = {{ year }}),
            floor(last_seeded.key_employee_compensation_limit
                * power(1 + indexing.rate, {{ year }} - last_seeded.plan_year) / 5000) * 5000
        ) as key_employee_compensation_limit
    from last_seeded
    cross join indexing
)

select
    {{ year }} as simulation_year,
    calendar.year_start,
    calendar.year_end,
    calendar.days_in_year,
    {{ planalign_param('target_growth_rate', wf) }} as target_growth_rate,
    {{ planalign_param('total_termination_rate', wf) }} as total_termination_rate,
    {{ planalign_param('new_hire_termination_rate', wf) }} as new_hire_termination_rate,
    {{ planalign_param('cola_rate', wf) }} as cola_rate,
    {{ planalign_make_date(year, planalign_param('merit_effective_month', wf), 1) }} as merit_effective_date,
    {{ planalign_param('auto_enrollment_enabled', plan) }} > 0 as auto_enrollment_enabled,
    {{ planalign_param('auto_enrollment_default_deferral_rate', plan) }} as auto_enrollment_default_deferral_rate,
    {{ planalign_param('auto_enrollment_opt_out_rate', plan) }} as auto_enrollment_opt_out_rate,
    cast({{ planalign_param('auto_enrollment_window_days', plan) }} as integer) as auto_enrollment_window_days,
    {{ planalign_param('voluntary_enrollment_rate', plan) }} as voluntary_enrollment_rate,
    {{ planalign_param('escalation_enabled', plan) }} > 0 as escalation_enabled,
    {{ planalign_param('escalation_increment', plan) }} as escalation_increment,
    {{ planalign_param('escalation_cap', plan) }} as escalation_cap,
    cast({{ planalign_param('escalation_delay_years', plan) }} as integer) as escalation_delay_years,
    {{ planalign_param('match_cap_rate', plan) }} as match_cap_rate,
    cast({{ planalign_param('catch_up_age', plan) }} as integer) as catch_up_age,
    limits.elective_deferral_limit,
    limits.catch_up_limit,
    limits.compensation_limit,
    limits.super_catch_up_limit,
    limits.annual_additions_limit,
    limits.hce_compensation_limit,
    limits.key_employee_compensation_limit,
    {{ planalign_param('hce_top_paid_group', plan) }} > 0 as hce_top_paid_group,
    cast({{ planalign_param('eligibility_min_age', plan) }} as integer) as eligibility_min_age,
    cast({{ planalign_param('eligibility_service_months', plan) }} as integer) as eligibility_service_months,
    cast({{ planalign_param('eligibility_service_days', plan) }} as integer) as eligibility_service_days,
    cast({{ planalign_param('eligibility_entry_frequency_months', plan) }} as integer)
        as eligibility_entry_frequency_months,
    {{ planalign_param('core_contribution_rate', plan) }} as core_contribution_rate,
    {{ planalign_param('forfeitures_offset_employer_cost', plan) }} > 0 as forfeitures_offset_employer_cost,
    cast({{ planalign_param('retirement_max_age', wf) }} as integer) as retirement_max_age
from limits
cross join (
    select * from {{ ref('dim_payroll_calendar') }} where calendar_year = {{ year }}
) as calendar
