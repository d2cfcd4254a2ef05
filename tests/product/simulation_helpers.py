"""Building configurations and comparing databases for the real-dbt simulation tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from planalign.simulation.checksum import table_checksum
from planalign.simulation.config import SimulationConfig
from planalign.simulation.config_loading import load_simulation_config
from planalign.simulation.run_directory import SimulationSummary

REPO = Path(__file__).resolve().parents[2]
MP = "orchestrator.threading.model_parallelization."


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
