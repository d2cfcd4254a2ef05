"""Cancelling one engine must not touch another engine's invocations in the same process (a service running
two simulations of one dbt project on two databases, one of them cancelled by its request).

Constructed so that the other engine certainly has work in flight when the cancellation comes: engine B runs
a generated DAG in batches plus `slow_b`, a model whose query takes seconds; engine A runs `spin`, a query
that only ends when interrupted. A is cancelled once B's `slow_b` has been running for a second, and the test
checks afterwards (the engine's event, dbt's own node timing) that `slow_b`'s invocation was in flight at that
instant. B must then
succeed with every model at its first attempt — an interrupt or a batch stop reaching B would show as a
failed, skipped or retried model — and hold exactly the tables of a plain `dbt build` in another process;
A must have been stopped promptly.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import anyio
import pytest

from planalign.dbt.invoker import DbtInvoker
from planalign.dbt.manifest import parse_project
from planalign.engine.classification import ModelClassifier, ModelExecutionType
from planalign.engine.graph import ModelDependencyAnalyzer
from planalign.engine.nodes import ProjectManifest
from planalign.engine.results import EngineRunResult, ModelStatus
from planalign.engine.runner import (
    EngineEvent,
    EngineEventKind,
    EngineSettings,
    ParallelExecutionEngine,
)
from tests.engine_real.helpers import checksums, dbt_cli
from tests.fixtures.genproject import GeneratedProject, generate_project

pytestmark = pytest.mark.slow

SALT = 5
# ~10^10 rows: runs until interrupted.
SPIN_SQL = "select sum(a.range * b.range) as s from range(100000) a, range(100000) b"
# ~6 * 10^8 rows: a few seconds, then done.
SLOW_SQL = "select sum(a.range * b.range) as s from range(25000) a, range(25000) b"
A_MODELS = ("spin", "a_one", "a_two", "a_three")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> GeneratedProject:
    project = generate_project(tmp_path_factory.mktemp("cancel") / "proj", n_models=24, seed=1111)
    models = project.project_dir / "models"
    table = "{{ config(materialized='table') }}\n"
    (models / "spin.sql").write_text(table + SPIN_SQL + "\n")
    (models / "slow_b.sql").write_text(table + SLOW_SQL + "\n")
    for name in A_MODELS[1:]:
        (models / f"{name}.sql").write_text(f"select '{name}' as name\n")
    return project


@pytest.fixture(scope="module")
def manifest(project: GeneratedProject) -> ProjectManifest:
    return parse_project(
        project.project_dir, vars={"database_path": str(project.project_dir / "parse" / "sim.duckdb")}
    )


@pytest.fixture(scope="module")
def reference(project: GeneratedProject) -> Path:
    """Plain dbt in its own process: the generated models (not `spin`, nor `slow_b`, whose one row is
    checked on its own)."""
    db = project.project_dir / "ref" / "sim.duckdb"
    db.parent.mkdir()
    vars = {"database_path": str(db), "salt": SALT}
    dbt_cli(project.project_dir, "build", "--threads", "1", "--exclude", "spin", "slow_b", vars=vars)
    return db


def _epoch(iso: str | None) -> float:
    assert iso is not None
    return datetime.fromisoformat(iso).timestamp()


async def test_cancelling_one_engine_leaves_the_other_engines_run_untouched(
    project: GeneratedProject, manifest: ProjectManifest, reference: Path
) -> None:
    analyzer = ModelDependencyAnalyzer(manifest, ModelClassifier(ModelExecutionType.PARALLEL_SAFE))
    settings = EngineSettings(max_workers=2, models_per_invocation=4, resource_monitoring=False)
    invokers = {}
    for name in ("a", "b"):
        db = project.project_dir / f"db_{name}" / "sim.duckdb"
        db.parent.mkdir()
        invokers[name] = DbtInvoker(project.project_dir, None, None, manifest, {}, db)
        seeded = await anyio.to_thread.run_sync(invokers[name].invoke, ["seed"])
        assert seeded.ok, seeded.message

    slow_b_running = anyio.Event()
    spin_started = anyio.Event()

    slow_b_invoked_at: list[float] = []

    def on_b_event(event: EngineEvent) -> None:
        if event.kind is EngineEventKind.MODEL_STARTED and event.name == "slow_b":
            slow_b_invoked_at.append(time.time())
            slow_b_running.set()

    def on_a_event(event: EngineEvent) -> None:
        if event.kind is EngineEventKind.MODEL_STARTED and event.name == "spin":
            spin_started.set()

    engine_a = ParallelExecutionEngine(analyzer, invokers["a"], settings)
    # slow_b first, so it is in flight while B's batches run beside it.
    engine_b = ParallelExecutionEngine(analyzer, invokers["b"], settings, durations={"slow_b": 100.0})
    b_models = [*project.model_names, "slow_b"]
    results: dict[str, EngineRunResult] = {}
    a_scope = anyio.CancelScope()
    cancelled_at: list[float] = []
    a_returned_at: list[float] = []

    async def run_a() -> None:
        with a_scope:
            await engine_a.execute(list(A_MODELS), vars={"salt": SALT}, listeners=[on_a_event])
        a_returned_at.append(time.time())

    async def run_b() -> None:
        results["b"] = await engine_b.execute(b_models, vars={"salt": SALT}, listeners=[on_b_event])

    async def cancel_a() -> None:
        await spin_started.wait()
        await slow_b_running.wait()
        await anyio.sleep(1.0)  # slow_b's query is running by then (checked below from dbt's timing)
        cancelled_at.append(time.time())
        a_scope.cancel()

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run_a)
            tg.start_soon(run_b)
            tg.start_soon(cancel_a)

    # A was cancelled, and promptly: its endless query was interrupted.
    a_result = engine_a.last_result
    assert a_result is not None and a_result.cancelled
    assert a_result.result_for("spin").status is ModelStatus.CANCELLED
    assert a_returned_at[0] - cancelled_at[0] < 10

    # The scenario really happened: slow_b's invocation was in flight when A was cancelled — handed to dbt
    # before (the engine's event), finished after (dbt's timing). Not "its query had started": on a loaded
    # machine dbt may take longer than the second waited to reach the node (seen at load 25: 1.6 s).
    b_result = results["b"]
    slow_b = b_result.result_for("slow_b")
    assert slow_b_invoked_at[0] < cancelled_at[0] < _epoch(slow_b.completed_at)

    # B never noticed: every model succeeded at its first attempt, and its tables are plain dbt's.
    assert not b_result.cancelled
    problems = {r.name: (r.status.value, r.attempts, r.error) for r in b_result.results if r.attempts != 1}
    assert problems == {}
    assert b_result.success
    assert b_result.invocations < len(b_models)  # batches were in play
    tables = project.model_names
    got = checksums(invokers["b"].database_path or Path(), [*tables, "slow_b"])
    expected = checksums(reference, tables)
    assert sorted(t for t in tables if got[t] != expected[t]) == []
    assert got["slow_b"].rows == 1
