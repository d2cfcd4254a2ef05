"""Nondiscrimination (issue #15 item 6): HCEs, the ADP and ACP tests, their corrections and top-heavy status,
recomputed in Python from the census, the seeds and the year's snapshot. Issue #23 items 1 and 2: the
corrections in the order of the regulations — the ADP excess, recharacterized as catch-up for an HCE
eligible for it (Treas. Reg. 1.414(v)-1), the rest refunded; the match on the refunded deferrals forfeited
(1.401(m)-2(a)(5)(ii)); the ACP test on the match that remains — and the money after them in the marts.

A two-year plain-dbt run on a generated census where everyone paid above the 2024 HCE limit defers 12% and
three NHCEs in four do not defer (auto-enrollment off), so both tests fail and the refunds are exercised;
a one-year run of the same census with the top-paid group election (both plans of the shared build of
this census, tests/dbt_project/skewed_plans.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from .simulation_support import ScenarioBuild, SimulationRun
from .test_dbt_simulation import (
    CENT,
    PLAN,
    _match_rate,
    catch_up_limit,
    census_actives,
    irs_limit,
    irs_limits,
    snapshot,
)
from .test_plan_rules import full_years, half_up, vested_share

pytestmark = pytest.mark.slow

YEARS = (2025, 2026)
#: Ratio averages: the SQL keeps each employee's forfeited match in cents where the recomputation is exact
#: (both agree to the cent per employee, checked below), and a cent on the pay of an HCE (over $100,000)
#: moves a ratio by at most 1e-7. 1e-9 held for the legacy census by chance; the published-distribution census
#: (issue #20) gives a 2.8e-9 difference in 2026's HCE ACP average from one such cent.
TOLERANCE = 1e-7


@pytest.fixture(scope="module")
def skewed_run(skewed_plans: ScenarioBuild) -> Iterator[SimulationRun]:
    """The census built to fail, auto-enrollment off, 2025-2026 (conftest's shared build of its plans)."""
    yield skewed_plans.members["baseline"]


@pytest.fixture(scope="module")
def top_paid_run(skewed_plans: ScenarioBuild) -> Iterator[SimulationRun]:
    """The same with the top-paid group election, 2025 only."""
    yield skewed_plans.members["top_paid"]


def lookback_compensation(run: SimulationRun, year: int) -> dict[str, Decimal]:
    """Pay received in year - 1 by the start-of-year actives (in the first year the census's
    prior_year_compensation, else its pay rate)."""
    if year == YEARS[0]:
        return {
            e: Decimal(str(r["prior_year_compensation"] or r["annual_compensation"]))
            for e, r in census_actives(run).items()
        }
    return {
        e: r["prorated_compensation"]
        for e, r in snapshot(run, year - 1).items()
        if r["employment_status"] == "active"
    }


def expected_hces(run: SimulationRun, year: int, top_paid_group: bool) -> set[str]:
    lookback = lookback_compensation(run, year)
    limit = irs_limit(year - 1, "hce_compensation_limit", 5000)
    above = {e for e, pay in lookback.items() if pay > limit}
    # IRC 414(q)(1)(A): more-than-5% owners are HCEs whatever the pay (none in these censuses unless given)
    owners = {
        e
        for (e,) in run.query(
            "select employee_id from stg_census_data where coalesce(ownership_share, 0) > 0.05"
        )
    }
    if not top_paid_group:
        return above | owners
    ranked = sorted(lookback, key=lambda e: (-lookback[e], e))
    group = set(ranked[: int(half_up(Decimal(len(ranked)) * Decimal("0.2")).to_integral_value())])
    return (above & group) | owners


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


def gross_money(run: SimulationRun, year: int) -> dict[str, dict[str, Decimal]]:
    """The year's deferrals and match before any correction (int_employee_contributions and
    int_employee_match_calculations, checked against the plan's rules by test_dbt_simulation)."""
    rows = run.query(
        "select c.employee_id, c.employee_contribution, c.plan_compensation, m.employer_match, "
        "m.match_eligible_compensation from int_employee_contributions c "
        "join int_employee_match_calculations m "
        "using (employee_id, simulation_year) where c.simulation_year = ?",
        [year],
    )
    keys = ("contribution", "plan_compensation", "match", "match_compensation")
    return {r[0]: dict(zip(keys, r[1:], strict=True)) for r in rows}


def kept_match(money: dict[str, Decimal], kept_deferral: Decimal) -> Decimal:
    """The plan's annual match formula on the deferrals kept after a refund."""
    if money["plan_compensation"] <= 0:
        return Decimal(0)
    rate = min(_match_rate(kept_deferral / money["plan_compensation"]), PLAN["match_cap_rate"])
    return half_up(rate * money["match_compensation"])


def average_basis_points(values: list[int]) -> int:
    """The average of whole basis points, to the nearest basis point, half up."""
    return (2 * sum(values) + len(values)) // (2 * len(values))


def levelled(
    hces: set[str],
    amounts: dict[str, Decimal],
    compensation: dict[str, Decimal],
    benchmark_bp: int | None = None,
) -> tuple[tuple[float, float, float, bool], dict[str, Decimal]]:
    """One test (averages, limit, passed) and, when it fails, each HCE's correction by the two levellings.
    `benchmark_bp`: prior-year testing's NHCE average (basis points) the HCEs are held to instead of this
    year's (issue #23 item 7)."""
    # issue #23 item 7: ratios and averages to the nearest 0.01% (Treas. Reg. 1.401(k)-2(a)(3)(ii),
    # 1.401(m)-2(a)(3)(ii)), half up; the test compared exactly in basis points
    basis_points = {
        e: int((Decimal(amounts[e]) / Decimal(c) * 10000).quantize(Decimal(1), ROUND_HALF_UP)) if c > 0 else 0
        for e, c in compensation.items()
    }
    ratios = {e: bp / 10000 for e, bp in basis_points.items()}
    nhce_bp = average_basis_points([bp for e, bp in basis_points.items() if e not in hces])
    hce_bp = average_basis_points([bp for e, bp in basis_points.items() if e in hces])
    hce = [r for e, r in ratios.items() if e in hces]
    nhce_average, hce_average = nhce_bp / 10000, hce_bp / 10000
    held_to = nhce_bp if benchmark_bp is None else benchmark_bp
    limit = hce_limit(held_to / 10000)
    passed = 4 * hce_bp <= max(5 * held_to, min(4 * held_to + 800, 8 * held_to))
    corrections: dict[str, Decimal] = {}
    if not passed:
        level = ratio_level(hce, limit)
        tested = [e for e in ratios if e in hces]
        total = sum(
            (half_up(Decimal(max(0.0, ratios[e] - level) * float(compensation[e]))) for e in tested),
            Decimal(0),
        )
        corrections = dollar_refunds({e: amounts[e] for e in tested}, total)
        assert abs(sum(corrections.values()) - total) <= CENT * len(corrections)
    return (nhce_average, hce_average, limit, passed), corrections


def vesting_shares(run: SimulationRun, year: int, rows: dict[str, dict[str, Any]]) -> dict[str, Decimal]:
    """Each employee's vested share of employer money: the schedule for the completed years of service to
    the termination date or December 31, or 1 from the normal retirement age (as test_plan_rules)."""
    births = dict(
        run.query(
            "select employee_id, birth_date from int_workforce_snapshot_optimized where simulation_year = ?",
            [year],
        )
    )
    normal_retirement_age = int(
        run.vars.get("vesting_normal_retirement_age", PLAN["vesting_normal_retirement_age"])
    )
    shares = {}
    for e, row in rows.items():
        until = row["termination_date"] or date(year, 12, 31)
        at_nra = full_years(births[e], until) >= normal_retirement_age
        shares[e] = Decimal(1) if at_nra else vested_share(run, full_years(row["hire_date"], until))
    return shares


def recompute(
    run: SimulationRun, year: int, top_paid_group: bool = False, benchmarks: dict[str, int] | None = None
) -> dict[str, Any]:
    """The year's tests and corrections in the legal order, from the gross money."""
    rows = snapshot(run, year)
    money = gross_money(run, year)
    hces = expected_hces(run, year, top_paid_group)
    deferral_limit, _, comp_limit = irs_limits(year)
    compensation = {e: min(row["prorated_compensation"], comp_limit) for e, row in rows.items()}
    out: dict[str, Any] = {"hces": hces & set(rows)}
    deferrals = {e: min(money[e]["contribution"], deferral_limit) for e in rows}
    benchmarks = benchmarks or {}
    out["adp"], excess = levelled(hces, deferrals, compensation, benchmarks.get("adp"))
    recharacterized: dict[str, Decimal] = {}
    refunds: dict[str, dict[str, Decimal]] = {"adp": {}, "acp": {}}
    forfeited: dict[str, Decimal] = {}
    for e, amount in excess.items():
        catch_up_made = money[e]["contribution"] - deferrals[e]
        room = max(Decimal(0), catch_up_limit(year, rows[e]["age"]) - catch_up_made)
        recharacterized[e] = min(amount, room)
        if amount - recharacterized[e] > 0:
            refunds["adp"][e] = amount - recharacterized[e]
            kept = money[e]["contribution"] - refunds["adp"][e]
            forfeited[e] = money[e]["match"] - min(money[e]["match"], kept_match(money[e], kept))
    tested_match = {e: money[e]["match"] - forfeited.get(e, Decimal(0)) for e in rows}
    out["acp"], refunds["acp"] = levelled(hces, tested_match, compensation, benchmarks.get("acp"))
    # issue #23 item 7 (IRC 401(m)(6)(A)): the excess aggregate contributions are distributed as far as they
    # are vested; the unvested part is forfeited
    shares = vesting_shares(run, year, rows)
    out["acp_excess"] = refunds["acp"]
    refunds["acp"] = {e: half_up(amount * shares[e]) for e, amount in out["acp_excess"].items()}
    out["acp_forfeited"] = {e: amount - refunds["acp"][e] for e, amount in out["acp_excess"].items()}
    out.update(excess=excess, recharacterized=recharacterized, refunds=refunds, forfeited=forfeited)
    out["money"] = money
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


def check_year(
    run: SimulationRun, year: int, top_paid_group: bool = False, benchmarks: dict[str, int] | None = None
) -> dict[str, Any]:
    expected = recompute(run, year, top_paid_group, benchmarks)
    got = results_row(run, year)
    columns = (
        "employee_id, is_hce, adp_refund, acp_refund, adp_excess, catch_up_recharacterized, match_forfeited, "
        "acp_forfeited"
    )
    employees = {
        r[0]: r[1:]
        for r in run.query(
            f"select {columns} from int_nondiscrimination_employees where simulation_year = ?", [year]
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
        wanted = {e: v for e, v in expected["refunds"][test].items() if v > 0}
        assert set(actual_refunds) == set(wanted), (year, test)
        assert all(abs(actual_refunds[e] - wanted[e]) <= CENT for e in wanted), (year, test)
        assert got[f"{test}_refunds"] == sum(actual_refunds.values(), Decimal(0))
    for name, column in (("excess", 3), ("recharacterized", 4), ("forfeited", 5), ("acp_forfeited", 6)):
        actual = {e: r[column] for e, r in employees.items() if r[column] > 0}
        wanted = {e: v for e, v in expected[name].items() if v > 0}
        assert set(actual) == set(wanted), (year, name)
        assert all(abs(actual[e] - wanted[e]) <= CENT for e in wanted), (year, name)
    return got


@pytest.mark.parametrize("year", YEARS)
def test_adp_and_acp_recompute_and_fail_with_refunds(skewed_run: SimulationRun, year: int) -> None:
    got = check_year(skewed_run, year)
    assert not got["adp_passed"] and not got["acp_passed"], "the skewed census fails both tests"
    assert got["adp_refunds"] > 0 and got["acp_refunds"] > 0
    # issue #23 item 7: some ACP excess is unvested and forfeited rather than paid out
    ((acp_forfeited,),) = skewed_run.query(
        "select acp_forfeited from nondiscrimination_results where simulation_year = ?", [year]
    )
    wanted = recompute(skewed_run, year)["acp_forfeited"]
    assert abs(acp_forfeited - sum(wanted.values(), Decimal(0))) <= CENT * len(wanted)
    assert acp_forfeited > 0


def test_refunds_total_the_excess_that_levels_the_hce_average_to_the_limit(skewed_run: SimulationRun) -> None:
    """The corrections add up to the excess found by capping the HCE ratios at the level L where the HCE
    average equals the limit (L found here by bisection). They are taken from the largest dollar amounts, so
    the HCE average after them may stay above the limit: the regulations treat the test as passed."""
    year = YEARS[0]
    deferral_limit, _, comp_limit = irs_limits(year)
    rows = snapshot(skewed_run, year)
    money = gross_money(skewed_run, year)
    hces = {
        e: excess
        for e, excess in skewed_run.query(
            "select employee_id, adp_excess from int_nondiscrimination_employees "
            "where simulation_year = ? and is_hce",
            [year],
        )
    }
    compensation = {e: float(min(rows[e]["prorated_compensation"], comp_limit)) for e in hces}
    ratios = {
        e: round(float(min(money[e]["contribution"], deferral_limit)) / compensation[e], 4) for e in hces
    }  # to 0.01%, as the regulations (ties of half a basis point are rarer than the tolerance matters)
    limit = results_row(skewed_run, year)["adp_hce_limit"]
    low, high = 0.0, max(ratios.values())
    for _ in range(200):
        level = (low + high) / 2
        average = sum(min(r, level) for r in ratios.values()) / len(ratios)
        low, high = (level, high) if average < limit else (low, level)
    excess = sum(max(0.0, ratios[e] - level) * compensation[e] for e in hces)
    assert abs(float(sum(hces.values())) - excess) <= 0.01 * len(hces)
    corrected = [e for e, amount in hces.items() if amount > 0]
    largest = sorted(hces, key=lambda e: -min(money[e]["contribution"], deferral_limit))
    assert set(corrected) == set(largest[: len(corrected)]), "corrections go to the largest deferrals first"


def test_corrections_run_in_the_legal_order(skewed_run: SimulationRun) -> None:
    """Issue #23 items 1-2, on both years of the census built to fail: some ADP excess is recharacterized as
    catch-up (HCEs aged 50+), some refunded, some match forfeited on the refunds, and the ACP test runs on
    the match that remains (check_year recomputes every amount to the cent)."""
    totals = {"recharacterized": Decimal(0), "refunded": Decimal(0), "forfeited": Decimal(0)}
    for year in YEARS:
        expected = recompute(skewed_run, year)
        totals["recharacterized"] += sum(expected["recharacterized"].values(), Decimal(0))
        totals["refunded"] += sum(expected["refunds"]["adp"].values(), Decimal(0))
        totals["forfeited"] += sum(expected["forfeited"].values(), Decimal(0))
        got = results_row(skewed_run, year)
        ((match_forfeited, recharacterized),) = skewed_run.query(
            "select match_forfeited, catch_up_recharacterized from nondiscrimination_results "
            "where simulation_year = ?",
            [year],
        )
        assert abs(match_forfeited - sum(expected["forfeited"].values(), Decimal(0))) <= CENT * 50
        assert abs(recharacterized - sum(expected["recharacterized"].values(), Decimal(0))) <= CENT * 50
        assert got["adp_refunds"] + recharacterized == sum(
            (
                r[0]
                for r in skewed_run.query(
                    "select adp_excess from int_nondiscrimination_employees where simulation_year = ?", [year]
                )
            ),
            Decimal(0),
        )
    assert all(total > 0 for total in totals.values()), totals


@pytest.mark.parametrize("year", YEARS)
def test_marts_hold_the_money_after_the_corrections(skewed_run: SimulationRun, year: int) -> None:
    """Refunds leave the plan and forfeited match is not the employer's cost: the snapshot, the employer
    accounts, the account balances and the yearly summary carry the money after the corrections."""
    expected = recompute(skewed_run, year)
    money, rows = expected["money"], snapshot(skewed_run, year)
    accounts = dict(
        skewed_run.query(
            "select employee_id, employer_match from int_employer_contribution_accounts "
            "where simulation_year = ?",
            [year],
        )
    )
    balances = dict(
        skewed_run.query(
            "select employee_id, employee_contributions from fct_account_balances "
            "where simulation_year = ? and employment_status <> 'former'",
            [year],
        )
    )
    mismatches = 0
    for e, row in rows.items():
        deferral = money[e]["contribution"] - expected["refunds"]["adp"].get(e, Decimal(0))
        match = (
            money[e]["match"]
            - expected["forfeited"].get(e, Decimal(0))
            - expected["acp_excess"].get(e, Decimal(0))
        )
        mismatches += abs(row["employee_contribution"] - deferral) > CENT
        mismatches += abs(row["employer_match"] - match) > CENT
        mismatches += abs(accounts[e] - match) > CENT
        mismatches += abs(balances[e] - deferral) > CENT
    assert mismatches == 0
    columns = (
        "employee_contributions, employer_match, employer_core_contributions, forfeitures_used, employer_cost"
    )
    (
        (
            employee_contributions,
            employer_match,
            core,
            used,
            cost,
        ),
    ) = skewed_run.query(f"select {columns} from rpt_yearly_summary where simulation_year = ?", [year])
    assert employee_contributions == sum((r["employee_contribution"] for r in rows.values()), Decimal(0))
    assert employer_match == sum((r["employer_match"] for r in rows.values()), Decimal(0))
    acp_refunds = sum(expected["refunds"]["acp"].values(), Decimal(0))
    assert abs(cost - (employer_match + core + acp_refunds - used)) <= CENT * len(expected["refunds"]["acp"])


@pytest.mark.parametrize("year", YEARS)
def test_top_heavy_is_the_key_employees_share_of_balances(skewed_run: SimulationRun, year: int) -> None:
    rows = snapshot(skewed_run, year)
    key_limit = irs_limit(year, "key_employee_compensation_limit", 5000)
    deferred: dict[str, Decimal] = {}
    for y in range(YEARS[0], year + 1):
        for e, row in snapshot(skewed_run, y).items():
            deferred[e] = deferred.get(e, Decimal(0)) + row["employee_contribution"]
    # issue #23 item 7: a leaver's unvested employer money is forfeited, so it is no accrued benefit on the
    # determination date (IRC 416(g)): a leaver counts with the vested part only
    accounts = skewed_run.query(
        "select employee_id, employment_status, balance, vested_share "
        "from int_employer_contribution_accounts where simulation_year = ?",
        [year],
    )
    employer = {
        e: money if status == "active" else (money * Decimal(str(share))).quantize(CENT, ROUND_HALF_UP)
        for e, status, money, share in accounts
    }
    unvested = sum((money - employer[e] for e, _, money, _ in accounts), Decimal(0))
    assert unvested > 0, "some leavers forfeit: the rule is exercised"
    balance = {e: deferred[e] + employer[e] for e in rows}
    above = sorted(
        (e for e, row in rows.items() if row["prorated_compensation"] > key_limit),
        key=lambda e: (-rows[e]["prorated_compensation"], e),
    )
    # issue #23: at most 50 officers, or the greater of 3 and 10% of the employees (rounded up)
    keys = set(above[: min(50, max(3, math.ceil(len(rows) / 10)))])
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


def test_first_year_hces_use_the_prior_year_pay_of_the_census(skewed_run: SimulationRun) -> None:
    """Issue #23 item 6: a census row paid above the HCE limit now but below it in the look-back year (its
    optional prior_year_compensation) is not an HCE in the first simulated year."""
    limit = irs_limit(YEARS[0] - 1, "hce_compensation_limit", 5000)
    lowered = {
        e
        for e, r in census_actives(skewed_run).items()
        if r["prior_year_compensation"] is not None and r["annual_compensation"] > limit
    }
    hces = {
        e
        for (e,) in skewed_run.query(
            "select employee_id from int_nondiscrimination_employees where simulation_year = ? and is_hce",
            [YEARS[0]],
        )
    }
    assert lowered and not (lowered & hces)
