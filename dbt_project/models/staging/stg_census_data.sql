{#-
  The good census rows, typed. The model fails (and with it the run) when the share of rejected rows is
  above census_max_reject_share: a simulation built on a badly broken census would be quietly wrong.
-#}
{%- set max_share = planalign_number_literal(var('census_max_reject_share'), 'census_max_reject_share') | trim -%}
{%- set effective_date = planalign_date_var('effective_date') | trim -%}
{%- set census_label = var('census_path') | replace("'", "''") -%}
with census_rows as (
    select * from {{ ref('stg_census_rows') }}
),

{#- per scenario (each holds the whole file), so the counts and the message are the file's -#}
counts as (
    select
        scenarios.scenario_id,
        count(census_rows.scenario_id) as total_rows,
        count(census_rows.reject_reason) as rejected_rows
    from {{ ref('dim_scenarios') }} as scenarios
    left join census_rows on scenarios.scenario_id = census_rows.scenario_id
    group by scenarios.scenario_id
),

gate as (
    select
        scenario_id,
        {{ planalign_fail_if("total_rows = 0", "'census file " ~ census_label ~ " has no rows'") }}
        and {{ planalign_fail_if(
            "rejected_rows > " ~ max_share ~ " * total_rows",
            "'census file " ~ census_label ~ ": ' || rejected_rows || ' of ' || total_rows
              || ' rows are rejected, above the allowed share " ~ max_share ~ "; see model dq_census_rejects for each row and its reason, fix the file or raise var census_max_reject_share'"
        ) }} as passed
    from counts
)

{#- stg_census_rows' text is already trimmed with blanks as null, and the rules guarantee these casts. -#}
select
    census_rows.scenario_id,
    census_rows.employee_id,
    cast(census_rows.birth_date as date) as birth_date,
    cast(census_rows.hire_date as date) as hire_date,
    cast(census_rows.termination_date as date) as termination_date,
    cast(cast(census_rows.annual_compensation as double) as decimal(18, 2)) as annual_compensation,
    cast(cast(census_rows.job_level as double) as integer) as job_level,
    cast(cast(census_rows.deferral_rate as double) as decimal(8, 4)) as deferral_rate,
    case
        when census_rows.termination_date is null
            or cast(census_rows.termination_date as date) > date '{{ effective_date }}'
            then 'active'
        else 'terminated'
    end as census_status,
    {#- optional (issue #20): the account balance on the effective date; absent or blank = 0 -#}
    cast(coalesce(cast(census_rows.opening_balance as double), 0) as decimal(18, 2)) as opening_balance,
    {#- optional (issue #23): pay received in the year before the first simulated year; null when not given -#}
    cast(cast(census_rows.prior_year_compensation as double) as decimal(18, 2)) as prior_year_compensation,
    {#- optional (issue #23): the share of the employer owned (top-heavy key employees); blank = 0 -#}
    cast(coalesce(cast(census_rows.ownership_share as double), 0) as double) as ownership_share
from census_rows
inner join gate on census_rows.scenario_id = gate.scenario_id
where census_rows.reject_reason is null and gate.passed
