"""Retirement (issue #15 item 8), recomputed in Python from the census, the seeds and the hash draws.

A two-year plain-dbt run on a generated census in which sixty actives are re-aged to 58-87 on 2025-12-31, so
every band of config_retirement_hazard and the certain retirement at retirement_max_age are exercised.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from planalign.simulation.census import generate_census, write_census

from .simulation_support import SimulationRun, build_simulation
from .test_dbt_simulation import WORKFORCE, census_actives, round_half_up, seed_rows
from .test_plan_rules import full_years, uniform

pytestmark = pytest.mark.slow

YEARS = (2025, 2026)
SEED = 5
OLD_ACTIVES = 60


def aged_census(path: Path) -> Path:
    # The legacy generator (ages 20-65): on the default census the natural 60+ employees and the sixty
    # re-aged ones use up the year's termination budget, leaving no experienced termination to check.
    table = generate_census(300, seed=21, distribution="legacy")
    rows = table.to_pylist()
    actives = [r for r in rows if r["termination_date"] is None]
    for index, row in enumerate(actives[:OLD_ACTIVES]):
        age = 58 + index % 30  # 58..87 on 2025-12-31
        row["birth_date"] = date(2025 - age, 1 + index % 12, 1 + index % 28)
        row["hire_date"] = max(row["hire_date"], date(2025 - age + 20, 1, 1))
    return write_census(pa.Table.from_pylist(rows, schema=table.schema), path)


@pytest.fixture(scope="module")
def retirement_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulationRun]:
    root = tmp_path_factory.mktemp("retirement")
    yield build_simulation(root, aged_census(root / "census.parquet"), YEARS, {"random_seed": SEED})


def retirement_rate(age: int) -> float:
    if age >= int(WORKFORCE["retirement_max_age"]):
        return 1.0
    rows = seed_rows("config_retirement_hazard")
    rates = [float(r["retirement_rate"]) for r in rows if int(r["min_age"]) <= age <= int(r["max_age"])]
    return max(rates, default=0.0)


def start_birth_dates(run: SimulationRun, year: int) -> dict[str, date]:
    if year == YEARS[0]:
        return {e: r["birth_date"] for e, r in census_actives(run).items()}
    rows = run.query(
        "select employee_id, birth_date from int_workforce_snapshot_optimized "
        "where simulation_year = ? and employment_status = 'active'",
        [year - 1],
    )
    return dict(rows)


def test_retirements_recompute_from_the_draws(retirement_run: SimulationRun) -> None:
    """Who retires, on which day, and the year's termination counts, recomputed from the hash draws."""
    max_age = int(WORKFORCE["retirement_max_age"])
    certain = 0
    for year in YEARS:
        births = start_birth_dates(retirement_run, year)
        days = (date(year, 12, 31) - date(year, 1, 1)).days + 1
        expected = {}
        for e, born in births.items():
            age = full_years(born, date(year, 12, 31))
            rate = retirement_rate(age)
            if age >= max_age or uniform(SEED, e, year, "retirement") < rate:
                day = math.floor(uniform(SEED, e, year, "retirement_date") * days)
                expected[e] = date(year, 1, 1) + timedelta(days=day)
                certain += age >= max_age
        rows = retirement_run.query(
            "select employee_id, effective_date, termination_kind from fct_yearly_events "
            "where simulation_year = ? and event_type = 'termination'",
            [year],
        )
        actual = {e: d for e, d, kind in rows if kind == "retirement"}
        assert actual == expected, year
        assert {kind for _, _, kind in rows} == {"retirement", "experienced", "new_hire"}
        # retirements are part of the experienced terminations, whose total is unchanged unless they exceed it
        hires = {
            r[0]
            for r in retirement_run.query(
                "select employee_id from fct_yearly_events where simulation_year = ? and event_type = 'hire'",
                [year],
            )
        }
        experienced = sum(1 for e, _, _ in rows if e not in hires)
        assert experienced == max(
            round_half_up(len(births) * WORKFORCE["total_termination_rate"]), len(expected)
        )
        assert all(kind == "new_hire" for e, _, kind in rows if e in hires)
        summary = retirement_run.query(
            "select retirements, terminations from rpt_yearly_summary where simulation_year = ?", [year]
        )[0]
        assert summary == (len(expected), len(rows))
        assert expected, year
    assert certain > 0, "someone reaches retirement_max_age"


def test_no_active_reaches_the_retirement_max_age(retirement_run: SimulationRun) -> None:
    max_age = int(WORKFORCE["retirement_max_age"])
    oldest = retirement_run.query(
        "select max(age) from fct_workforce_snapshot where employment_status = 'active'"
    )[0][0]
    assert oldest < max_age
    ages_before = [
        full_years(b, date(2025, 12, 31)) for b in start_birth_dates(retirement_run, 2025).values()
    ]
    assert max(ages_before) > max_age, "the census has actives past the maximum age"
    violations = retirement_run.query(
        "select count(*) from dq_plan_rules where check_name like '%retirement%'"
    )[0][0]
    assert violations == 0
