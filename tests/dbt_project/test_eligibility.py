"""Plan eligibility (issue #15 item 3): a one-year wait, age 21 and quarterly entry, recomputed in Python.

A two-year plain-dbt run on a generated census with young participants (under 21 until 2027) and recent
hires who defer although they have not served a year yet: nobody defers, or is matched, before entering the
plan, and auto-enrollment decisions fall on the entry date + the window.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from planalign.simulation.census import generate_census, write_census

from .simulation_support import SimulationRun, build_simulation
from .test_dbt_simulation import PLAN, events_by_employee, snapshot
from .test_plan_rules import uniform

pytestmark = pytest.mark.slow

YEARS = (2025, 2026)
SEED = 9
RULES = {"eligibility_service_months": 12, "eligibility_min_age": 21, "eligibility_entry_frequency_months": 3}


def young_and_recent_census(path: Path) -> Path:
    table = generate_census(300, seed=41)
    rows = table.to_pylist()
    actives = [r for r in rows if r["termination_date"] is None]
    for index, row in enumerate(actives[:15]):  # under 21 until 2026-2028, deferring
        row["birth_date"] = date(2006 + index % 3, 1 + index % 12, 1 + index * 2 % 28)
        row["hire_date"] = date(2023, 6, 1)
        row["deferral_rate"] = 0.05
    for index, row in enumerate(actives[15:30]):  # hired in 2024, deferring, no year of service yet
        row["hire_date"] = date(2024, 1 + index % 12, 1 + index * 3 % 28)
        row["deferral_rate"] = 0.06
    actives[30]["hire_date"] = date(2024, 1, 31)  # + 12 months stays January 31
    return write_census(pa.Table.from_pylist(rows, schema=table.schema), path)


@pytest.fixture(scope="module")
def eligibility_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulationRun]:
    root = tmp_path_factory.mktemp("eligibility")
    census_path = young_and_recent_census(root / "census.parquet")
    yield build_simulation(root, census_path, YEARS, {"random_seed": SEED, **RULES})


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def entry_date(birth: date, hire: date) -> date:
    met = max(
        add_months(hire, RULES["eligibility_service_months"]),
        add_months(birth, 12 * RULES["eligibility_min_age"]),
    )
    frequency = RULES["eligibility_entry_frequency_months"]
    index = met.year * 12 + met.month - 1 + (met.day > 1)
    index = math.ceil(index / frequency) * frequency
    return date(index // 12, index % 12 + 1, 1)


def state(run: SimulationRun, year: int) -> dict[str, dict[str, Any]]:
    columns = ["employee_id", "birth_date", "hire_date", "eligibility_date", "deferral_start_date"]
    rows = run.query(
        f"select {', '.join(columns)} from int_workforce_snapshot_optimized where simulation_year = ?", [year]
    )
    return {r[0]: dict(zip(columns, r, strict=True)) for r in rows}


@pytest.mark.parametrize("year", YEARS)
def test_entry_dates_recompute_and_nobody_defers_before_entry(
    eligibility_run: SimulationRun, year: int
) -> None:
    rows = state(eligibility_run, year)
    money = snapshot(eligibility_run, year)
    eligible = dict(
        eligibility_run.query(
            "select employee_id, is_eligible from int_nondiscrimination_employees where simulation_year = ?",
            [year],
        )
    )
    year_start, year_end = date(year, 1, 1), date(year, 12, 31)
    not_yet = suspended = late_start = 0
    for employee_id, row in rows.items():
        entry = entry_date(row["birth_date"], row["hire_date"])
        assert row["eligibility_date"] == entry, employee_id
        assert eligible[employee_id] == (entry <= year_end)
        if entry > year_end:
            not_yet += 1
            assert money[employee_id]["employee_contribution"] == 0, employee_id
            assert money[employee_id]["employer_match"] == 0, employee_id
            suspended += money[employee_id]["deferral_rate"] > 0
        if row["deferral_start_date"] is not None:
            assert row["deferral_start_date"] >= entry, employee_id
            late_start += row["deferral_start_date"] > year_start and row["deferral_start_date"] == entry
    assert not_yet > 0 and suspended > 0, "ineligible participants are exercised"
    if year == YEARS[0]:
        assert late_start > 0, "census participants start deferring on their entry date"
    violations = eligibility_run.query("select check_name from dq_plan_rules")
    assert violations == []


def test_enrollment_decisions_wait_for_entry(eligibility_run: SimulationRun) -> None:
    """Every enrollment on or after entry; each hire's auto-enrollment decision on entry + window, in the
    year it falls in, unless they leave first (the opt-out draw is the project's hash draw)."""
    window, opt_out = int(PLAN["auto_enrollment_window_days"]), float(PLAN["auto_enrollment_opt_out_rate"])
    expected: set[tuple[str, str, date]] = set()
    actual: set[tuple[str, str, date]] = set()
    entries: dict[str, date] = {}
    terminated: dict[str, date] = {}
    hires: set[str] = set()
    for year in YEARS:
        entries.update({e: r["eligibility_date"] for e, r in state(eligibility_run, year).items()})
        for e, kinds in events_by_employee(eligibility_run, year).items():
            if "hire" in kinds:
                hires.add(e)
            if "termination" in kinds:
                terminated[e] = kinds["termination"]["effective_date"]
            for kind in ("enrollment", "enrollment_opt_out"):
                if kind in kinds:
                    assert kinds[kind]["effective_date"] >= entries[e], e
                    if e in hires:
                        actual.add((e, kind, kinds[kind]["effective_date"]))
    for e in hires:
        decision = entries[e] + timedelta(days=window)
        if decision.year not in YEARS or decision > terminated.get(e, date.max):
            continue
        kind = (
            "enrollment_opt_out" if uniform(SEED, e, decision.year, "enrollment") < opt_out else "enrollment"
        )
        expected.add((e, kind, decision))
    assert actual == expected
    assert any(d.year == 2026 for _, _, d in expected), "2025 hires decide in 2026, after a year's wait"
