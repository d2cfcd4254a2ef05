"""What must hold for every year of a three-year plain-dbt run (`YEARS`) on a small generated census.

Expected values are recomputed here from the inputs (the parameter seeds and the census), never copied
from the models, so a wrong formula in the project fails these tests.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pyarrow.parquet as pq
import pytest

from .simulation_support import DBT_PROJECT, YEARS, SimulationRun

pytestmark = pytest.mark.slow

CENT = Decimal("0.01")


def seed_parameters(name: str) -> dict[str, Decimal]:
    with (DBT_PROJECT / "seeds" / f"{name}.csv").open() as handle:
        return {row["parameter_name"]: Decimal(row["parameter_value"]) for row in csv.DictReader(handle)}


def seed_rows(name: str) -> list[dict[str, str]]:
    with (DBT_PROJECT / "seeds" / f"{name}.csv").open() as handle:
        return list(csv.DictReader(handle))


WORKFORCE = seed_parameters("config_workforce_parameters")
PLAN = seed_parameters("config_plan_parameters")


def round_half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def irs_limits(year: int) -> tuple[Decimal, Decimal, Decimal]:
    """402(g), catch-up and 401(a)(17) for a year: seeded, or indexed from the last seeded year."""
    seeded = {int(r["plan_year"]): r for r in seed_rows("config_irs_limits")}
    if year in seeded:
        row = seeded[year]
        return (
            Decimal(row["elective_deferral_limit"]),
            Decimal(row["catch_up_limit"]),
            Decimal(row["compensation_limit"]),
        )
    last = max(seeded)
    factor = float(1 + WORKFORCE["irs_indexing_rate"]) ** (year - last)
    row = seeded[last]

    def index(value: str, step: int) -> Decimal:
        return Decimal(math.floor(float(value) * factor / step) * step)

    return (
        index(row["elective_deferral_limit"], 500),
        index(row["catch_up_limit"], 500),
        index(row["compensation_limit"], 5000),
    )


def irs_limit(year: int, column: str, step: int) -> Decimal:
    """Any config_irs_limits column for a year: seeded, or indexed from the last seeded year."""
    seeded = {int(r["plan_year"]): r for r in seed_rows("config_irs_limits")}
    if year in seeded:
        return Decimal(seeded[year][column])
    last = max(seeded)
    factor = float(1 + WORKFORCE["irs_indexing_rate"]) ** (year - last)
    return Decimal(math.floor(float(seeded[last][column]) * factor / step) * step)


def catch_up_limit(year: int, age: int) -> Decimal:
    """Regular catch-up from catch_up_age; SECURE 2.0's higher one at ages 60-63 (2025 on)."""
    if age < int(PLAN["catch_up_age"]):
        return Decimal(0)
    regular = irs_limit(year, "catch_up_limit", 500)
    return max(irs_limit(year, "super_catch_up_limit", 500), regular) if 60 <= age <= 63 else regular


def census_actives(run: SimulationRun) -> dict[str, dict[str, Any]]:
    rows = pq.read_table(run.census_path).to_pylist()
    return {r["employee_id"]: r for r in rows if r["termination_date"] is None}


def snapshot(run: SimulationRun, year: int) -> dict[str, dict[str, Any]]:
    columns = [
        "employee_id",
        "employment_status",
        "hire_date",
        "termination_date",
        "age",
        "job_level",
        "annual_compensation",
        "prorated_compensation",
        "is_enrolled",
        "deferral_rate",
        "employee_contribution",
        "employer_match",
        "employer_core_contribution",
    ]
    rows = run.query(
        f"select {', '.join(columns)} from fct_workforce_snapshot where simulation_year = ?", [year]
    )
    return {row[0]: dict(zip(columns, row, strict=True)) for row in rows}


def events(run: SimulationRun, year: int | None = None) -> list[dict[str, Any]]:
    columns = [
        "event_id",
        "employee_id",
        "simulation_year",
        "event_type",
        "effective_date",
        "compensation_before",
        "compensation_after",
        "level_before",
        "level_after",
        "deferral_rate_before",
        "deferral_rate_after",
    ]
    where = "" if year is None else f"where simulation_year = {int(year)}"
    rows = run.query(f"select {', '.join(columns)} from fct_yearly_events {where}")
    return [dict(zip(columns, row, strict=True)) for row in rows]


def events_by_employee(run: SimulationRun, year: int) -> dict[str, dict[str, dict[str, Any]]]:
    grouped: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for event in events(run, year):
        assert event["event_type"] not in grouped[event["employee_id"]], (
            "one event per type per employee-year"
        )
        grouped[event["employee_id"]][event["event_type"]] = event
    return grouped


def start_of_year_actives(run: SimulationRun, year: int) -> dict[str, dict[str, Any]]:
    """Actives at the end of year - 1, with the fields the continuity checks compare."""
    if year == YEARS[0]:
        return {
            employee_id: {
                "job_level": row["job_level"],
                "annual_compensation": Decimal(str(row["annual_compensation"])).quantize(CENT),
                "deferral_rate": Decimal(str(row["deferral_rate"] or 0)).quantize(Decimal("0.0001")),
            }
            for employee_id, row in census_actives(run).items()
        }
    return {k: v for k, v in snapshot(run, year - 1).items() if v["employment_status"] == "active"}


# ---------------------------------------------------------------------------------------------- growth


@pytest.mark.parametrize("year", YEARS)
def test_growth_and_termination_counts_are_exact(simulation: SimulationRun, year: int) -> None:
    start = len(start_of_year_actives(simulation, year))
    end_rows = snapshot(simulation, year)
    end = sum(1 for r in end_rows.values() if r["employment_status"] == "active")
    by_employee = events_by_employee(simulation, year)
    hires = {e for e, kinds in by_employee.items() if "hire" in kinds}
    experienced_terms = sum(1 for e, k in by_employee.items() if "termination" in k and e not in hires)
    new_hire_terms = sum(1 for e, k in by_employee.items() if "termination" in k and e in hires)

    growth, term_rate, nh_rate = (
        WORKFORCE["target_growth_rate"],
        WORKFORCE["total_termination_rate"],
        WORKFORCE["new_hire_termination_rate"],
    )
    target = round_half_up(start * (1 + growth))
    assert abs(end - target) <= 1, (year, start, end, target)
    assert abs(experienced_terms - round_half_up(start * term_rate)) <= 1
    assert abs(new_hire_terms - round_half_up(len(hires) * nh_rate)) <= 1
    net = target - (start - round_half_up(start * term_rate))
    assert net > 0, "the default growth needs hires every year"
    assert abs(len(hires) - math.ceil(net / (1 - nh_rate))) <= 1
    assert start > 300 and len(hires) > 0 and experienced_terms > 0 and new_hire_terms > 0


# ------------------------------------------------------------------------------------------ continuity


@pytest.mark.parametrize("year", YEARS)
def test_headcount_continuity_and_status(simulation: SimulationRun, year: int) -> None:
    start = start_of_year_actives(simulation, year)
    rows = snapshot(simulation, year)
    by_employee = events_by_employee(simulation, year)
    hires = {e for e, k in by_employee.items() if "hire" in k}
    terminations = {e for e, k in by_employee.items() if "termination" in k}
    actives = {e for e, r in rows.items() if r["employment_status"] == "active"}

    assert len(actives) == len(start) - len(terminations) + len(hires)
    # the snapshot holds exactly the start-of-year actives plus the year's hires
    assert set(rows) == set(start) | hires
    assert not (set(start) & hires)
    for employee_id, row in rows.items():
        terminated = employee_id in terminations
        assert (row["employment_status"] == "terminated") == terminated
        if terminated:
            assert row["termination_date"] == by_employee[employee_id]["termination"]["effective_date"]
        else:
            assert row["termination_date"] is None


def test_terminated_employees_never_come_back(simulation: SimulationRun) -> None:
    seen_terminated: set[str] = set()
    for year in YEARS:
        rows = snapshot(simulation, year)
        assert not (seen_terminated & set(rows)), f"terminated employees reappear in {year}"
        seen_terminated |= {e for e, r in rows.items() if r["employment_status"] == "terminated"}
    census = pq.read_table(simulation.census_path).to_pylist()
    history = {r["employee_id"] for r in census if r["termination_date"] is not None}
    assert history, "the census should carry terminated history rows"
    assert not (history & set(snapshot(simulation, YEARS[0])))


@pytest.mark.parametrize("year", YEARS)
def test_events_fall_inside_the_year_and_employment(simulation: SimulationRun, year: int) -> None:
    rows = snapshot(simulation, year)
    for event in events(simulation, year):
        employee = rows[event["employee_id"]]
        assert event["effective_date"].year == year
        assert event["effective_date"] >= employee["hire_date"]
        if employee["termination_date"] is not None:
            assert event["effective_date"] <= employee["termination_date"]


@pytest.mark.parametrize("year", YEARS)
def test_every_snapshot_change_is_explained_by_an_event(simulation: SimulationRun, year: int) -> None:
    start = start_of_year_actives(simulation, year)
    rows = snapshot(simulation, year)
    by_employee = events_by_employee(simulation, year)
    changed = {"level": 0, "pay": 0, "deferral": 0}
    for employee_id, before in start.items():
        after = rows[employee_id]
        kinds = by_employee.get(employee_id, {})
        expected_level = kinds["promotion"]["level_after"] if "promotion" in kinds else before["job_level"]
        assert after["job_level"] == expected_level
        if "raise" in kinds:
            expected_pay = kinds["raise"]["compensation_after"]
            assert kinds["raise"]["compensation_before"] == (
                kinds["promotion"]["compensation_after"]
                if "promotion" in kinds
                else before["annual_compensation"]
            )
        elif "promotion" in kinds:
            expected_pay = kinds["promotion"]["compensation_after"]
        else:
            expected_pay = before["annual_compensation"]
        assert after["annual_compensation"] == expected_pay
        deferral_events = [
            kinds[k] for k in ("enrollment", "enrollment_opt_out", "deferral_escalation") if k in kinds
        ]
        assert len(deferral_events) <= 1
        expected_rate = (
            deferral_events[0]["deferral_rate_after"] if deferral_events else before["deferral_rate"]
        )
        assert after["deferral_rate"] == expected_rate
        if deferral_events and deferral_events[0]["event_type"] == "deferral_escalation":
            assert deferral_events[0]["deferral_rate_before"] == before["deferral_rate"]
        changed["level"] += after["job_level"] != before["job_level"]
        changed["pay"] += after["annual_compensation"] != before["annual_compensation"]
        changed["deferral"] += after["deferral_rate"] != before["deferral_rate"]
    assert all(count > 0 for count in changed.values()), changed
    for employee_id, after in rows.items():
        if employee_id not in start:
            hire = by_employee[employee_id]["hire"]
            assert (after["job_level"], after["annual_compensation"]) == (
                hire["level_after"],
                hire["compensation_after"],
            )


# ------------------------------------------------------------------------------------------------ money


def _overlap(a_start: date, a_end: date, b_start: date, b_end: date) -> int:
    return max(0, (min(a_end, b_end) - max(a_start, b_start)).days + 1)


def _paid(pre: Decimal, post: Decimal, start: date, end: date, year: int, merit: date) -> Decimal:
    year_start, year_end = date(year, 1, 1), date(year, 12, 31)
    days = (year_end - year_start).days + 1
    amount = pre * _overlap(start, end, year_start, merit - timedelta(days=1)) + post * _overlap(
        start, end, merit, year_end
    )
    return amount / days


def _match_rate(deferral: Decimal) -> Decimal:
    total = Decimal(0)
    for tier in seed_rows("config_match_tiers"):
        low, high = Decimal(tier["employee_min"]), Decimal(tier["employee_max"])
        total += Decimal(tier["match_rate"]) * max(Decimal(0), min(deferral, high) - low)
    return total


@pytest.mark.parametrize("year", YEARS)
def test_pay_contributions_and_match_follow_the_rules(simulation: SimulationRun, year: int) -> None:
    rows = snapshot(simulation, year)
    start = start_of_year_actives(simulation, year)
    by_employee = events_by_employee(simulation, year)
    deferral_limit, _, comp_limit = irs_limits(year)
    merit_date = date(year, int(WORKFORCE["merit_effective_month"]), 1)
    match_cap = PLAN["match_cap_rate"]
    matched = 0
    for employee_id, row in rows.items():
        kinds = by_employee.get(employee_id, {})
        employed_from = max(row["hire_date"], date(year, 1, 1))
        employed_to = row["termination_date"] or date(year, 12, 31)
        if "raise" in kinds:
            pre, post = kinds["raise"]["compensation_before"], kinds["raise"]["compensation_after"]
        else:
            pre = post = row["annual_compensation"]
        paid = _paid(pre, post, employed_from, employed_to, year, merit_date)
        assert abs(row["prorated_compensation"] - paid) <= CENT, employee_id

        enrolled_at_start = employee_id in start and start[employee_id]["deferral_rate"] > 0
        if "enrollment" in kinds:
            deferring_from: date | None = kinds["enrollment"]["effective_date"]
        elif enrolled_at_start:
            deferring_from = date(year, 1, 1)
        else:
            deferring_from = None
        assert row["is_enrolled"] == (deferring_from is not None)
        deferred_pay = (
            _paid(pre, post, max(employed_from, deferring_from), employed_to, year, merit_date)
            if deferring_from is not None and row["deferral_rate"] > 0
            else Decimal(0)
        )
        limit = deferral_limit + catch_up_limit(year, row["age"])
        # plan compensation for every purpose, deferrals included, is capped at 401(a)(17)
        eligible = min(deferred_pay, comp_limit)
        requested = (row["deferral_rate"] * eligible).quantize(CENT, rounding=ROUND_HALF_UP)
        assert abs(row["employee_contribution"] - min(requested, limit)) <= CENT, employee_id
        assert row["employee_contribution"] <= limit

        if row["employee_contribution"] == 0:
            assert row["employer_match"] == 0, "no match without a deferral"
            continue
        matched += 1
        rate = min(_match_rate(row["employee_contribution"] / eligible), match_cap)
        assert abs(row["employer_match"] - (rate * eligible)) <= Decimal("0.02"), employee_id
    assert matched > 0


def test_402g_and_401a17_caps_bind(simulation: SimulationRun) -> None:
    """The caps are exercised, not vacuous: some deferrals hit 402(g), some pay exceeds 401(a)(17)."""
    limited = simulation.query("select count(*) from int_employee_contributions where is_limited")[0][0]
    capped = simulation.query(
        "select count(*) from int_employee_match_calculations m join int_employee_contributions c "
        "using (employee_id, simulation_year) where c.deferral_compensation > m.match_eligible_compensation"
    )[0][0]
    assert limited > 0
    assert capped > 0


def test_irs_limits_are_real_through_2026_and_indexed_after() -> None:
    assert irs_limits(2025) == (Decimal(23500), Decimal(7500), Decimal(350000))
    assert irs_limits(2026) == (Decimal(24500), Decimal(8000), Decimal(360000))
    later = irs_limits(2029)
    assert later[0] > Decimal(24500) and later[0] % 500 == 0 and later[2] % 5000 == 0


def test_escalations_respect_cap_and_opt_outs(simulation: SimulationRun) -> None:
    increment, cap = PLAN["escalation_increment"], PLAN["escalation_cap"]
    opted_out: set[str] = set()
    escalations = 0
    for year in YEARS:
        year_events = events(simulation, year)
        for event in year_events:
            if event["event_type"] == "deferral_escalation":
                escalations += 1
                assert event["employee_id"] not in opted_out
                assert event["deferral_rate_before"] < cap
                assert event["deferral_rate_after"] == min(event["deferral_rate_before"] + increment, cap)
        opted_out |= {e["employee_id"] for e in year_events if e["event_type"] == "enrollment_opt_out"}
    assert escalations > 0 and opted_out


def test_published_snapshot_matches_contribution_models(simulation: SimulationRun) -> None:
    mismatches = simulation.query(
        """
        select count(*) from fct_workforce_snapshot s
        left join int_employee_contributions c using (employee_id, simulation_year)
        left join int_employee_match_calculations m using (employee_id, simulation_year)
        where s.employee_contribution <> coalesce(c.employee_contribution, 0)
           or s.employer_match <> coalesce(m.employer_match, 0)
        """
    )[0][0]
    assert mismatches == 0


def test_dq_models_are_empty_and_summary_covers_every_year(simulation: SimulationRun) -> None:
    for model in (
        "dq_growth_check",
        "dq_event_snapshot_consistency",
        "dq_contribution_limits",
        "dq_plan_rules",
        "dq_census_rejects",
    ):
        assert simulation.query(f"select count(*) from {model}")[0][0] == 0, model
    summary = simulation.query(
        "select simulation_year, active_employees, hires from rpt_yearly_summary order by 1"
    )
    assert [row[0] for row in summary] == list(YEARS)
    for year, actives, hires in summary:
        rows = snapshot(simulation, year)
        assert actives == sum(1 for r in rows.values() if r["employment_status"] == "active")
        assert hires == sum(1 for e in events(simulation, year) if e["event_type"] == "hire")


def test_event_ids_are_unique_and_deterministic(simulation: SimulationRun) -> None:
    all_events = events(simulation)
    ids = [e["event_id"] for e in all_events]
    assert len(set(ids)) == len(ids)
    import hashlib

    for event in all_events[:50]:
        key = f"{event['employee_id']}|{event['simulation_year']}|{event['event_type']}"
        assert event["event_id"] == hashlib.md5(key.encode()).hexdigest()
