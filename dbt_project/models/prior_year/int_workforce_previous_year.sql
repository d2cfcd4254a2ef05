{#-
  Actives at the end of the previous year with their full state: the census in the first simulated year,
  the previous year's int_workforce_snapshot_optimized afterwards, with their employer-account balance from
  the previous year's int_employer_contribution_accounts (0 for the census: it carries no balances). Every
  read is declared below so the graph is the same whatever year is compiled. Per scenario: the census is
  shared (stg_census_data holds it once per scenario); earlier-year state is read for this build's scenarios
  only, and every one of them must have it.
-#}
-- depends_on: {{ ref('stg_census_data') }}
-- depends_on: {{ ref('dim_scenarios') }}
-- depends_on: {{ source('planalign_state', 'int_workforce_snapshot_optimized') }}
-- depends_on: {{ source('planalign_state', 'int_employer_contribution_accounts') }}
{%- set year = var('simulation_year') | int %}
{%- set start_year = var('start_year') | int %}
{%- if year < start_year %}
    {{ exceptions.raise_compiler_error("simulation_year " ~ year ~ " is before start_year " ~ start_year) }}
{%- endif %}
{% if year == start_year %}
select
    scenario_id,
    employee_id,
    birth_date,
    hire_date,
    job_level,
    annual_compensation,
    coalesce(deferral_rate, 0) > 0 as is_enrolled,
    cast(coalesce(deferral_rate, 0) as decimal(8, 4)) as deferral_rate,
    case when coalesce(deferral_rate, 0) > 0 then date '{{ planalign_date_var("effective_date") }}' end
        as enrollment_date,
    false as ever_opted_out,
    cast(0 as decimal(18, 2)) as employer_account_balance,
    {{ year - 1 }} as state_year
from {{ ref('stg_census_data') }}
where census_status = 'active'
{% else %}
with prior as (
    select * from {{ source('planalign_state', 'int_workforce_snapshot_optimized') }}
    where simulation_year = {{ year - 1 }} and {{ planalign_in_build() }}
),

guard as (
    select
        scenarios.scenario_id,
        {{ planalign_fail_if(
            "count(prior.scenario_id) = 0",
            "'no simulation state for year " ~ (year - 1) ~ " of scenario ' || scenarios.scenario_id || ': run the years in order starting at start_year " ~ start_year ~ "'"
        ) }} as passed
    from {{ ref('dim_scenarios') }} as scenarios
    left join prior on scenarios.scenario_id = prior.scenario_id
    group by scenarios.scenario_id
)

select
    prior.scenario_id,
    prior.employee_id,
    prior.birth_date,
    prior.hire_date,
    prior.job_level,
    prior.annual_compensation,
    prior.is_enrolled,
    prior.deferral_rate,
    prior.enrollment_date,
    prior.ever_opted_out,
    -- The two noqa marks below: SQLFluff 4.5's DuckDB grammar misreads this join sequence (the derived
    -- table `accounts` and the condition of `guard` are there; DuckDB binds both)
    cast(coalesce(accounts.closing_balance, 0) as decimal(18, 2)) as employer_account_balance,  -- noqa: RF01
    prior.simulation_year as state_year
from prior
inner join guard on prior.scenario_id = guard.scenario_id  -- noqa: AM08
left join (
    select scenario_id, employee_id, closing_balance
    from {{ source('planalign_state', 'int_employer_contribution_accounts') }}
    where simulation_year = {{ year - 1 }} and {{ planalign_in_build() }}
) as accounts on prior.scenario_id = accounts.scenario_id and prior.employee_id = accounts.employee_id
where prior.employment_status = 'active' and guard.passed
{% endif %}
