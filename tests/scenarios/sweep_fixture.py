"""A hand-built sweep: the tables a sweep database holds (with `scenario_id`), its year-status rows and
a sweep directory with sweep.json, with values chosen so every derived metric can be checked by hand."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

DIGEST = "feedc0ffee123456"
YEARS = (2025, 2026)
SEEDS = (1, 2)
DESIGNS = ("baseline", "richer")


@dataclass(frozen=True)
class HandSweep:
    directory: Path
    database: Path
    document: dict[str, Any]


def employer_cost(design: str, seed: int, year: int) -> float:
    """Baseline 1,000 a year + 100 per seed; richer 500 more; +10% in the second year."""
    cost = 1000.0 + 100.0 * seed + (500.0 if design == "richer" else 0.0)
    return round(cost * (1.1 if year == 2026 else 1.0), 2)


def build_sweep(root: Path, *, status: str = "complete", employees: int = 3) -> HandSweep:
    database = root / "hand.duckdb"
    directory = root / "runs" / "20261202T000000Z-sweep-hand"
    directory.mkdir(parents=True)
    con = duckdb.connect(str(database))
    try:
        con.execute(
            "create table dim_scenarios (scenario_id varchar, scenario_name varchar, random_seed integer)"
        )
        con.execute(
            "create table rpt_yearly_summary (scenario_id varchar, simulation_year integer, "
            "active_employees integer, hires integer, terminations integer, enrolled_actives integer, "
            "participation_rate double, employee_contributions decimal(18, 2), "
            "employer_match decimal(18, 2), employer_core_contributions decimal(18, 2), "
            "employer_cost decimal(18, 2), "
            "total_compensation_paid decimal(18, 2))"
        )
        con.execute(
            "create table fct_workforce_snapshot (scenario_id varchar, employee_id varchar, "
            "simulation_year integer, employment_status varchar, is_enrolled boolean, "
            "deferral_rate decimal(8, 4))"
        )
        con.execute(
            "create table fct_yearly_events (scenario_id varchar, employee_id varchar, "
            "simulation_year integer, event_type varchar)"
        )
        for design in DESIGNS:
            for seed in SEEDS:
                sid = f"{design}__s{seed}"
                con.execute("insert into dim_scenarios values (?, ?, ?)", [sid, design, seed])
                for year in YEARS:
                    cost = employer_cost(design, seed, year)
                    # 4 actives, 2 enrolled; match = 80% of the cost; payroll 100,000.
                    con.execute(
                        "insert into rpt_yearly_summary "
                        "values (?, ?, 4, 1, 1, 2, 0.5, 3000, ?, ?, ?, 100000)",
                        [sid, year, cost * 0.8, cost * 0.2, cost],
                    )
                    for i, (status_, enrolled, rate) in enumerate(
                        [("active", True, 0.04), ("active", True, 0.08), ("active", False, 0.0)][:employees]
                    ):
                        con.execute(
                            "insert into fct_workforce_snapshot values (?, ?, ?, ?, ?, ?)",
                            [sid, f"E{i}", year, status_, enrolled, rate],
                        )
                    con.execute("insert into fct_yearly_events values (?, 'E0', ?, 'hire')", [sid, year])
        con.execute("create schema planalign")
        con.execute(
            "create table planalign.year_status (simulation_year integer primary key, status varchar, "
            "run_id varchar, config_hash varchar, completed_at varchar)"
        )
        for year in YEARS:
            con.execute(
                "insert into planalign.year_status "
                "values (?, 'complete', 'r', ?, '2026-12-02T00:00:00+00:00')",
                [year, DIGEST],
            )
    finally:
        con.close()
    document: dict[str, Any] = {
        "schema_version": 1,
        "kind": "sweep",
        "status": status,
        "name": "hand",
        "scenarios_file": str(root / "hand.yaml"),
        "database": str(database),
        "config_digest": DIGEST,
        "census": {"path": str(root / "census.parquet"), "employees": 3},
        "years": list(YEARS),
        "seeds": list(SEEDS),
        "baseline": "baseline",
        "discount_rate": 0.1,
        "started_at": "2026-12-02T00:00:00.000+00:00",
        "finished_at": "2026-12-02T00:01:00.000+00:00",
        "elapsed_seconds": 60.0,
        "members": [
            {"scenario_id": f"{d}__s{s}", "scenario_name": d, "random_seed": s}
            for d in DESIGNS
            for s in SEEDS
        ],
        "scenarios": [
            {"name": d, "description": "", "overrides": {}, "parameters": {}, "match_formula": ""}
            for d in DESIGNS
        ],
    }
    (directory / "sweep.json").write_text(json.dumps(document))
    # The sweep's run record: the run id its database's year-status rows name (export checks it).
    (directory / "simulation" / "r").mkdir(parents=True)
    (directory / "simulation" / "r" / "summary.json").write_text(json.dumps({"run_id": "r"}))
    return HandSweep(directory, database, document)
