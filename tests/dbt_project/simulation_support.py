"""Helpers for the real-dbt tests: run plain `dbt` in an isolated workspace and query its database."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"
DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"
YEARS = (2025, 2026, 2027, 2028, 2029)
CENSUS_EMPLOYEES = 400
CENSUS_SEED = 11
RANDOM_SEED = 42


@dataclass(frozen=True)
class DbtWorkspace:
    """One isolated place to run plain dbt: its own database file, target path and log path."""

    root: Path

    @property
    def database(self) -> Path:
        return self.root / "simulation.duckdb"

    def dbt(
        self, *args: str, vars: Mapping[str, Any], check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        command = [
            str(DBT_EXECUTABLE),
            *args,
            "--project-dir",
            str(DBT_PROJECT),
            "--profiles-dir",
            str(DBT_PROJECT),
            "--target-path",
            str(self.root / "target"),
            "--log-path",
            str(self.root / "logs"),
            "--vars",
            json.dumps({"database_path": str(self.database), **vars}),
        ]
        result = subprocess.run(command, cwd=DBT_PROJECT, capture_output=True, text=True, timeout=600)
        if check and result.returncode != 0:
            raise AssertionError(
                f"dbt {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
            )
        return result

    def connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.database), read_only=True)


@dataclass(frozen=True)
class SimulationRun:
    workspace: DbtWorkspace
    census_path: Path
    vars: Mapping[str, Any]

    def query(self, sql: str, parameters: list[Any] | None = None) -> list[tuple[Any, ...]]:
        with self.workspace.connect() as connection:
            return connection.execute(sql, parameters or []).fetchall()

    def manifest(self, *, first_year: bool = False) -> dict[str, Any]:
        """The parsed project as of the last year (or, with first_year, as parsed for the first year)."""
        root = self.workspace.root
        path = root / "manifest_first_year.json" if first_year else root / "target" / "manifest.json"
        data: dict[str, Any] = json.loads(path.read_text())
        return data
