"""Plan rules a sponsor's actuary checks (issue #15), recomputed here in Python from the inputs.

One three-year plain-dbt run on a small generated census in which a few employees are re-paid far above
the 401(a)(17) limit at a low deferral rate (the case the old formulas got wrong). Every expected value is
recomputed from the census, the seeds and the year's events, never copied from the models.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from planalign.simulation.census import generate_census, write_census

from .simulation_support import DbtWorkspace, SimulationRun
from .test_dbt_simulation import (
    CENT,
    PLAN,
    WORKFORCE,
    _match_rate,
    _paid,
    events_by_employee,
    irs_limits,
    snapshot,
    start_of_year_actives,
)

pytestmark = pytest.mark.slow

PLAN_YEARS = (2025, 2026, 2027)
EXECUTIVE_PAY = 1_170_000.0
EXECUTIVE_DEFERRAL = 0.02
EXECUTIVES = 12


def executive_census(path: Path) -> Path:
    """A 300-employee generated census whose first EXECUTIVES actives earn $1.17M and defer 2%."""
    table = generate_census(300, seed=15)
    rows = table.to_pylist()
    actives = [r for r in rows if r["termination_date"] is None]
    for row in actives[:EXECUTIVES]:
        row["annual_compensation"] = EXECUTIVE_PAY
        row["deferral_rate"] = EXECUTIVE_DEFERRAL
        row["job_level"] = 5
    return write_census(pa.Table.from_pylist(rows, schema=table.schema), path)


@pytest.fixture(scope="module")
def plan_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulationRun]:
    root = tmp_path_factory.mktemp("plan_rules")
    census_path = executive_census(root / "census.parquet")
    vars: dict[str, Any] = {"census_path": str(census_path), "random_seed": 7}
    workspace = DbtWorkspace(root)
    workspace.dbt("seed", vars=vars)
    for year in PLAN_YEARS:
        workspace.dbt("build", vars={**vars, "simulation_year": year})
    yield SimulationRun(workspace, census_path, vars)


# --------------------------------------------------------------------------------- 401(a)(17) everywhere


def expected_money(run: SimulationRun, year: int) -> dict[str, dict[str, Decimal]]:
    """Per employee: plan compensation (deferred pay capped at 401(a)(17)), deferral and match."""
    rows = snapshot(run, year)
    start = start_of_year_actives(run, year)
    by_employee = events_by_employee(run, year)
    deferral_limit, catch_up, comp_limit = irs_limits(year)
    merit_date = date(year, int(WORKFORCE["merit_effective_month"]), 1)
    out: dict[str, dict[str, Decimal]] = {}
    for employee_id, row in rows.items():
        kinds = by_employee.get(employee_id, {})
        employed_from = max(row["hire_date"], date(year, 1, 1))
        employed_to = row["termination_date"] or date(year, 12, 31)
        if "raise" in kinds:
            pre, post = kinds["raise"]["compensation_before"], kinds["raise"]["compensation_after"]
        else:
            pre = post = row["annual_compensation"]
        if "enrollment" in kinds:
            deferring_from: date | None = kinds["enrollment"]["effective_date"]
        elif employee_id in start and start[employee_id]["deferral_rate"] > 0:
            deferring_from = date(year, 1, 1)
        else:
            deferring_from = None
        deferred_pay = (
            _paid(pre, post, max(employed_from, deferring_from), employed_to, year, merit_date)
            if deferring_from is not None and row["deferral_rate"] > 0
            else Decimal(0)
        )
        plan_pay = min(deferred_pay.quantize(CENT, rounding=ROUND_HALF_UP), comp_limit)
        limit = deferral_limit + (catch_up if row["age"] >= int(PLAN["catch_up_age"]) else 0)
        requested = (row["deferral_rate"] * plan_pay).quantize(CENT, rounding=ROUND_HALF_UP)
        contribution = min(requested, limit)
        match = Decimal(0)
        if contribution > 0:
            rate = min(_match_rate(contribution / plan_pay), PLAN["match_cap_rate"])
            match = (rate * plan_pay).quantize(CENT, rounding=ROUND_HALF_UP)
        out[employee_id] = {"plan_pay": plan_pay, "contribution": contribution, "match": match}
    return out


@pytest.mark.parametrize("year", PLAN_YEARS)
def test_deferrals_and_match_both_use_pay_capped_at_401a17(plan_run: SimulationRun, year: int) -> None:
    """Issue #15 bug: a 2% deferrer on $1.17M defers 2% of the capped pay and gets a 2% match on it."""
    expected = expected_money(plan_run, year)
    rows = snapshot(plan_run, year)
    mismatches = [
        (employee_id, row["employee_contribution"], row["employer_match"], expected[employee_id])
        for employee_id, row in rows.items()
        if abs(row["employee_contribution"] - expected[employee_id]["contribution"]) > CENT
        or abs(row["employer_match"] - expected[employee_id]["match"]) > CENT
    ]
    assert mismatches == []
    _, _, comp_limit = irs_limits(year)
    deferral_limit = irs_limits(year)[0]
    full_year_executives = [
        e
        for e, row in rows.items()
        if row["annual_compensation"] > 2 * comp_limit
        and row["deferral_rate"] * comp_limit < deferral_limit
        and row["termination_date"] is None
    ]
    assert full_year_executives, "the case is exercised"
    for employee_id in full_year_executives:
        # a low deferrer on $1.17M: deferral and match are both shares of the capped pay
        row = rows[employee_id]
        rate = row["deferral_rate"]
        assert row["employee_contribution"] == (comp_limit * rate).quantize(CENT)
        match_rate = min(_match_rate(rate), PLAN["match_cap_rate"])
        assert row["employer_match"] == (comp_limit * match_rate).quantize(CENT)


# ------------------------------------------------------------------------ escalation and enrollment timing


def uniform(seed: int, employee_id: str, year: int, kind: str) -> float:
    """The project's hash draw (macro planalign_uniform), recomputed."""
    digest = hashlib.md5(f"{seed}|{employee_id}|{year}|{kind}".encode()).hexdigest()
    return int(digest[:13], 16) / 2**52


def first_full_plan_year(enrolled_on: date) -> int:
    return enrolled_on.year if (enrolled_on.month, enrolled_on.day) == (1, 1) else enrolled_on.year + 1


def test_escalation_follows_the_full_plan_year_rule(plan_run: SimulationRun) -> None:
    """Who escalates each January 1, recomputed from the census and the earlier years' events: enrolled for
    escalation_delay_years full plan years, below the cap, never opted out, staying the year."""
    increment, cap, delay = (
        PLAN["escalation_increment"],
        PLAN["escalation_cap"],
        int(PLAN["escalation_delay_years"]),
    )
    effective = date(2024, 12, 31)
    enrolled_on = {
        e: effective
        for e, row in start_of_year_actives(plan_run, PLAN_YEARS[0]).items()
        if row["deferral_rate"] > 0
    }
    opted_out: set[str] = set()
    escalated_total = 0
    for year in PLAN_YEARS:
        start = start_of_year_actives(plan_run, year)
        by_employee = events_by_employee(plan_run, year)
        expected = {
            e: min(row["deferral_rate"] + increment, cap)
            for e, row in start.items()
            if e in enrolled_on
            and e not in opted_out
            and row["deferral_rate"] < cap
            and "termination" not in by_employee.get(e, {})
            and first_full_plan_year(enrolled_on[e]) + delay <= year
        }
        actual = {
            e: kinds["deferral_escalation"]["deferral_rate_after"]
            for e, kinds in by_employee.items()
            if "deferral_escalation" in kinds
        }
        assert actual == expected, year
        for e, kinds in by_employee.items():
            if "deferral_escalation" in kinds:
                assert (kinds["deferral_escalation"]["effective_date"] - enrolled_on[e]).days > 365
            if "enrollment" in kinds:
                enrolled_on[e] = kinds["enrollment"]["effective_date"]
            if "enrollment_opt_out" in kinds:
                opted_out.add(e)
        escalated_total += len(actual)
    assert escalated_total > 0
    # census participants count as enrolled on 2024-12-31: their first full plan year is 2025
    assert not any("deferral_escalation" in k for k in events_by_employee(plan_run, 2025).values())


def test_auto_enrollment_window_crossing_december_31_carries_into_next_year(plan_run: SimulationRun) -> None:
    """Every hire's auto-enrollment decision (enrollment or opt-out) falls on hire date + window, in the hire
    year or the next one, unless they leave first; the opt-out draw is the project's hash draw."""
    window, opt_out = int(PLAN["auto_enrollment_window_days"]), float(PLAN["auto_enrollment_opt_out_rate"])
    seed = int(plan_run.vars["random_seed"])
    actual: set[tuple[str, int, str, date]] = set()
    expected: set[tuple[str, int, str, date]] = set()
    terminated_on: dict[str, date] = {}
    hires: dict[str, date] = {}
    for year in PLAN_YEARS:
        for e, kinds in events_by_employee(plan_run, year).items():
            if "hire" in kinds:
                hires[e] = kinds["hire"]["effective_date"]
            if "termination" in kinds:
                terminated_on[e] = kinds["termination"]["effective_date"]
            for kind in ("enrollment", "enrollment_opt_out"):
                if kind in kinds and e.startswith("NH"):
                    actual.add((e, year, kind, kinds[kind]["effective_date"]))
    carried = 0
    for e, hired in hires.items():
        decision = hired + timedelta(days=window)
        if decision.year not in PLAN_YEARS or decision > terminated_on.get(e, date.max):
            continue
        carried += decision.year > hired.year
        kind = (
            "enrollment_opt_out" if uniform(seed, e, decision.year, "enrollment") < opt_out else "enrollment"
        )
        expected.add((e, decision.year, kind, decision))
    assert actual == expected
    assert carried > 0, "some windows cross December 31"
