{#-
  Actives at the end of the previous year with their full state: the census in the first simulated year,
  the previous year's int_workforce_snapshot_optimized afterwards, with their employer-account balance from
  the previous year's int_employer_contribution_accounts (0 for the census: it carries no balances). Every
  read is declared below so the graph is the same whatever year is compiled.
-#}
-- depends_on: {{ ref('stg_census_data') }}
-- depends_on: {{ source('planalign_state', 'int_workforce_snapshot_optimized') }}
-- depends_on: {{ source('planalign_state', 'int_employer_contribution_accounts') }}
{%- set year = var('simulation_year') | int %}
{%- set start_year = var('start_year') | int %}
{%- if year < start_year %}
    {{ exceptions.raise_compiler_error("simulation_year " ~ year ~ " is before start_year " ~ start_year) }}
{%- endif %}
{% if year == start_year %}
select
    employee_id,
    birth_date,
    hire_date,
    job_level,
    annual_compensation,
    coalesce(deferral_rate, 0) > 0 as is_enrolled,
    cast(coalesce(deferral_rate, 0) as decimal(8, 4)) as deferral_rate,
    case when coalesce(deferral_rate, 0) > 0 then date '{{ planalign_date_var("effective_date") }}' end as enrollment_date,
    false as ever_opted_out,
    cast(0 as decimal(18, 2)) as employer_account_balance,
    {{ year - 1 }} as state_year
from {{ ref('stg_census_data') }}
where census_status = 'active'
{% else %}
with prior as (
    select * from {{ source('planalign_state', 'int_workforce_snapshot_optimized') }}
    where simulation_year = {{ year - 1 }}
),

guard as (
    select {{ planalign_fail_if(
        "count(*) = 0",
        "'no simulation state for year " ~ (year - 1) ~ ": run the years in order starting at start_year " ~ start_year ~ "'"
    ) }} as passed
    from prior
)

select
    prior.employee_id,
    prior.birth_date,
    prior.hire_date,
    prior.job_level,
    prior.annual_compensation,
    prior.is_enrolled,
    prior.deferral_rate,
    prior.enrollment_date,
    prior.ever_opted_out,
    cast(coalesce(accounts.closing_balance, 0) as decimal(18, 2)) as employer_account_balance,
    prior.simulation_year as state_year
from prior
cross join guard
left join (
    select employee_id, closing_balance
    from {{ source('planalign_state', 'int_employer_contribution_accounts') }}
    where simulation_year = {{ year - 1 }}
) as accounts on prior.employee_id = accounts.employee_id
where prior.employment_status = 'active' and guard.passed
{% endif %}
