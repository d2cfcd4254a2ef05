{#-
  The account-balance parameters in force for the simulation year, one row per scenario (issue #20; seed
  config_account_balance_parameters, each overridden by the var of the same name, per scenario), and the
  year's investment return.

  The return is one draw per seed and year, not per employee: the whole plan is invested alike (one default
  fund), so an ensemble of seeds carries market risk and scenarios with one seed see the same market
  (common random numbers: the draw hashes seed|market|year|kind, nothing scenario-specific). It is
  lognormal with mean account_balances_expected_return and standard deviation
  account_balances_return_volatility: 1 + r = exp(mu + sigma z), sigma^2 = ln(1 + vol^2 / (1 + E)^2),
  mu = ln(1 + E) - sigma^2 / 2, z standard normal from two uniform draws (Box-Muller; DuckDB has no inverse
  normal). Deterministic mode (account_balances_deterministic_returns, or a volatility of 0) is exactly E.
  half_year_return = sqrt(1 + r) - 1 is what a contribution earns: contributions arrive evenly through the
  year, i.e. on average at mid-year.
-#}
{%- set year = var('simulation_year') | int %}
with scenario_values as (
    select
        scenario_id,
        account_balances_enabled as enabled,
        account_balances_expected_return as expected_return,
        account_balances_return_volatility as return_volatility,
        account_balances_deterministic_returns as deterministic_returns,
        account_balances_distributions_enabled as distributions_enabled,
        account_balances_cash_out_limit as cash_out_limit,
        account_balances_involuntary_limit as involuntary_limit,
        account_balances_small_cash_out_share as small_cash_out_share,
        account_balances_cash_out_share as cash_out_share,
        account_balances_rollover_share as rollover_share,
        account_balances_top_heavy as top_heavy
    from {{ ref('int_effective_parameter_values') }}
),

draws as (
    select
        scenario_values.*,
        scenarios.random_seed,
        {{ planalign_uniform('market_return_u1', "'market'", 'scenarios.random_seed') }} as u1,
        {{ planalign_uniform('market_return_u2', "'market'", 'scenarios.random_seed') }} as u2,
        sqrt(ln(1 + pow(scenario_values.return_volatility, 2) / pow(1 + scenario_values.expected_return, 2)))
            as sigma
    from scenario_values
    inner join {{ ref('dim_scenarios') }} as scenarios on scenario_values.scenario_id = scenarios.scenario_id
),

returns as (
    select
        *,
        case
            when deterministic_returns > 0 or return_volatility = 0 then expected_return
            else exp(ln(1 + expected_return) - sigma * sigma / 2
                + sigma * sqrt(-2 * ln(1 - u1)) * cos(2 * pi() * u2)) - 1
        end as annual_return
    from draws
    where {{ planalign_fail_if(
        "not (expected_return > -1 and return_volatility >= 0 and cash_out_limit >= 0"
        ~ " and involuntary_limit >= cash_out_limit and small_cash_out_share between 0 and 1"
        ~ " and cash_out_share >= 0 and rollover_share >= 0 and cash_out_share + rollover_share <= 1)",
        "'account balance parameters of scenario ' || scenario_id || ' are out of range: need"
        ~ " account_balances_expected_return > -1, account_balances_return_volatility >= 0,"
        ~ " 0 <= account_balances_cash_out_limit <= account_balances_involuntary_limit and shares in [0, 1]"
        ~ " with account_balances_cash_out_share + account_balances_rollover_share <= 1; fix the vars'"
    ) }}
)

select
    scenario_id,
    cast({{ year }} as integer) as simulation_year,
    cast(random_seed as bigint) as random_seed,
    enabled > 0 as account_balances_enabled,
    cast(expected_return as double) as expected_return,
    cast(return_volatility as double) as return_volatility,
    deterministic_returns > 0 or return_volatility = 0 as deterministic_returns,
    distributions_enabled > 0 as distributions_enabled,
    cast(cash_out_limit as decimal(18, 2)) as cash_out_limit,
    cast(involuntary_limit as decimal(18, 2)) as involuntary_limit,
    cast(small_cash_out_share as double) as small_cash_out_share,
    cast(cash_out_share as double) as cash_out_share,
    cast(rollover_share as double) as rollover_share,
    top_heavy > 0 as account_balances_top_heavy,
    cast(annual_return as double) as annual_return,
    cast(sqrt(1 + annual_return) - 1 as double) as half_year_return
from returns
