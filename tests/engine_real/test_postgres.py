"""`planalign run` on a PostgreSQL server (issue #21 item 2): stopping work reaches the warehouse.

One private cluster for the session (`tests.engine_real.postgres`), one database per test here. A model
`select ... from pg_sleep(120)` runs on the server; Ctrl-C, `--fail-fast` after another model failed, and
the per-model time limit must each end the run long before the sleep would (the bounds below are a quarter
of it, so a loaded machine does not fail them, and an uncancelled query always does) and leave no query of
the run active in pg_stat_activity. Before the fix, planalign stopped only DuckDB queries: Ctrl-C exited
when the query ended by itself.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine_real.postgres import PostgresServer, generate_pg_project

from .helpers import DBT_EXECUTABLE

pytestmark = pytest.mark.slow

SLEEP_S = 120
#: Well below SLEEP_S: a run that waited for the query to end by itself cannot pass.
STOPPED_WITHIN_S = 30

MODELS = {
    "slow": f"select 1 as x from pg_sleep({SLEEP_S})",
    "quick": "select 1 as id",
    # Fails with "division by zero" three seconds after it starts (while `slow` runs).
    "bad_later": "select 1 / ((select count(*) from pg_sleep(3)) - 1) as x",
    "after_slow": "select x from {{ ref('slow') }}",
}


def _project(root: Path, server: PostgresServer, database: str) -> Path:
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(
        'name: pgtiny\nversion: "1.0.0"\nconfig-version: 2\nprofile: pgtiny\nmodel-paths: ["models"]\n'
        "models:\n  pgtiny:\n    +materialized: table\n"
    )
    (root / "profiles.yml").write_text(server.profiles_yml(database, profile="pgtiny"))
    for name, sql in MODELS.items():
        (root / "models" / f"{name}.sql").write_text(sql + "\n")
    return root


@pytest.fixture
def pg_project(
    postgres_server: PostgresServer, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[Path, str]]:
    database = postgres_server.create_database(request.node.name.lower()[:60])
    yield _project(tmp_path / "project", postgres_server, database), database


def _planalign_run(project: Path, *args: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "planalign", "run", "--project-dir", str(project), *args]
    return subprocess.Popen(cmd, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for_sleep(server: PostgresServer, database: str, process: subprocess.Popen[str]) -> float:
    """When the `slow` model's query is active on the server (monotonic seconds)."""
    deadline = time.monotonic() + 180  # the parse of a small project on a busy machine
    while time.monotonic() < deadline:
        if server.active_queries(database, f"%pg_sleep({SLEEP_S})%"):
            return time.monotonic()
        if process.poll() is not None:
            out = process.stdout.read() if process.stdout else ""
            pytest.fail(f"planalign run ended before the slow query started ({process.returncode}):\n{out}")
        time.sleep(0.2)
    process.kill()
    pytest.fail("the slow model's query never became active")


def _finish(process: subprocess.Popen[str]) -> tuple[int, str, float]:
    """(exit status, output, monotonic time of the exit)."""
    try:
        out, _ = process.communicate(timeout=SLEEP_S + 60)
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, out, time.monotonic()


def test_ctrl_c_cancels_the_running_query_and_exits_130(
    postgres_server: PostgresServer, pg_project: tuple[Path, str]
) -> None:
    project, database = pg_project
    process = _planalign_run(project, "-s", "slow", "quick")
    _wait_for_sleep(postgres_server, database, process)
    interrupted_at = time.monotonic()
    process.send_signal(signal.SIGINT)
    code, out, ended = _finish(process)
    assert code == 130, out
    assert ended - interrupted_at < STOPPED_WITHIN_S, (
        f"exited {ended - interrupted_at:.1f} s after SIGINT\n{out}"
    )
    assert postgres_server.active_queries(database, "%pg_sleep%") == [], out


def test_fail_fast_cancels_the_other_running_query(
    postgres_server: PostgresServer, pg_project: tuple[Path, str]
) -> None:
    project, database = pg_project
    process = _planalign_run(project, "-s", "slow", "bad_later", "--fail-fast", "--workers", "2")
    started = _wait_for_sleep(postgres_server, database, process)
    code, out, ended = _finish(process)
    assert code == 1, out
    assert "division by zero" in out and "--fail-fast" in out, out
    assert ended - started < STOPPED_WITHIN_S, f"ended {ended - started:.1f} s after the query started\n{out}"
    assert postgres_server.active_queries(database, "%pg_sleep%") == [], out


async def test_the_model_time_limit_cancels_the_query_on_the_server(
    postgres_server: PostgresServer, pg_project: tuple[Path, str]
) -> None:
    from planalign.dbt.invoker import DbtInvoker
    from planalign.dbt.manifest import parse_project
    from planalign.engine.classification import ModelClassifier, ModelExecutionType
    from planalign.engine.graph import ModelDependencyAnalyzer
    from planalign.engine.invocation import MODEL_TIMEOUT_SETTING
    from planalign.engine.results import ModelStatus
    from planalign.engine.runner import EngineSettings, ParallelExecutionEngine

    project, database = pg_project
    manifest = parse_project(project, profiles_dir=project, target=None, vars={})
    invoker = DbtInvoker(project, project, None, manifest, {}, None)
    analyzer = ModelDependencyAnalyzer(manifest, ModelClassifier(ModelExecutionType.PARALLEL_SAFE))
    settings = EngineSettings(
        max_workers=2, model_timeout_seconds=2.0, resource_monitoring=False, retry_backoff_s=0.0
    )
    started = time.monotonic()
    result = await ParallelExecutionEngine(analyzer, invoker, settings).execute(
        ["slow", "quick", "after_slow"], vars={}
    )
    elapsed = time.monotonic() - started
    slow = result.result_for("slow")
    assert slow.status is ModelStatus.ERROR and slow.attempts == 1, slow
    assert (
        slow.error is not None and "timed out after 2 s" in slow.error and MODEL_TIMEOUT_SETTING in slow.error
    )
    assert result.result_for("quick").status is ModelStatus.SUCCESS
    assert result.result_for("after_slow").status is ModelStatus.SKIPPED
    assert elapsed < STOPPED_WITHIN_S, f"the run took {elapsed:.1f} s"
    assert postgres_server.active_queries(database, "%pg_sleep%") == []


def test_run_builds_the_same_tables_as_dbt_run_on_postgres(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    """A generated 24-model DAG (tables, views, incremental models): planalign run with 4 workers and
    `dbt run --threads 4` build identical relations, each in its own database."""
    ours, theirs = (
        postgres_server.create_database("gen_planalign"),
        postgres_server.create_database("gen_dbt"),
    )
    project = generate_pg_project(tmp_path / "ours", postgres_server, ours, n_models=24, seed=5)
    reference = generate_pg_project(tmp_path / "theirs", postgres_server, theirs, n_models=24, seed=5)
    for path in (project.project_dir, reference.project_dir):
        seed = subprocess.run(
            [DBT_EXECUTABLE, "seed", "--project-dir", str(path), "--profiles-dir", str(path)],
            capture_output=True,
            text=True,
        )
        assert seed.returncode == 0, seed.stdout[-3000:]
    dbt = subprocess.Popen(
        [DBT_EXECUTABLE, "run", "--threads", "4", "--project-dir", str(reference.project_dir)],
        cwd=reference.project_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    code, out, _ = _finish(_planalign_run(project.project_dir, "--workers", "4"))
    dbt_out, _ = dbt.communicate(timeout=600)
    assert code == 0, out
    assert dbt.returncode == 0, dbt_out[-3000:]
    names = project.model_names
    assert postgres_server.table_digests(ours, names) == postgres_server.table_digests(theirs, names)
