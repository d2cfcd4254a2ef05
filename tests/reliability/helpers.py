"""Running the real CLI in a subprocess and comparing database files, for the reliability tests."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]


def clean_env() -> dict[str, str]:
    """The environment without PLANALIGN_* settings, so a developer's shell cannot change what a test sees."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("PLANALIGN_")}
    env["PYTHONPATH"] = str(REPO)
    return env


def planalign(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`python -m planalign ARGS` in `cwd`, as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "planalign", *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def write_config(path: Path, settings: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    return path


def base_settings(census: Path, database: Path, *, end_year: int = 2025, **sections: Any) -> dict[str, Any]:
    """A small valid configuration; `sections` replace or add top-level sections."""
    settings: dict[str, Any] = {
        "simulation": {
            "start_year": 2025,
            "end_year": end_year,
            "census_path": str(census),
            "database_path": str(database),
        },
        "dbt": {"project_dir": str(REPO / "dbt_project")},
        "run": {"runs_dir": str(database.parent / "runs")},
    }
    settings.update(sections)
    return settings


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def copy_project(dest: Path) -> Path:
    """A private copy of the real dbt project (without build output), for tests that alter or build it."""
    shutil.copytree(REPO / "dbt_project", dest, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    return dest


Fingerprint = dict[str, tuple[int, str]]


def fingerprint(database: Path) -> Fingerprint | None:
    """What a database holds: (rows, checksum) of every base table in every schema, the year-status table
    included (its run ids and timestamps change whenever a year is written). None when the file is absent."""
    import duckdb

    from planalign.simulation.checksum import table_checksum

    if not database.exists():
        return None
    con = duckdb.connect(str(database), read_only=True)
    try:
        tables = [
            f'"{s}"."{t}"'
            for s, t in con.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_type = 'BASE TABLE' order by 1, 2"
            ).fetchall()
        ]
        return {t: (c.rows, c.digest) for t in tables for c in [table_checksum(con, t)]}
    finally:
        con.close()


def year_fingerprint(database: Path, year: int, tables: Sequence[str]) -> Fingerprint:
    """(rows, checksum) of `year`'s rows in each of the year-partitioned (incremental) `tables`: what the
    database holds of that year. Tables a run rebuilds whole every year are intermediates, not years."""
    import duckdb

    from planalign.simulation.checksum import table_checksum

    con = duckdb.connect(str(database), read_only=True)
    try:
        out: Fingerprint = {}
        for table in tables:
            c = table_checksum(con, f"(select * from {table} where simulation_year = {int(year)})")
            out[table.split(".")[-1].strip('"')] = (c.rows, c.digest)
        return out
    finally:
        con.close()


def complete_years(database: Path) -> list[int]:
    from planalign.simulation.state import SimulationState

    return [c.simulation_year for c in SimulationState(database).completed_years()]


def planalign_here(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`planalign ARGS` as `planalign(...)` runs it, but in this process: `planalign.cli.main`, the command
    line's own path minus the interpreter start-up (~2.3 s of CPU importing dbt per call), in `cwd`, with
    the environment a subprocess gets from `clean_env()` plus `env`, its stdout and stderr captured.

    For the many bad-input cases the process boundary is not what is tested; the cases where it is (a real
    traceback, a signal, a killed process) keep `planalign(...)`. An exception that `main` does not turn
    into an exit status propagates, failing the test with it where a user would have seen a traceback."""
    from planalign.cli import main

    saved = dict(os.environ)
    out, err = io.StringIO(), io.StringIO()
    try:
        os.environ.clear()
        os.environ.update({k: v for k, v in saved.items() if not k.upper().startswith("PLANALIGN_")})
        os.environ.update(env or {})
        with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse's own usage errors
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return subprocess.CompletedProcess(["planalign", *args], code, out.getvalue(), err.getvalue())


def first_and_complete(tmp_path_factory: Any, census: Path) -> tuple[Path, Path]:
    """(a database holding 2025 complete, one holding 2025–2027 complete): the default configuration (seed
    42) on the shared small census, built once per test run for every xdist worker (`tests.shared_builds`)
    and read-only — tests copy them. The complete one is made as `--end-year 2025`, copied (the first),
    then `--resume` to 2027: the same tables as one 2025–2027 run, since neither the end year nor a resume
    changes a year's results (`results_digest` leaves out the end year; test_interruption.py shows a
    resumed run equals an uninterrupted one). Tests about a later run (a re-run, a resume, a refusal,
    stage mode) start from these instead of simulating the earlier years again (~15 s of CPU a year)."""
    from planalign.simulation.orchestrator import create_orchestrator
    from tests.product.simulation_helpers import make_config
    from tests.shared_builds import built_once

    with built_once(tmp_path_factory, "reliability_2025_2027") as (directory, done):
        first, complete = directory / "first_year.duckdb", directory / "complete.duckdb"
        if not done:
            config = make_config(directory, census, complete.stem, workers=4, end_year=2027)
            orchestrator = create_orchestrator(config)
            summary = orchestrator.execute_multi_year_simulation(end_year=2025)
            assert summary.success and summary.completed_years == (2025,), summary.error
            shutil.copyfile(complete, first)
            summary = orchestrator.execute_multi_year_simulation(resume=True)
            assert summary.success, summary.error
            assert summary.completed_years == (2025, 2026, 2027), summary.completed_years
    return first, complete
