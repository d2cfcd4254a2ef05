"""The isolation layer's proof: hundreds of concurrent single-model dbt invocations in one process, over two
DuckDB databases at once, each stream with its own vars, with zero errors and every table identical to a
plain `dbt run --threads 1` of the same project in a separate process; then the same with the engine's
batches (several models per invocation), two engines at once on one event loop."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from planalign.dbt import isolation as dbt_isolation
from planalign.dbt.invoker import DbtInvoker
from planalign.dbt.isolation._base import current_installation
from planalign.dbt.manifest import parse_project
from planalign.engine.classification import ModelClassifier, ModelExecutionType
from planalign.engine.graph import ModelDependencyAnalyzer
from planalign.engine.nodes import ProjectManifest
from planalign.engine.results import EngineRunResult
from planalign.engine.runner import EngineSettings, ParallelExecutionEngine
from tests.fixtures.genproject import GeneratedProject, generate_project

from .helpers import BackgroundDbt, WalkReport, checksums, dbt_cli_background, walk_dag

pytestmark = pytest.mark.slow

N_MODELS = 90
WORKERS_PER_STREAM = 4
# Each database gets its own sequence of salts; the last one is what the reference build uses. Two walks
# per stream (the second rebuilding every table over the first's): 2 × 2 × 90 = 360 invocations.
STREAM_SALTS = {"a": (1, 7), "b": (3, 11)}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> GeneratedProject:
    return generate_project(tmp_path_factory.mktemp("stress") / "proj", n_models=N_MODELS, seed=20261128)


class References:
    """Plain dbt, one thread, separate process: the expected tables for each stream's final salt. Both
    builds start with the module and run while the first test's in-process streams do (`databases` waits
    for them): the references are independent of everything in this process."""

    def __init__(self, project: GeneratedProject) -> None:
        self._builds: dict[str, tuple[Path, BackgroundDbt]] = {}
        for stream, salts in STREAM_SALTS.items():
            workdir = project.project_dir / f"ref_{stream}"
            db = workdir / "sim.duckdb"
            vars = {"database_path": str(db), "salt": salts[-1]}
            build = dbt_cli_background(  # seed, then every model
                project.project_dir, "build", "--threads", "1", vars=vars, workdir=workdir
            )
            self._builds[stream] = (db, build)

    def databases(self) -> dict[str, Path]:
        for _, build in self._builds.values():
            build.wait_ok()
        return {stream: db for stream, (db, _) in self._builds.items()}

    def kill(self) -> None:
        for _, build in self._builds.values():
            build.kill()


@pytest.fixture(scope="module")
def references(project: GeneratedProject) -> Iterator[References]:
    refs = References(project)
    try:
        yield refs
    finally:
        refs.kill()


@pytest.fixture(scope="module")
def manifest(project: GeneratedProject) -> ProjectManifest:
    # Parsed once for database "sim"; both stream databases are files named sim.duckdb in their own folders.
    return parse_project(
        project.project_dir, vars={"database_path": str(project.project_dir / "parse" / "sim.duckdb")}
    )


def assert_streams_match_plain_dbt(
    project: GeneratedProject, databases: dict[str, Path], references: References
) -> None:
    tables = project.model_names
    reference_databases = references.databases()
    for name in STREAM_SALTS:
        got = checksums(databases[name], tables)
        expected = checksums(reference_databases[name], tables)
        mismatched = sorted(t for t in tables if got[t] != expected[t])
        assert mismatched == [], f"stream {name}: tables differ from plain dbt: {mismatched}"


def test_concurrent_invocations_over_two_databases_match_plain_dbt(
    project: GeneratedProject, references: References, manifest: ProjectManifest
) -> None:
    assert dbt_isolation.isolation_status().available
    databases = {s: project.project_dir / f"db_{s}" / "sim.duckdb" for s in STREAM_SALTS}
    reports: dict[str, list[WalkReport]] = {s: [] for s in STREAM_SALTS}
    failures: list[BaseException] = []

    def stream(name: str) -> None:
        try:
            databases[name].parent.mkdir()
            invoker = DbtInvoker(project.project_dir, None, None, manifest, {}, databases[name])
            seeded = invoker.invoke(["seed"])
            assert seeded.ok, seeded.message
            for salt in STREAM_SALTS[name]:
                reports[name].append(walk_dag(invoker, manifest, {"salt": salt}, workers=WORKERS_PER_STREAM))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=stream, args=(name,)) for name in STREAM_SALTS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures

    all_reports = [r for rs in reports.values() for r in rs]
    assert [r.errors for r in all_reports] == [{} for _ in all_reports]
    walks = sum(len(salts) for salts in STREAM_SALTS.values())
    assert sum(len(r.outcomes) for r in all_reports) == walks * N_MODELS  # hundreds; every model each walk
    assert max(r.max_in_flight for r in all_reports) >= 3

    assert_streams_match_plain_dbt(project, databases, references)


def test_concurrent_batches_of_two_engines_match_plain_dbt(
    project: GeneratedProject, references: References, manifest: ProjectManifest
) -> None:
    """Batches of up to 4 models (many invocations, several at once per engine, each running its models one
    after another), two engines on two databases side by side in one event loop."""
    databases = {s: project.project_dir / f"batch_{s}" / "sim.duckdb" for s in STREAM_SALTS}
    analyzer = ModelDependencyAnalyzer(manifest, ModelClassifier(ModelExecutionType.PARALLEL_SAFE))
    settings = EngineSettings(
        max_workers=WORKERS_PER_STREAM, models_per_invocation=4, resource_monitoring=False
    )
    results: dict[str, EngineRunResult] = {}

    async def stream(name: str) -> None:
        databases[name].parent.mkdir()
        invoker = DbtInvoker(project.project_dir, None, None, manifest, {}, databases[name])
        seeded = await anyio.to_thread.run_sync(invoker.invoke, ["seed"])
        assert seeded.ok, seeded.message
        engine = ParallelExecutionEngine(analyzer, invoker, settings)
        results[name] = await engine.execute(
            [n.unique_id for n in manifest.models()], vars={"salt": STREAM_SALTS[name][-1]}
        )

    async def both() -> None:
        async with anyio.create_task_group() as tg:
            for name in STREAM_SALTS:
                tg.start_soon(stream, name)

    anyio.run(both)
    assert sorted(results) == sorted(STREAM_SALTS)
    for result in results.values():
        assert result.success, [(r.name, r.error) for r in result.failed]
        assert len(result.results) == N_MODELS
        assert N_MODELS / 4 <= result.invocations < N_MODELS  # batched, never above the cap
        assert result.parallelism_max >= 2
    assert_streams_match_plain_dbt(project, databases, references)


@pytest.fixture(scope="module", autouse=True)
def contexts_before_this_module() -> list[weakref.ref[Any]]:
    """The invocation contexts alive before this module's invocations (other test files of this worker
    process may leave one alive in an idle thread), so the leak check counts only this module's own."""
    inst = current_installation()
    if inst is None:
        return []
    with inst.registry_lock:
        return [weakref.ref(context) for context in inst.registry]


def test_finished_invocations_release_their_adapters(
    manifest: ProjectManifest, contexts_before_this_module: list[weakref.ref[Any]]
) -> None:
    """The per-invocation registry must not keep adapters of finished invocations alive: of the contexts
    this module's invocations created, at most the calling thread's last one still holds adapters."""
    import gc

    gc.collect()
    inst = current_installation()
    assert inst is not None
    before = [ref() for ref in contexts_before_this_module]
    with inst.registry_lock:
        ours = [
            adapters for context, adapters in inst.registry.items() if not any(context is b for b in before)
        ]
    assert sum(len(adapters) for adapters in ours) <= 1
