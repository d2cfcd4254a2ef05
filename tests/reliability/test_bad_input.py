"""Bad input through the real CLI: exit status 2, a short message naming what is wrong and how to fix it, no
traceback (unless --debug), and an existing database left byte for byte as it was.

The command line runs in-process (`planalign_here`: `planalign.cli.main`, the same path minus ~2.3 s of CPU
starting an interpreter and importing dbt per case); an exception `main` does not handle fails the test as a
traceback would. Two cases run as a separate process, as a user runs them: malformed YAML (the exit status
and stderr of a real process) and --debug (the traceback the interpreter prints)."""

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

from planalign.simulation.state import SimulationState
from tests.reliability.helpers import (
    base_settings,
    clean_env,
    copy_project,
    file_digest,
    planalign,
    planalign_here,
    write_config,
)

EFFECTIVE_DATE = dt.date(2024, 12, 31)


@pytest.fixture(scope="module")
def good_census(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from planalign.simulation.census import generate_census, write_census

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
    result = planalign("simulate", cwd=ws.root)  # one case as a user runs it: a separate process
    assert_usage_error(result, "simulation_config.yaml", "line", "invalid YAML")


def test_unknown_key_suggests_the_known_one(ws: Workspace) -> None:
    settings = ws.settings(workforce={"total_termination_rat": 0.1})
    ws.config(settings)
    result = planalign_here("simulate", cwd=ws.root)
    assert_usage_error(
        result, "workforce.total_termination_rat: unknown key", "did you mean 'total_termination_rate'"
    )


def test_wrong_type_names_key_and_value(ws: Workspace) -> None:
    settings = ws.settings()
    settings["simulation"]["random_seed"] = "forty-two"
    ws.config(settings)
    result = planalign_here("simulate", cwd=ws.root)
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
    result = planalign_here("simulate", cwd=ws.root)
    assert_usage_error(result, *fragments)


def test_debug_shows_the_traceback(ws: Workspace) -> None:
    ws.config(_set(ws.settings(), (*MP, "max_workers"), 0))
    result = planalign("--debug", "simulate", cwd=ws.root)  # the interpreter prints the traceback
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "max_workers" in result.stderr


# ---------------------------------------------------------------------- census


def test_missing_census_says_how_to_generate_one(ws: Workspace) -> None:
    ws.config(ws.settings())
    result = planalign_here("simulate", "--census", "nowhere.parquet", cwd=ws.root)
    assert_usage_error(result, "nowhere.parquet", "not found", "python -m planalign census")


def test_a_directory_as_census_is_named(ws: Workspace) -> None:
    (ws.root / "census_dir.parquet").mkdir()
    ws.config(ws.settings())
    result = planalign_here("simulate", "--census", "census_dir.parquet", cwd=ws.root)
    assert_usage_error(result, "census_dir.parquet", "is a directory")


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_unreadable_census_is_named_with_a_fix(ws: Workspace, suffix: str) -> None:
    corrupt = ws.root / f"corrupt{suffix}"
    corrupt.write_bytes(b"\x00\x01PK not a census \xff\xfe" * 3)
    ws.config(ws.settings())
    result = planalign_here("simulate", "--census", corrupt.name, cwd=ws.root)
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
    result = planalign_here("simulate", "--census", bad.name, cwd=ws.root)
    assert_usage_error(result, "bad_rows.parquet", "bad rows", reason, "census_max_reject_share")


# ---------------------------------------------------------------------- project, selection, database


@pytest.mark.slow
def test_dbt_project_with_a_cycle_is_named_before_anything_is_written(
    ws: Workspace, cyclic_project: Path
) -> None:
    ws.config(ws.settings(dbt={"project_dir": str(cyclic_project)}))
    result = planalign_here("simulate", cwd=ws.root)
    assert_usage_error(result, "cycle", "int_effective_parameters", "int_workforce_needs")


@pytest.mark.slow
def test_run_selecting_a_model_that_does_not_exist(ws: Workspace) -> None:
    """Not bad input since issue #26 item 3: as `dbt run`, a selection of nothing warns about the selector,
    says "Nothing to do" and exits 0 — with no model run and the database untouched."""
    project = copy_project(ws.root / "project")
    before = ws.database.read_bytes() if ws.database.exists() else None
    result = planalign_here(
        "run",
        "--project-dir",
        str(project),
        "--select",
        "no_such_model",
        "--vars",
        f"{{database_path: '{ws.database}'}}",
        cwd=ws.root,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "The selection criterion 'no_such_model' does not match any enabled nodes" in result.stderr
    assert "Nothing to do. Try checking your model configs and model specification args" in result.stdout
    assert "Traceback" not in result.stderr
    assert (ws.database.read_bytes() if ws.database.exists() else None) == before


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
        result = planalign_here("simulate", cwd=ws.root)
        assert_usage_error(result, "in use by another process", str(ws.database), "--database")
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)


# ---------------------------------------------------------------------- issue #11: data safety, every input
#
# Each case below was a reported defect: the input was accepted and the run then failed after dbt's parse
# (or ran until killed), or it tracebacked. Each must now fail up front with exit 2, name what is wrong and
# how to fix it, and leave the existing database and the runs directory untouched.


@pytest.mark.parametrize(
    ("path", "value", "fragments"),
    [
        (
            ("workforce", "new_hire_termination_rate"),
            1.0,
            ["workforce.new_hire_termination_rate", "and < 1", "divides"],
        ),
        (
            ("workforce", "total_termination_rate"),
            -0.1,
            ["workforce.total_termination_rate", "between 0 and 1"],
        ),
        (("simulation", "target_growth_rate"), -1.0, ["simulation.target_growth_rate", "greater than -1"]),
        (("simulation", "target_growth_rate"), 1.5, ["simulation.target_growth_rate", "at most 1"]),
        (("simulation", "end_year"), 2085, ["simulation.end_year", "60 years", "2084"]),
        (
            ("enrollment", "auto_enrollment", "window_days"),
            100_000,
            ["enrollment.auto_enrollment.window_days", "must be <= 366"],
        ),
        (("escalation", "delay_years"), 1_000, ["escalation.delay_years", "must be <= 60"]),
        (("compensation", "cola_rate"), float("nan"), ["compensation.cola_rate", "between 0 and 1"]),
        (
            ("simulation", "target_growth_rate"),
            "0.03' as double) union select 1 --",
            ["simulation.target_growth_rate", "valid number"],
        ),
        (
            ("simulation", "effective_date"),
            "2024-12-31' or true --",
            ["simulation.effective_date", "valid date"],
        ),
        (("run", "runs_dir"), "", ["run.runs_dir", "empty"]),
        (("simulation", "database_path"), "  ", ["simulation.database_path", "empty"]),
    ],
    ids=[
        "new_hire_termination_rate_1",
        "negative_termination_rate",
        "growth_rate_minus_1",
        "growth_rate_above_1",
        "end_year_beyond_horizon",
        "window_days_huge",
        "escalation_delay_huge",
        "cola_rate_nan",
        "sql_injection_in_a_rate",
        "sql_injection_in_effective_date",
        "empty_runs_dir",
        "blank_database_path",
    ],
)
def test_out_of_range_parameters_are_refused_with_their_range(
    ws: Workspace, path: tuple[str, ...], value: Any, fragments: list[str]
) -> None:
    ws.config(_set(ws.settings(), path, value))
    result = planalign_here("simulate", cwd=ws.root)
    assert_usage_error(result, *fragments)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            "simulation:\n  effective_date: 2024-13-45\n",
            ["simulation_config.yaml", "line 2", "2024-13-45", "YYYY-MM-DD"],
        ),
        ("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\xff\xfe", ["simulation_config.yaml", "not a YAML text"]),
    ],
    ids=["impossible_effective_date", "binary_config_file"],
)
def test_unreadable_config_text_is_named(ws: Workspace, text: str, fragments: list[str]) -> None:
    path = ws.root / "simulation_config.yaml"
    path.write_bytes(text.encode("latin-1"))
    result = planalign_here("simulate", cwd=ws.root)
    assert_usage_error(result, *fragments)


@pytest.mark.parametrize(
    ("env", "fragments"),
    [
        (
            {"PLANALIGN_SIMULATION_DATABASE_PATH": "other.duckdb"},
            ["PLANALIGN_SIMULATION_DATABASE_PATH", "PLANALIGN_SIMULATION__DATABASE_PATH"],
        ),
        (
            {"PLANALIGN_SIMULATON__END_YEAR": "2026"},
            ["PLANALIGN_SIMULATON__END_YEAR", "unknown", "PLANALIGN_SIMULATION__END_YEAR"],
        ),
        ({"PLANALIGN_RUN__RUNS_DIR": ""}, ["PLANALIGN_RUN__RUNS_DIR", "run.runs_dir", "empty"]),
        (
            {"PLANALIGN_DATABASE_PATH": "a.duckdb", "PLANALIGN_SIMULATION__DATABASE_PATH": "b.duckdb"},
            ["PLANALIGN_DATABASE_PATH", "PLANALIGN_SIMULATION__DATABASE_PATH", "give one"],
        ),
        (
            {"PLANALIGN_DATABASE_PATH": "no_such_dir/sim.duckdb"},
            ["simulation.database_path", "no_such_dir", "does not exist", "mkdir"],
        ),
    ],
    ids=[
        "env_single_underscore",
        "env_unknown_name",
        "env_empty_runs_dir",
        "env_database_path_twice",
        "env_database_path_is_honoured",
    ],
)
def test_environment_variables_are_never_silently_ignored(
    ws: Workspace, env: dict[str, str], fragments: list[str]
) -> None:
    ws.config(ws.settings())
    result = planalign_here("simulate", cwd=ws.root, env=env)
    assert_usage_error(result, *fragments)


# ---------------------------------------------------------------------- output paths, before anything runs


def _database_parent_missing(ws: Workspace) -> tuple[list[str], list[str]]:
    return ["--database", str(ws.root / "missing" / "sim.duckdb")], [
        "simulation.database_path",
        "does not exist",
        "mkdir",
    ]


def _database_parent_is_a_file(ws: Workspace) -> tuple[list[str], list[str]]:
    return ["--database", str(ws.census / "sim.duckdb")], ["simulation.database_path", "not a directory"]


def _database_is_a_directory(ws: Workspace) -> tuple[list[str], list[str]]:
    (ws.root / "db_dir.duckdb").mkdir()
    return ["--database", str(ws.root / "db_dir.duckdb")], ["simulation.database_path", "is a directory"]


def _runs_dir_under_a_file(ws: Workspace) -> tuple[list[str], list[str]]:
    return ["--runs-dir", str(ws.census / "runs")], ["run.runs_dir", "not a directory", "--runs-dir"]


def _report_under_a_file(ws: Workspace) -> tuple[list[str], list[str]]:
    return ["--report", str(ws.census / "report.html")], ["--report", "not a directory"]


def _report_is_a_directory(ws: Workspace) -> tuple[list[str], list[str]]:
    (ws.root / "reports").mkdir()
    return ["--report", str(ws.root / "reports")], ["--report", "is a directory", "report.html"]


@pytest.mark.parametrize(
    "case",
    [
        _database_parent_missing,
        _database_parent_is_a_file,
        _database_is_a_directory,
        _runs_dir_under_a_file,
        _report_under_a_file,
        _report_is_a_directory,
    ],
    ids=[
        "database_parent_missing",
        "database_parent_is_a_file",
        "database_is_a_directory",
        "runs_dir_under_a_file",
        "report_under_a_file",
        "report_is_a_directory",
    ],
)
def test_unwritable_outputs_are_named_before_the_run(
    ws: Workspace, case: Callable[[Workspace], tuple[list[str], list[str]]]
) -> None:
    ws.config(ws.settings())
    args, fragments = case(ws)
    result = planalign_here("simulate", *args, cwd=ws.root)
    assert_usage_error(result, *fragments)
    assert not (ws.root / "missing").exists()


# ---------------------------------------------------------------------- census rows the run could not use


def _pay(value: float) -> Callable[[list[dict[str, Any]]], None]:
    def damage(rows: list[dict[str, Any]]) -> None:
        for row in rows[:5]:
            row["annual_compensation"] = value

    return damage


def _birth_year(year: int) -> Callable[[list[dict[str, Any]]], None]:
    def damage(rows: list[dict[str, Any]]) -> None:
        for row in rows[:5]:
            row["birth_date"] = dt.date(year, 6, 1)
            row["hire_date"] = max(row["hire_date"], dt.date(year, 6, 2))

    return damage


def _generated_hire_ids(rows: list[dict[str, Any]]) -> None:
    for i, row in enumerate(rows[:5], start=1):
        row["employee_id"] = f"NH2025_{i:06d}"


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_pay(1e20), "implausible_compensation"),
        (_pay(float("nan")), "implausible_compensation"),
        (_pay(float("inf")), "implausible_compensation"),
        (_birth_year(24), "implausible_birth_date"),
        (_birth_year(2015), "implausible_birth_date"),
        (_generated_hire_ids, "reserved_employee_id"),
    ],
    ids=["pay_1e20", "pay_nan", "pay_inf", "birth_year_24", "younger_than_14", "hire_id_shaped_ids"],
)
def test_census_rows_the_run_cannot_use_are_rejected_by_check_and_run(
    ws: Workspace, good_census: Path, damage: Callable[[list[dict[str, Any]]], None], reason: str
) -> None:
    bad = _census_with(good_census, ws.root / "bad_rows.parquet", damage)
    ws.config(ws.settings())
    result = planalign_here("simulate", "--census", bad.name, cwd=ws.root)
    assert_usage_error(result, "bad_rows.parquet", reason, "census_max_reject_share")
    check = planalign_here("census", "--check", bad.name, cwd=ws.root)
    assert_usage_error(check, "bad_rows.parquet", reason, "row", "Fix those rows")


def _csv_census(good: Path, out: Path, column: str, value: str) -> Path:
    """The good census as CSV, with `column` of the first five rows replaced by the text `value`."""
    rows = pq.read_table(good).to_pylist()
    lines = [",".join(rows[0])]
    for i, row in enumerate(rows):
        cells = {k: "" if v is None else str(v) for k, v in row.items()}
        if i < 5:
            cells[column] = value
        lines.append(",".join(cells.values()))
    out.write_text("\n".join(lines) + "\n")
    return out


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("job_level", "1.6", "invalid_job_level"),
        ("annual_compensation", "1e20", "implausible_compensation"),
        ("annual_compensation", "inf", "implausible_compensation"),
        ("deferral_rate", "nan", "invalid_deferral_rate"),
        ("birth_date", "0024-03-01", "implausible_birth_date"),
    ],
    ids=["csv_fractional_job_level", "csv_pay_1e20", "csv_pay_inf", "csv_deferral_nan", "csv_birth_year_24"],
)
def test_csv_census_text_the_run_cannot_use_is_rejected(
    ws: Workspace, good_census: Path, column: str, value: str, reason: str
) -> None:
    bad = _csv_census(good_census, ws.root / "bad_rows.csv", column, value)
    ws.config(ws.settings())
    result = planalign_here("simulate", "--census", bad.name, cwd=ws.root)
    assert_usage_error(result, "bad_rows.csv", reason)
    check = planalign_here("census", "--check", bad.name, cwd=ws.root)
    assert_usage_error(check, "bad_rows.csv", reason)


def test_census_check_reads_a_path_with_glob_characters_literally(ws: Workspace, good_census: Path) -> None:
    """`census[1].csv` is a glob to DuckDB that matches `census1.csv`; the check must read the file named."""
    literal = _csv_census(good_census, ws.root / "census[1].csv", "job_level", "9")
    shutil.copy(ws.census, ws.root / "unrelated.parquet")
    _csv_census(good_census, ws.root / "census1.csv", "job_level", "1")  # what a glob would read instead
    result = planalign_here("census", "--check", literal.name, cwd=ws.root)
    assert_usage_error(result, "census[1].csv", "invalid_job_level")


def test_census_out_into_an_unwritable_place(ws: Workspace) -> None:
    result = planalign_here("census", "--employees", "5", "--out", str(ws.census / "c.csv"), cwd=ws.root)
    assert_usage_error(result, "cannot write", "c.csv", "not a directory")


# ---------------------------------------------------------------------- report of a malformed run directory


def _write_run_dir(root: Path, summary: Any, engine: Any = None) -> Path:
    import json

    run_dir = root / "crafted_run"
    run_dir.mkdir()
    (run_dir / "summary.json").write_text(json.dumps(summary))
    if engine is not None:
        (run_dir / "engine_runs.json").write_text(json.dumps(engine))
    return run_dir


_RUN_SUMMARY = {
    "wall_time_s": 1.0,
    "summed_model_time_s": 1.0,
    "parallelism_mean": 1.0,
    "parallelism_max": 1,
    "theoretical_speedup": 1.0,
    "max_workers": 1,
    "label": "2025:foundation",
}
_MODEL = {
    "unique_id": "model.p.m",
    "name": "m",
    "status": "success",
    "execution_class": "parallel_safe",
    "worker": 0,
    "attempts": 1,
    "start_offset_s": 0.0,
    "end_offset_s": 0.5,
}


@pytest.mark.parametrize(
    ("summary", "engine", "fragments"),
    [
        ([1, 2], None, ["summary.json", "JSON object"]),
        ({"years": {"2025": {"actives": "many"}}}, None, ["summary.json", "actives"]),
        ({"years": [2025]}, None, ["summary.json", "years"]),
        ({"completed_years": "2025"}, None, ["summary.json", "completed_years"]),
        ({}, {"results": []}, ["engine_runs.json", "summary"]),
        ({}, {"summary": {"runs": [_RUN_SUMMARY]}, "results": [[1]]}, ["engine_runs.json", "results"]),
        (
            {},
            {"summary": {"runs": [_RUN_SUMMARY]}, "results": [{**_MODEL, "worker": "<script>x</script>"}]},
            ["engine_runs.json", "worker"],
        ),
        (
            {},
            {"summary": {"runs": [_RUN_SUMMARY]}, "results": [{**_MODEL, "end_offset_s": "late"}]},
            ["engine_runs.json", "end_offset_s"],
        ),
    ],
    ids=[
        "summary_is_a_list",
        "metric_not_a_number",
        "years_not_an_object",
        "completed_years_a_string",
        "engine_runs_without_summary",
        "engine_result_not_an_object",
        "worker_not_an_integer",
        "offset_not_a_number",
    ],
)
def test_report_of_a_malformed_run_directory_names_the_file(
    tmp_path: Path, summary: Any, engine: Any, fragments: list[str]
) -> None:
    run_dir = _write_run_dir(tmp_path, summary, engine)
    result = planalign_here("report", str(run_dir), "--out", str(tmp_path / "out.html"), cwd=tmp_path)
    assert_usage_error(result, *fragments, "planalign simulate")
    assert not (tmp_path / "out.html").exists()


def test_report_of_a_run_directory_from_a_newer_planalign_says_so(tmp_path: Path) -> None:
    run_dir = _write_run_dir(tmp_path, {"schema_version": 99}, None)
    result = planalign_here("report", str(run_dir), "--out", str(tmp_path / "out.html"), cwd=tmp_path)
    assert_usage_error(result, "summary.json", "schema_version 99", "upgrade planalign")
    assert not (tmp_path / "out.html").exists()


# ---------------------------------------------------------------------- SQL injection through vars

_INJECT = "' as double) as x, (select 42) as injected --"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model", "vars_yaml", "fragment"),
    [
        ("int_effective_parameters", f'target_growth_rate: "0.03{_INJECT}"', "var target_growth_rate"),
        ("int_effective_comp_levers", f'merit_rate_level_1: "0.02{_INJECT}"', "var merit_rate_level_1"),
        (
            "int_effective_match_tiers",
            f'match_tiers: [{{employee_max: "0.03{_INJECT}", match_rate: 1.0}}]',
            "var match_tiers[0].employee_max",
        ),
        ("int_workforce_previous_year", f'effective_date: "2024-12-31{_INJECT}"', "var effective_date"),
        ("int_hazard_termination", f'random_seed: "42{_INJECT}"', "var random_seed"),
    ],
    ids=[
        "run_vars_inject_rate",
        "run_vars_inject_merit",
        "run_vars_inject_tier",
        "run_vars_inject_date",
        "run_vars_inject_seed",
    ],
)
def test_sql_injection_through_run_vars_is_refused_at_parse(
    ws: Workspace, model: str, vars_yaml: str, fragment: str
) -> None:
    """Vars used to be pasted into SQL (`cast('{{ value }}' as double)`); now every rendered var must be a
    number, integer or date, checked while dbt parses, so nothing runs and nothing is written."""
    project = copy_project(ws.root / "project")
    result = planalign_here(
        "run",
        "--project-dir",
        str(project),
        "--select",
        model,
        "--vars",
        f"{{database_path: '{ws.database}', {vars_yaml}}}",
        cwd=ws.root,
    )
    assert_usage_error(result, fragment, "fix --vars")
    assert not ws.root.joinpath("project", "target", "planalign_run_results.json").exists()
