"""Bad input through the real CLI: exit status 2, a short message naming what is wrong and how to fix it, no
traceback (unless --debug), and an existing database left byte for byte as it was."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from planalign.state import SimulationState
from tests.reliability.helpers import (
    base_settings,
    clean_env,
    copy_project,
    file_digest,
    planalign,
    write_config,
)

EFFECTIVE_DATE = dt.date(2024, 12, 31)


@pytest.fixture(scope="module")
def good_census(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from planalign.census import generate_census, write_census

    path = tmp_path_factory.mktemp("bad_input_census") / "census.parquet"
    write_census(generate_census(40, seed=11), path)
    return path


@pytest.fixture(scope="module")
def cyclic_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the real dbt project with one extra dependency closing a loop inside the foundation stage
    (int_workforce_needs already reads int_effective_parameters)."""
    project = copy_project(tmp_path_factory.mktemp("cyclic") / "dbt_project")
    model = project / "models" / "foundation" / "int_effective_parameters.sql"
    model.write_text(model.read_text() + "\n-- depends_on: {{ ref('int_workforce_needs') }}\n")
    return project


@dataclass
class Workspace:
    """A working directory holding an existing database (with data a rerun would change) and a census."""

    root: Path
    census: Path
    database: Path

    def settings(self, **sections: Any) -> dict[str, Any]:
        return base_settings(self.census, self.database, **sections)

    def config(self, settings: dict[str, Any] | str, name: str = "simulation_config.yaml") -> Path:
        path = self.root / name
        if isinstance(settings, str):
            path.write_text(settings)
            return path
        return write_config(path, settings)


@pytest.fixture
def ws(tmp_path: Path, good_census: Path) -> Iterator[Workspace]:
    census = tmp_path / "census.parquet"
    shutil.copy(good_census, census)
    database = tmp_path / "simulation.duckdb"
    con = duckdb.connect(str(database))
    con.execute("create table main.fct_yearly_events as select 2025 as simulation_year, 'hire' as event_type")
    con.close()
    SimulationState(database).mark_complete(2025, run_id="earlier-run", config_hash="earlier")
    digest = file_digest(database)
    yield Workspace(tmp_path, census, database)
    assert file_digest(database) == digest, "bad input changed the existing database"
    assert not (tmp_path / "runs").exists(), "bad input wrote a run directory"


def assert_usage_error(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert result.returncode == 2, (
        f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    )
    err = result.stderr
    assert "Traceback" not in err, err
    assert err.count("\n") <= 12, f"message too long:\n{err}"
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in:\n{err}"
    return err


# ---------------------------------------------------------------------- configuration


def test_malformed_yaml_names_the_line(ws: Workspace) -> None:
    ws.config("simulation:\n  start_year: [2025\n")
    result = planalign("simulate", cwd=ws.root)
    assert_usage_error(result, "simulation_config.yaml", "line", "invalid YAML")


def test_unknown_key_suggests_the_known_one(ws: Workspace) -> None:
    settings = ws.settings(workforce={"total_termination_rat": 0.1})
    ws.config(settings)
    result = planalign("simulate", cwd=ws.root)
    assert_usage_error(
        result, "workforce.total_termination_rat: unknown key", "did you mean 'total_termination_rate'"
    )


def test_wrong_type_names_key_and_value(ws: Workspace) -> None:
    settings = ws.settings()
    settings["simulation"]["random_seed"] = "forty-two"
    ws.config(settings)
    result = planalign("simulate", cwd=ws.root)
    assert_usage_error(result, "simulation.random_seed", "valid integer", "forty-two")


MP = ("orchestrator", "threading", "model_parallelization")


def _set(settings: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    node = settings
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return settings


@pytest.mark.parametrize(
    ("path", "value", "fragments"),
    [
        (("simulation", "end_year"), 2024, ["simulation.end_year", "must be >= simulation.start_year"]),
        ((*MP, "max_workers"), 0, ["model_parallelization.max_workers", "must be >= 1 (got 0)"]),
        (("workforce", "total_termination_rate"), 1.5, ["total_termination_rate", "between 0 and 1"]),
        ((*MP, "memory_limit_mb"), -512, ["model_parallelization.memory_limit_mb", "must be > 0"]),
    ],
    ids=["end_before_start", "max_workers_0", "rate_above_1", "negative_memory_limit"],
)
def test_impossible_values_are_named_with_the_bound(
    ws: Workspace, path: tuple[str, ...], value: Any, fragments: list[str]
) -> None:
    ws.config(_set(ws.settings(), path, value))
    result = planalign("simulate", cwd=ws.root)
    assert_usage_error(result, *fragments)


def test_debug_shows_the_traceback(ws: Workspace) -> None:
    ws.config(_set(ws.settings(), (*MP, "max_workers"), 0))
    result = planalign("--debug", "simulate", cwd=ws.root)
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "max_workers" in result.stderr


# ---------------------------------------------------------------------- census


def test_missing_census_says_how_to_generate_one(ws: Workspace) -> None:
    ws.config(ws.settings())
    result = planalign("simulate", "--census", "nowhere.parquet", cwd=ws.root)
    assert_usage_error(result, "nowhere.parquet", "not found", "python -m planalign census")


def test_a_directory_as_census_is_named(ws: Workspace) -> None:
    (ws.root / "census_dir.parquet").mkdir()
    ws.config(ws.settings())
    result = planalign("simulate", "--census", "census_dir.parquet", cwd=ws.root)
    assert_usage_error(result, "census_dir.parquet", "is a directory")


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_unreadable_census_is_named_with_a_fix(ws: Workspace, suffix: str) -> None:
    corrupt = ws.root / f"corrupt{suffix}"
    corrupt.write_bytes(b"\x00\x01PK not a census \xff\xfe" * 3)
    ws.config(ws.settings())
    result = planalign("simulate", "--census", corrupt.name, cwd=ws.root)
    assert_usage_error(result, corrupt.name, "cannot be read", "CSV or Parquet")


def _census_with(good: Path, out: Path, damage: Callable[[list[dict[str, Any]]], None]) -> Path:
    table = pq.read_table(good)
    rows = table.to_pylist()
    damage(rows)
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), out)
    return out


def _duplicate_ids(rows: list[dict[str, Any]]) -> None:
    for i in range(1, 6):
        rows[i]["employee_id"] = rows[0]["employee_id"]


def _null_pay(rows: list[dict[str, Any]]) -> None:
    for row in rows[:5]:
        row["annual_compensation"] = None


def _negative_pay(rows: list[dict[str, Any]]) -> None:
    for row in rows[:5]:
        row["annual_compensation"] = -25_000.0


def _future_hires(rows: list[dict[str, Any]]) -> None:
    for row in rows[:5]:
        row["hire_date"] = EFFECTIVE_DATE + dt.timedelta(days=60)
        row["termination_date"] = None


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_duplicate_ids, "duplicate_employee_id"),
        (_null_pay, "missing_compensation"),
        (_negative_pay, "non_positive_compensation"),
        (_future_hires, "hire_after_effective_date"),
    ],
    ids=["duplicate_ids", "nulls", "negative_pay", "hire_after_effective_date"],
)
def test_census_with_bad_rows_above_the_share_names_the_reason(
    ws: Workspace, good_census: Path, damage: Callable[[list[dict[str, Any]]], None], reason: str
) -> None:
    bad = _census_with(good_census, ws.root / "bad_rows.parquet", damage)
    ws.config(ws.settings())
    result = planalign("simulate", "--census", bad.name, cwd=ws.root)
    assert_usage_error(result, "bad_rows.parquet", "bad rows", reason, "census_max_reject_share")


# ---------------------------------------------------------------------- project, selection, database


@pytest.mark.slow
def test_dbt_project_with_a_cycle_is_named_before_anything_is_written(
    ws: Workspace, cyclic_project: Path
) -> None:
    ws.config(ws.settings(dbt={"project_dir": str(cyclic_project)}))
    result = planalign("simulate", cwd=ws.root)
    assert_usage_error(result, "cycle", "int_effective_parameters", "int_workforce_needs")


@pytest.mark.slow
def test_run_selecting_a_model_that_does_not_exist(ws: Workspace) -> None:
    project = copy_project(ws.root / "project")
    result = planalign(
        "run",
        "--project-dir",
        str(project),
        "--select",
        "no_such_model",
        "--vars",
        f"{{database_path: '{ws.database}'}}",
        cwd=ws.root,
    )
    assert_usage_error(result, "no_such_model", "matches no model")


def test_database_held_by_another_process(ws: Workspace) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            f"con = duckdb.connect({str(ws.database)!r})\n"
            "print('holding', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=clean_env(),
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        ws.config(ws.settings())
        result = planalign("simulate", cwd=ws.root)
        assert_usage_error(result, "in use by another process", str(ws.database), "--database")
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
