"""End to end on real dbt: `scenarios run` on the 300-employee test census (2 years, 2 designs × 2 seeds),
then the invariant of issue #14 — every member's tables in the sweep database are identical, row for row
and ignoring `scenario_id`, to a single simulation of that design's configuration and seed — and `export`
in every format.

The baseline design is the code's default configuration and the seeds are those of the serial reference
runs (`tests.product.simulation_helpers.serial_reference`, seeds 42 and 43 on the same census, 2025-2026),
which the reliability and product tests build once per test run anyway: the baseline members' single runs
are those runs (read-only), and only the other design's are run here.

Needs the dbt project's scenario dimension (every model carries `scenario_id`, the `scenarios` var).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from openpyxl import load_workbook

from planalign.cli import main
from planalign.scenarios.scenario_file import load_scenario_file
from planalign.scenarios.sweep import load_sweep
from planalign.simulation.assumptions import assumptions_from_dict
from planalign.simulation.config_loading import apply_overrides
from planalign.simulation.orchestrator import PipelineOrchestrator
from tests.product.simulation_helpers import serial_reference_run

from .conftest import write_scenario_file, write_sweep_project

REPO = Path(__file__).resolve().parents[2]
SEEDS = [42, 43]  # the serial reference runs' seeds (tests/reliability/conftest.py: SEED, OTHER_SEED)
FLOAT_DIGITS = 9
_FLOATS = {"DOUBLE", "FLOAT", "REAL"}

pytestmark = pytest.mark.slow


def _differences(sweep_db: Path, single_db: Path, scenario_id: str) -> tuple[list[str], list[str]]:
    """(problems, tables compared): each per-scenario table of the single run against the member's rows of
    the sweep, as multisets of rows without scenario_id (doubles to FLOAT_DIGITS places: parallel sums may
    differ in the last bits)."""
    con = duckdb.connect()
    problems: list[str] = []
    compared: list[str] = []
    try:
        con.execute(f"attach '{sweep_db}' as sweep (read_only)")
        con.execute(f"attach '{single_db}' as single (read_only)")
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables where table_catalog = 'single' "
            "and table_type = 'BASE TABLE' and table_schema <> 'planalign' order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            columns = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_catalog = 'single' and table_schema = ? and table_name = ? "
                "order by ordinal_position",
                [schema, table],
            ).fetchall()
            names = [str(c) for c, _ in columns]
            if "scenario_id" not in names or table == "dim_scenarios":
                continue  # a seed table (the same for every scenario), or the dimension itself
            if names[0] != "scenario_id":
                problems.append(f"{table}: scenario_id is not the first column")
            select = ", ".join(
                f'round("{c}", {FLOAT_DIGITS}) as "{c}"' if str(t).upper() in _FLOATS else f'"{c}"'
                for c, t in columns
                if c != "scenario_id"
            )
            ours = f'select {select} from sweep."{schema}"."{table}" where scenario_id = $sid'
            theirs = f'select {select} from single."{schema}"."{table}"'
            counts = con.execute(
                f"select (select count(*) from ({ours})), (select count(*) from ({theirs})), "
                f"(select count(*) from ({ours} except all {theirs})), "
                f"(select count(*) from ({theirs} except all {ours}))",
                {"sid": scenario_id},
            ).fetchone()
            assert counts is not None
            compared.append(table)
            if counts[0] != counts[1] or counts[2] or counts[3]:
                problems.append(
                    f"{table}: sweep {counts[0]} rows, single run {counts[1]}; {counts[2]} only in the "
                    f"sweep, {counts[3]} only in the single run"
                )
    finally:
        con.close()
    return problems, compared


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory, small_census: Path) -> dict[str, Any]:
    root = write_sweep_project(tmp_path_factory.mktemp("sweep_e2e"), 300, census=small_census)
    scenarios = {
        "name": "e2e",
        "scenarios": {
            "richer": {
                "description": "another match formula, a lower auto-enrollment default, no escalation",
                "overrides": {
                    "match": {"tiers": [{"employee_max": 0.04, "match_rate": 1.0}], "cap_rate": 0.04},
                    "enrollment": {"auto_enrollment": {"default_deferral_rate": 0.03}},
                    "escalation": {"enabled": False},
                },
            }
        },
        "seeds": SEEDS,
    }
    path = write_scenario_file(root, "e2e", scenarios)
    assert main(["scenarios", "run", str(path), "--workers", "2"]) == 0
    [directory] = sorted((root / "runs").glob("*-sweep-e2e"))
    return {"root": root, "file": path, "directory": directory, "set": load_scenario_file(path)}


def test_the_sweep_writes_its_directory_and_comparison(sweep: dict[str, Any]) -> None:
    directory: Path = sweep["directory"]
    document = load_sweep(directory)
    assert document["status"] == "complete"
    assert [m["scenario_id"] for m in document["members"]] == [
        "baseline__s42",
        "baseline__s43",
        "richer__s42",
        "richer__s43",
    ]
    comparison = json.loads((directory / "comparison.json").read_text())
    assert len(comparison["rows"]) == 2 * 2 * len(comparison["metrics"])
    assert (directory / "metrics.csv").is_file() and (directory / "comparison.html").is_file()
    rows = {(r["scenario"], r["year"], r["metric"]): r for r in comparison["rows"]}
    # The designs differ: auto-enrollment at 3% instead of 6%, and no yearly escalation, lower the
    # contributions for every seed, and the match formula changes the match. (Faster escalation instead,
    # +2 points a year, raised the second year's contributions above the baseline's on this census.)
    for year in (2025, 2026):
        assert rows[("richer", year, "employee_contributions")]["delta_p95"] < 0
        assert rows[("richer", year, "employer_match")]["delta_p50"] != 0
        assert rows[("baseline", year, "employer_match")]["delta_p50"] == 0
    with duckdb.connect(document["database"], read_only=True) as con:
        # Another seed draws other leavers: the events of the two seeds differ.
        only_one_seed = con.execute(
            "select count(*) from (select employee_id, event_type from fct_yearly_events "
            "where scenario_id = 'baseline__s42' "
            "except select employee_id, event_type from fct_yearly_events "
            "where scenario_id = 'baseline__s43')"
        ).fetchone()
        dim = con.execute(
            "select scenario_id, scenario_name, random_seed from dim_scenarios order by 1"
        ).fetchall()
    assert only_one_seed is not None and only_one_seed[0] > 0
    assert dim == sorted(
        (m["scenario_id"], m["scenario_name"], m["random_seed"]) for m in document["members"]
    )


def test_every_member_equals_a_single_run_of_its_design_and_seed(
    sweep: dict[str, Any], tmp_path_factory: pytest.TempPathFactory, small_census: Path
) -> None:
    root: Path = sweep["root"]
    document = load_sweep(sweep["directory"])
    sweep_db = Path(document["database"])
    designs = {d["name"]: d for d in document["scenarios"]}
    failures: list[str] = []
    for design in sweep["set"].designs:
        for seed in SEEDS:
            sid = f"{design.name}__s{seed}"
            if design.name == "baseline":  # the default configuration: the serial reference run of the seed
                database, summary_json = serial_reference_run(tmp_path_factory, small_census, seed)
                assert summary_json["status"] == "success", summary_json.get("error")
                assert summary_json["assumptions"] is not None, summary_json["assumptions_error"]
                assert designs[design.name]["parameters"] == (
                    assumptions_from_dict(summary_json["assumptions"]).parameter_values()
                ), sid
                problems, compared = _differences(sweep_db, database, sid)
                assert {"fct_yearly_events", "fct_workforce_snapshot", "rpt_yearly_summary"} <= set(compared)
                failures.extend(f"{sid}: {p}" for p in problems)
                continue
            config = apply_overrides(
                design.config,
                {
                    "simulation.random_seed": seed,
                    "simulation.database_path": str(root / f"single-{sid}.duckdb"),
                    "run.runs_dir": str(root / "single-runs"),
                    "orchestrator.threading.model_parallelization.enabled": True,
                    "orchestrator.threading.model_parallelization.max_workers": 2,
                },
            )
            summary = PipelineOrchestrator(config).execute_multi_year_simulation()
            assert summary.success, summary.error
            # sweep.json's design parameters (read from the sweep database) are the single run's (its build).
            assert summary.assumptions is not None, summary.assumptions_error
            assert designs[design.name]["parameters"] == (
                assumptions_from_dict(summary.assumptions).parameter_values()
            ), sid
            problems, compared = _differences(sweep_db, Path(config.simulation.database_path), sid)
            assert {"fct_yearly_events", "fct_workforce_snapshot", "rpt_yearly_summary"} <= set(compared)
            failures.extend(f"{sid}: {p}" for p in problems)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_export_in_every_format(sweep: dict[str, Any], fmt: str, tmp_path: Path) -> None:
    out = tmp_path / fmt
    assert main(["export", str(sweep["directory"]), "--format", fmt, "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    if fmt == "xlsx":
        [workbook_path] = names
        sheets = load_workbook(out / workbook_path, read_only=True).sheetnames
        assert sheets == ["Summary", "Yearly", "Assumptions", "Members"]  # the detail with --detail
    else:
        assert names == sorted(
            f"{t}.{fmt}"
            for t in (
                "fct_workforce_snapshot",
                "fct_yearly_events",
                "rpt_yearly_summary",
                "dim_scenarios",
                "scenario_metrics",
                "comparison_summary",
                "comparison_yearly",
            )
        )
        reader = "read_csv_auto" if fmt == "csv" else "read_parquet"
        with duckdb.connect() as con:
            row = con.execute(
                f"select count(distinct scenario_id) from {reader}(?)",
                [str(out / f"rpt_yearly_summary.{fmt}")],
            ).fetchone()
        assert row == (4,)
