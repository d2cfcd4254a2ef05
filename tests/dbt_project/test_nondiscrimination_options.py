"""Issue #23 item 7: two options of the plan, recomputed in Python on one real six-year build (2025-2030) of
the census built to fail the ADP and ACP tests (skewed_plans.skewed_census), with both options on:

- `nondiscrimination.testing_method: prior_year` (IRC 401(k)(3)(A), 401(m)(2)(A); Treas. Reg.
  1.401(k)-2(a)(2)(ii)): from the second simulated year the HCE averages are held to the previous year's
  NHCE averages; in the first, which has no simulated previous year, to the current year's. Every HCE, both
  averages, the limit, pass/fail and every correction to the cent (check_year with the benchmarks), and the
  ACP correction split into its vested part (paid) and unvested part (forfeited).
- `vesting.forfeiture_timing: five_year_break` (IRC 411(a)(6)(C)): nothing is forfeited in the year of
  termination; the unvested part stays in the leaver's account (fct_account_balances.unvested_balance,
  earning the year's return, never distributed) and is forfeited on December 31 of the fifth year after the
  year of termination: the leavers of 2025 in 2030, the only year of this horizon where that happens.

The same rules with the options off are today's, checked by test_nondiscrimination and test_plan_rules.
Tolerances: one cent per employee for money (as test_nondiscrimination), 1e-7 for averages.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from .simulation_support import ScenarioBuild, SimulationRun
from .skewed_plans import YEARS
from .test_account_balances import MONEY_COLUMNS
from .test_dbt_simulation import CENT
from .test_nondiscrimination import TOLERANCE, check_year, recompute, results_row
from .test_plan_rules import half_up

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def options_run(skewed_plans: ScenarioBuild) -> Iterator[SimulationRun]:
    """Both options on, 2025-2030 (conftest's shared build of the plans of this census)."""
    yield skewed_plans.members["options"]


def test_prior_year_testing_holds_the_hces_to_last_year_s_nhce_averages(options_run: SimulationRun) -> None:
    differs = 0
    benchmarks: dict[str, int] | None = None
    for year in YEARS:
        check_year(options_run, year, benchmarks=benchmarks)
        ((adp_method, acp_method, adp_benchmark, acp_benchmark),) = options_run.query(
            "select adp_test_method, acp_test_method, adp_nhce_benchmark, acp_nhce_benchmark "
            "from nondiscrimination_results where simulation_year = ?",
            [year],
        )
        got = results_row(options_run, year)
        expected_method = "current year" if benchmarks is None else "prior year"
        assert (adp_method, acp_method) == (expected_method, expected_method), year
        if benchmarks is None:
            assert (adp_benchmark, acp_benchmark) == (got["nhce_adp"], got["nhce_acp"])
        else:
            assert abs(adp_benchmark - benchmarks["adp"] / 10000) < TOLERANCE
            assert abs(acp_benchmark - benchmarks["acp"] / 10000) < TOLERANCE
            differs += abs(adp_benchmark - got["nhce_adp"]) > TOLERANCE
        # next year's benchmark: this year's NHCE averages, recomputed (they do not depend on the method)
        expected = recompute(options_run, year)
        benchmarks = {test: round(expected[test][0] * 10000) for test in ("adp", "acp")}
    assert differs > 0, "the prior year's NHCE average differs from the current one in some year"


def test_unvested_acp_excess_is_forfeited_not_paid(options_run: SimulationRun) -> None:
    """IRC 401(m)(6)(A): only the vested part of the excess aggregate contributions is distributed; the
    summary's employer cost carries the paid part only."""
    forfeited = Decimal(0)
    for year in YEARS:
        ((results_forfeited, results_refunds),) = options_run.query(
            "select acp_forfeited, acp_refunds from nondiscrimination_results where simulation_year = ?",
            [year],
        )
        ((summary_forfeited, summary_refunds),) = options_run.query(
            "select acp_forfeited, acp_refunds from rpt_yearly_summary where simulation_year = ?", [year]
        )
        assert (summary_forfeited, summary_refunds) == (results_forfeited, results_refunds)
        forfeited += results_forfeited
    assert forfeited > 0


def employer_money_2025(row: dict[str, Any]) -> Decimal:
    """A 2025 leaver's employer money at December 31 before forfeiture: the year's employer contributions and
    their half-year return (no employer money comes from the census)."""
    half_year = Decimal(str(math.sqrt(1 + row["annual_return"]) - 1))
    contributions: Decimal = row["employer_contributions"]
    return contributions + half_up(contributions * half_year)


def balances(run: SimulationRun, year: int) -> dict[str, dict[str, Any]]:
    columns = [
        "employee_id",
        "employment_status",
        *MONEY_COLUMNS,
        "vested_share",
        "annual_return",
        "distribution_type",
        "unvested_balance",
    ]
    rows = run.query(
        f"select {', '.join(columns)} from fct_account_balances where simulation_year = ?", [year]
    )
    return {r[0]: dict(zip(columns, r, strict=True)) for r in rows}


def test_five_year_break_forfeits_in_the_fifth_year_after_termination(options_run: SimulationRun) -> None:
    # the employer accounts forfeit nothing in the year of termination; the summary counts the leavers of
    # 2025 in 2030 (their unvested balance - vested_balance), nothing before
    accounts_2025 = options_run.query(
        "select balance, vested_share from int_employer_contribution_accounts "
        "where simulation_year = 2025 and employment_status = 'terminated'"
    )
    deferred = sum(
        (balance - half_up(balance * Decimal(str(share))) for balance, share in accounts_2025), Decimal(0)
    )
    assert deferred > 0, "some leavers of 2025 were not fully vested: the rule is exercised"
    ((forfeited_in_accounts,),) = options_run.query(
        "select sum(forfeiture) from int_employer_contribution_accounts"
    )
    assert forfeited_in_accounts == 0
    summary = dict(options_run.query("select simulation_year, forfeitures from rpt_yearly_summary"))
    assert {y: summary[y] for y in YEARS} == {**{y: Decimal(0) for y in YEARS[:-1]}, 2030: deferred}

    # the account balances: the unvested part is held, grows by the year's return, and is forfeited in 2030
    first = balances(options_run, 2025)
    held: dict[str, Decimal] = {}
    for e, row in first.items():
        assert row["forfeitures"] == 0, e
        if row["employment_status"] == "terminated":
            money = employer_money_2025(row)
            unvested = money - half_up(money * Decimal(str(row["vested_share"])))
            assert abs(row["unvested_balance"] - unvested) <= CENT, e
            if row["distribution_type"] in ("cash_out", "rollover"):
                assert row["closing_balance"] == row["unvested_balance"], "only the vested part is paid"
            if row["unvested_balance"] > 0:
                held[e] = row["unvested_balance"]
            assert row["vested_balance"] == row["closing_balance"] - row["unvested_balance"], e
        else:
            assert row["unvested_balance"] == 0
    assert held
    mismatches = 0
    for year in YEARS[1:]:
        rows = balances(options_run, year)
        for e, amount in held.items():
            row = rows[e]
            grown = amount + half_up(amount * Decimal(str(row["annual_return"])))
            assert row["employment_status"] == "former"
            if year < 2030:
                mismatches += abs(row["unvested_balance"] - grown) > CENT or row["forfeitures"] != 0
                mismatches += row["vested_balance"] != row["closing_balance"] - row["unvested_balance"]
                held[e] = row["unvested_balance"]
            else:
                mismatches += abs(row["forfeitures"] - grown) > CENT or row["unvested_balance"] != 0
        # later leavers are still waiting for their fifth break: nothing else is forfeited
        others = sum((r["forfeitures"] for e, r in rows.items() if e not in held), Decimal(0))
        mismatches += others != 0
        for row in rows.values():
            mismatches += row["closing_balance"] != (
                row["opening_balance"]
                + row["employee_contributions"]
                + row["employer_contributions"]
                + row["investment_return"]
                - row["distributions"]
                - row["forfeitures"]
            )
    assert mismatches == 0
    waiting = options_run.query(
        "select count(*) from fct_account_balances where simulation_year = 2030 and unvested_balance > 0"
    )[0][0]
    assert waiting > 0, "the leavers of 2026-2030 keep their unvested part past the horizon"


def test_the_options_are_recorded_in_the_parameters(options_run: SimulationRun) -> None:
    ((after_five_breaks, prior_year),) = options_run.query(
        "select distinct forfeiture_after_five_breaks, prior_year_testing from int_effective_parameters"
    )
    assert after_five_breaks and prior_year
