"""Running the real CLI in a subprocess and comparing database files, for the reliability tests."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
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


def planalign_in_process(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`planalign ARGS` in `cwd` through `planalign.cli.main` in this process: its exit status and what it
    printed, like `planalign(...)`, without a new interpreter importing dbt and parsing the
    project from its cache (~4 s of CPU a call). For tests where the process boundary is not the point (a
    refusal, a listing, a run whose files are compared); signals and killed processes keep `planalign`. The
    environment is `clean_env()`'s: no PLANALIGN_* setting of the developer's shell reaches the command."""
    import contextlib
    import io

    import pytest

    from planalign import cli

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        for name in [k for k in os.environ if k.upper().startswith("PLANALIGN_")]:
            patch.delenv(name)
        patch.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(list(args))
            except SystemExit as exc:  # argparse's own exits (--help, a usage error)
                code = exc.code if isinstance(exc.code, int) else 2
    command = [sys.executable, "-m", "planalign", *args]
    return subprocess.CompletedProcess(command, code, out.getvalue(), err.getvalue())


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
