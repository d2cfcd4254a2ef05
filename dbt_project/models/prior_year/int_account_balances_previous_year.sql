{#-
  The account balances carried into the simulation year (issue #20), one row per participant with money in
  the plan on January 1: in the first simulated year the census actives' optional opening_balance (0 when
  the column is absent or blank; it is taken as employee-source, fully vested money: the census does not
  split it by source, so no forfeiture can come from it), afterwards the previous year's closing balances of
  fct_account_balances (actives, and leavers who left their money in the plan), by source, with the unvested
  employer money a leaver keeps until five one-year breaks (issue #23 item 7; 0 unless
  vesting_forfeiture_timing is five_year_break) and whether those breaks complete this year. Read per
  scenario, for this build's scenarios only; every read is declared below so the graph is the same whatever
  year is compiled.
-#}
-- depends_on: {{ ref('stg_census_data') }}
-- depends_on: {{ ref('dim_scenarios') }}
-- depends_on: {{ source('planalign_state', 'fct_account_balances') }}
{%- set year = var('simulation_year') | int %}
{%- set start_year = var('start_year') | int %}
{% if year == start_year %}
select
    scenario_id,
    employee_id,
    cast(opening_balance as decimal(18, 2)) as employee_source_balance,
    cast(0 as decimal(18, 2)) as employer_source_balance,
    cast(0 as decimal(18, 2)) as unvested_balance,
    false as fifth_break,
    {{ year - 1 }} as state_year
from {{ ref('stg_census_data') }}
where census_status = 'active' and opening_balance > 0
{% else %}
select
    scenario_id,
    employee_id,
    cast(closing_balance - employer_source_closing_balance as decimal(18, 2)) as employee_source_balance,
    cast(employer_source_closing_balance as decimal(18, 2)) as employer_source_balance,
    cast(unvested_balance as decimal(18, 2)) as unvested_balance,
    {#- issue #23 item 7: a leaver of Y - 5 completes the fifth one-year break on December 31 of Y -#}
    exists(
        select 1 from {{ source('planalign_state', 'fct_account_balances') }} as left_then
        where left_then.simulation_year = {{ year - 5 }} and left_then.employment_status = 'terminated'
            and left_then.scenario_id = balances.scenario_id and left_then.employee_id = balances.employee_id
    ) as fifth_break,
    simulation_year as state_year
from {{ source('planalign_state', 'fct_account_balances') }} as balances
where simulation_year = {{ year - 1 }} and {{ planalign_in_build() }} and closing_balance > 0
{% endif %}
