"""Building configurations and comparing databases for the real-dbt simulation tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from planalign.simulation.checksum import table_checksum
from planalign.simulation.config import SimulationConfig
from planalign.simulation.config_loading import load_simulation_config
from planalign.simulation.run_directory import SimulationSummary

REPO = Path(__file__).resolve().parents[2]
MP = "orchestrator.threading.model_parallelization."

#: The serial reference run (`serial_reference`): two simulated years, enough for a completed year to
#: survive while the next one is interrupted or fails, and for the second year to read the first's state.
REFERENCE_END_YEAR = 2026

Checksums = dict[str, tuple[int, str]]


def make_config(
    tmp: Path, census: Path, name: str, *, workers: int | None = 4, end_year: int = 2027, **extra: Any
) -> SimulationConfig:
    """A config for a run into `tmp/<name>.duckdb`; `workers=None` disables parallelization."""
    overrides: dict[str, Any] = {
        "simulation.census_path": str(census),
        "simulation.database_path": str(tmp / f"{name}.duckdb"),
        "simulation.start_year": 2025,
        "simulation.end_year": end_year,
        "run.runs_dir": str(tmp / "runs"),
        "dbt.project_dir": str(REPO / "dbt_project"),
        MP + "enabled": workers is not None,
        MP + "max_workers": workers or 1,
        MP + "worker_rule": "fixed",  # these tests exercise the given worker count, whatever the cores
        **extra,
    }
    return load_simulation_config(None, overrides=overrides)


def output_checksums(database: Path) -> dict[str, tuple[int, str]]:
    """Checksums of every table with a simulation_year column (the year-partitioned outputs)."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        tables = [
            f"{s}.{t}"
            for s, t in con.execute(
                "select table_schema, table_name from information_schema.columns "
                "where column_name = 'simulation_year' and table_schema <> 'planalign' "
                "and table_name in (select table_name from information_schema.tables "
                "where table_type = 'BASE TABLE') order by 1, 2"
            ).fetchall()
        ]
        assert any(t.endswith("fct_yearly_events") for t in tables), tables
        return {t: (c.rows, c.digest) for t in tables for c in [table_checksum(con, t)]}
    finally:
        con.close()


def years_in(database: Path, table: str = "fct_yearly_events") -> list[int]:
    con = duckdb.connect(str(database), read_only=True)
    try:
        return [
            int(r[0])
            for r in con.execute(f"select distinct simulation_year from {table} order by 1").fetchall()
        ]
    finally:
        con.close()


def peak_parallelism(summary: SimulationSummary) -> int:
    """The most models in flight at once in any step planalign scheduled (the year's dbt tests, run by one dbt
    command, carry no parallelism)."""
    return max(s.parallelism_max for s in summary.stages if s.parallelism_max is not None)


def serial_reference(
    tmp_path_factory: pytest.TempPathFactory, census: Path, seed: int
) -> tuple[Checksums, int]:
    """(checksums of every output table, peak models in flight) of an uninterrupted one-worker run of
    2025–`REFERENCE_END_YEAR` with `seed` on `census`: made once per test run for every xdist worker and
    every test package that compares against it (the reliability tests, tests/product/test_simulation.py),
    kept as JSON (`tests.shared_builds`)."""
    from planalign.simulation.orchestrator import create_orchestrator
    from tests.shared_builds import built_once

    with built_once(tmp_path_factory, f"reference_seed{seed}") as (directory, done):
        result_file = directory / "result.json"
        if not done:
            config = make_config(
                directory,
                census,
                f"reference_seed{seed}",
                workers=1,
                end_year=REFERENCE_END_YEAR,
                **{"simulation.random_seed": seed},
            )
            summary = create_orchestrator(config).execute_multi_year_simulation()
            assert summary.success, summary.error
            result = {"checksums": output_checksums(summary.database_path), "peak": peak_parallelism(summary)}
            result_file.write_text(json.dumps(result))
        data = json.loads(result_file.read_text())
    checksums = {table: (int(rows), str(digest)) for table, (rows, digest) in data["checksums"].items()}
    return checksums, int(data["peak"])


def serial_reference_run(
    tmp_path_factory: pytest.TempPathFactory, census: Path, seed: int
) -> tuple[Path, dict[str, Any]]:
    """(the database, the run's summary.json) of `serial_reference`'s run of `seed` on `census` (built once
    per test run, or found built): for a test that needs a single run of the default configuration with this
    seed, 2025-`REFERENCE_END_YEAR`, row for row — read-only, like everything `built_once` shares."""
    from tests.shared_builds import built_once

    serial_reference(tmp_path_factory, census, seed)
    with built_once(tmp_path_factory, f"reference_seed{seed}") as (directory, done):
        assert done, "serial_reference did not build its run"
    [summary] = sorted((directory / "runs").glob("*/summary.json"))
    return directory / f"reference_seed{seed}.duckdb", json.loads(summary.read_text())
