"""Nondiscrimination (issue #15 item 6): HCEs, the ADP and ACP tests, their corrections and top-heavy status,
recomputed in Python from the census, the seeds and the year's snapshot.

A two-year plain-dbt run on a generated census where everyone paid above the 2024 HCE limit defers 12% and
three NHCEs in four do not defer (auto-enrollment off), so both tests fail and the refunds are exercised;
a one-year run of the same census with the top-paid group election.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from planalign.simulation.census import generate_census, write_census

from .simulation_support import SimulationRun, build_simulation
from .test_dbt_simulation import CENT, census_actives, irs_limit, irs_limits, snapshot
from .test_plan_rules import half_up

pytestmark = pytest.mark.slow

YEARS = (2025, 2026)
TOLERANCE = 1e-9


def skewed_census(path: Path) -> Path:
    table = generate_census(300, seed=31)
    rows = table.to_pylist()
    for index, row in enumerate(rows):
        if row["annual_compensation"] > 155_000:
            row["deferral_rate"] = 0.12
        elif index % 4:
            row["deferral_rate"] = None
    return write_census(pa.Table.from_pylist(rows, schema=table.schema), path)


def build(root: Path, years: tuple[int, ...], **overrides: Any) -> SimulationRun:
    census_path = skewed_census(root / "census.parquet")
    return build_simulation(
        root, census_path, years, {"random_seed": 3, "auto_enrollment_enabled": False, **overrides}
    )


@pytest.fixture(scope="module")
def skewed_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulationRun]:
    yield build(tmp_path_factory.mktemp("nondiscrimination"), YEARS)


@pytest.fixture(scope="module")
def top_paid_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulationRun]:
    yield build(tmp_path_factory.mktemp("top_paid"), YEARS[:1], hce_top_paid_group=True)


def lookback_compensation(run: SimulationRun, year: int) -> dict[str, Decimal]:
    """Pay received in year - 1 by the start-of-year actives (the census pay rate in the first year)."""
    if year == YEARS[0]:
        return {e: Decimal(str(r["annual_compensation"])) for e, r in census_actives(run).items()}
    return {
        e: r["prorated_compensation"]
        for e, r in snapshot(run, year - 1).items()
        if r["employment_status"] == "active"
    }


def expected_hces(run: SimulationRun, year: int, top_paid_group: bool) -> set[str]:
    lookback = lookback_compensation(run, year)
    limit = irs_limit(year - 1, "hce_compensation_limit", 5000)
    above = {e for e, pay in lookback.items() if pay > limit}
    if not top_paid_group:
        return above
    ranked = sorted(lookback, key=lambda e: (-lookback[e], e))
    group = set(ranked[: int(half_up(Decimal(len(ranked)) * Decimal("0.2")).to_integral_value())])
    return above & group


def hce_limit(nhce: float) -> float:
    return max(1.25 * nhce, min(nhce + 0.02, 2 * nhce))


def ratio_level(ratios: list[float], target_average: float) -> float:
    """The level L at which capping every ratio at L brings the average to target_average (step down from
    the highest ratio)."""
    ordered = sorted(ratios, reverse=True)
    n = len(ordered)
    for k in range(1, n + 1):
        rest = sum(ordered[k:])
        level = (n * target_average - rest) / k
        if level >= (ordered[k] if k < n else 0.0):
            return level
    raise AssertionError("no level")


def dollar_refunds(amounts: dict[str, Decimal], total: Decimal) -> dict[str, Decimal]:
    """Refund the total from the largest amounts down, to a common level D."""
    ordered = sorted(amounts.values(), reverse=True)
    n = len(ordered)
    for k in range(1, n + 1):
        level = (sum(ordered[:k]) - total) / k
        if level >= (ordered[k] if k < n else Decimal(0)):
            return {e: half_up(a - level) for e, a in amounts.items() if a > level}
    raise AssertionError("no level")


def recompute(run: SimulationRun, year: int, top_paid_group: bool = False) -> dict[str, Any]:
    rows = snapshot(run, year)
    hces = expected_hces(run, year, top_paid_group)
    deferral_limit, _, comp_limit = irs_limits(year)
    out: dict[str, Any] = {"hces": hces & set(rows)}
    refunds: dict[str, dict[str, Decimal]] = {}
    for test in ("adp", "acp"):
        amounts: dict[str, Decimal] = {}
        ratios: dict[str, float] = {}
        for e, row in rows.items():
            compensation = min(row["prorated_compensation"], comp_limit)
            amount = (
                min(row["employee_contribution"], deferral_limit) if test == "adp" else row["employer_match"]
            )
            amounts[e] = amount
            ratios[e] = float(amount) / float(compensation) if compensation > 0 else 0.0
        nhce = [r for e, r in ratios.items() if e not in hces]
        hce = [r for e, r in ratios.items() if e in hces]
        nhce_average, hce_average = sum(nhce) / len(nhce), sum(hce) / len(hce)
        limit = hce_limit(nhce_average)
        passed = hce_average <= limit
        refunds[test] = {}
        if not passed:
            level = ratio_level(hce, limit)
            compensation = {e: min(rows[e]["prorated_compensation"], comp_limit) for e in ratios if e in hces}
            total = sum(
                (
                    half_up(Decimal(max(0.0, ratios[e] - level) * float(compensation[e])))
                    for e in compensation
                ),
                Decimal(0),
            )
            refunds[test] = dollar_refunds({e: amounts[e] for e in compensation}, total)
            assert abs(sum(refunds[test].values()) - total) <= CENT * len(refunds[test])
        out[test] = (nhce_average, hce_average, limit, passed)
    out["refunds"] = refunds
    return out


def results_row(run: SimulationRun, year: int) -> dict[str, Any]:
    columns = [
        "hces",
        "nhce_adp",
        "hce_adp",
        "adp_hce_limit",
        "adp_passed",
        "adp_refunds",
        "nhce_acp",
        "hce_acp",
        "acp_hce_limit",
        "acp_passed",
        "acp_refunds",
        "key_employees",
        "key_employee_share",
        "is_top_heavy",
    ]
    row = run.query(
        f"select {', '.join(columns)} from nondiscrimination_results where simulation_year = ?", [year]
    )
    assert len(row) == 1
    return dict(zip(columns, row[0], strict=True))


def check_year(run: SimulationRun, year: int, top_paid_group: bool = False) -> dict[str, Any]:
    expected = recompute(run, year, top_paid_group)
    got = results_row(run, year)
    employees = {
        r[0]: r[1:]
        for r in run.query(
            "select employee_id, is_hce, adp_refund, acp_refund from int_nondiscrimination_employees "
            "where simulation_year = ?",
            [year],
        )
    }
    assert {e for e, r in employees.items() if r[0]} == expected["hces"]
    assert got["hces"] == len(expected["hces"])
    for test in ("adp", "acp"):
        nhce_average, hce_average, limit, passed = expected[test]
        assert abs(got[f"nhce_{test}"] - nhce_average) < TOLERANCE, (year, test)
        assert abs(got[f"hce_{test}"] - hce_average) < TOLERANCE, (year, test)
        assert abs(got[f"{test}_hce_limit"] - limit) < TOLERANCE, (year, test)
        assert got[f"{test}_passed"] == passed, (year, test)
        column = 1 if test == "adp" else 2
        actual_refunds = {e: r[column] for e, r in employees.items() if r[column] > 0}
        wanted = expected["refunds"][test]
        assert set(actual_refunds) == set(wanted), (year, test)
        assert all(abs(actual_refunds[e] - wanted[e]) <= CENT for e in wanted), (year, test)
        assert got[f"{test}_refunds"] == sum(actual_refunds.values(), Decimal(0))
    return got


@pytest.mark.parametrize("year", YEARS)
def test_adp_and_acp_recompute_and_fail_with_refunds(skewed_run: SimulationRun, year: int) -> None:
    got = check_year(skewed_run, year)
    assert not got["adp_passed"] and not got["acp_passed"], "the skewed census fails both tests"
    assert got["adp_refunds"] > 0 and got["acp_refunds"] > 0


def test_refunds_total_the_excess_that_levels_the_hce_average_to_the_limit(skewed_run: SimulationRun) -> None:
    """The refunds add up to the excess found by capping the HCE ratios at the level L where the HCE
    average equals the limit (L found here by bisection). They are taken from the largest dollar amounts, so
    the HCE average after them may stay above the limit: the regulations treat the test as passed."""
    year = YEARS[0]
    deferral_limit, _, comp_limit = irs_limits(year)
    rows = snapshot(skewed_run, year)
    hces = {
        e: refund
        for e, refund in skewed_run.query(
            "select employee_id, adp_refund from int_nondiscrimination_employees "
            "where simulation_year = ? and is_hce",
            [year],
        )
    }
    compensation = {e: float(min(rows[e]["prorated_compensation"], comp_limit)) for e in hces}
    ratios = {e: float(min(rows[e]["employee_contribution"], deferral_limit)) / compensation[e] for e in hces}
    limit = results_row(skewed_run, year)["adp_hce_limit"]
    low, high = 0.0, max(ratios.values())
    for _ in range(200):
        level = (low + high) / 2
        average = sum(min(r, level) for r in ratios.values()) / len(ratios)
        low, high = (level, high) if average < limit else (low, level)
    excess = sum(max(0.0, ratios[e] - level) * compensation[e] for e in hces)
    assert abs(float(sum(hces.values())) - excess) <= 0.01 * len(hces)
    refunded = [e for e, refund in hces.items() if refund > 0]
    largest = sorted(hces, key=lambda e: -min(rows[e]["employee_contribution"], deferral_limit))
    assert set(refunded) == set(largest[: len(refunded)]), "refunds go to the largest deferrals first"


@pytest.mark.parametrize("year", YEARS)
def test_top_heavy_is_the_key_employees_share_of_balances(skewed_run: SimulationRun, year: int) -> None:
    rows = snapshot(skewed_run, year)
    key_limit = irs_limit(year, "key_employee_compensation_limit", 5000)
    deferred: dict[str, Decimal] = {}
    for y in range(YEARS[0], year + 1):
        for e, row in snapshot(skewed_run, y).items():
            deferred[e] = deferred.get(e, Decimal(0)) + row["employee_contribution"]
    employer = dict(
        skewed_run.query(
            "select employee_id, balance from int_employer_contribution_accounts where simulation_year = ?",
            [year],
        )
    )
    balance = {e: deferred[e] + employer[e] for e in rows}
    keys = {e for e, row in rows.items() if row["prorated_compensation"] > key_limit}
    total = sum(balance.values(), Decimal(0))
    share = float(sum((balance[e] for e in keys), Decimal(0)) / total)
    got = results_row(skewed_run, year)
    assert got["key_employees"] == len(keys) > 0
    assert abs(got["key_employee_share"] - share) < TOLERANCE
    assert got["is_top_heavy"] == (share > 0.6)


def test_top_paid_group_election_limits_the_hces(top_paid_run: SimulationRun) -> None:
    got = check_year(top_paid_run, YEARS[0], top_paid_group=True)
    above_limit = expected_hces(top_paid_run, YEARS[0], top_paid_group=False)
    assert 0 < got["hces"] <= len(above_limit)
