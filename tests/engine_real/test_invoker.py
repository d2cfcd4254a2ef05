"""DbtInvoker against real dbt: outcome mapping (deterministic vs transient errors), whole-command
invocations, interrupting running queries (only those of the stopped scope), the per-model time limit, the
DuckDB memory limit hook, and the version check with its serialized fallback."""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from planalign.dbt import isolation as dbt_isolation
from planalign.dbt.invoker import DbtInvoker
from planalign.dbt.isolation import gate
from planalign.dbt.manifest import parse_project
from planalign.engine.classification import ModelClassifier, ModelExecutionType
from planalign.engine.graph import ModelDependencyAnalyzer
from planalign.engine.invocation import (
    MODEL_TIMEOUT_SETTING,
    BatchModelInvoker,
    InvocationOutcome,
    InvocationScope,
    ModelInvoker,
    OutcomeStatus,
    use_scope,
)
from planalign.engine.nodes import ProjectManifest
from planalign.engine.results import ModelStatus
from planalign.engine.runner import (
    EngineEvent,
    EngineEventKind,
    EngineSettings,
    ParallelExecutionEngine,
)
from planalign.errors import ManifestDatabaseMismatchError
from tests.fixtures.genproject import generate_project

from .helpers import checksums, dbt_cli, walk_dag

pytestmark = pytest.mark.slow

PROFILES = """\
tiny:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "{{ var('database_path', 'tiny.duckdb') }}"
      threads: 1
"""

MODELS = {
    "good": "select 1 as id",
    "compile_error": "select {{ var('no_such_var') }} as x",
    "runtime_error": "select cast('not a number' as integer) as x",
    "binder_error": "select no_such_column from (select 1 as a)",
    "after_good": "select id + 1 as id from {{ ref('good') }}",
    "in_schema": "{{ config(schema='extra') }} select 2 as id",
    "eph": "{{ config(materialized='ephemeral') }} select {{ var('salt', 0) }} as salt",
    "uses_eph": "select salt from {{ ref('eph') }}",
    # ~10^10 rows: runs until interrupted.
    "slow": "select sum(a.range * b.range) as s from range(100000) a, range(100000) b",
    "after_runtime_error": "select x from {{ ref('runtime_error') }}",
    "after_slow": "select s from {{ ref('slow') }}",
    "unrelated": "select 3 as id",  # dbt orders a batch by depth, then unique_id: this one after `slow`
    # ~4 * 10^8 rows: a second or two, then done.
    "finite_slow": "select sum(a.range * b.range) as s from range(20000) a, range(20000) b",
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[ProjectManifest, Path]:
    root = tmp_path_factory.mktemp("tiny")
    (root / "models").mkdir()
    (root / "dbt_project.yml").write_text(
        'name: tiny\nversion: "1.0.0"\nconfig-version: 2\nprofile: tiny\nmodel-paths: ["models"]\n'
        "models:\n  tiny:\n    +materialized: table\n"
    )
    (root / "profiles.yml").write_text(PROFILES)
    for name, sql in MODELS.items():
        (root / "models" / f"{name}.sql").write_text(sql + "\n")
    db = root / "db" / "tiny.duckdb"
    db.parent.mkdir()
    return parse_project(root, vars={"database_path": str(db)}), db


@pytest.fixture(scope="module")
def invoker(tiny: tuple[ProjectManifest, Path]) -> DbtInvoker:
    manifest, db = tiny
    return DbtInvoker(manifest.project_dir, None, None, manifest, {}, db)


def test_invoker_satisfies_the_protocol(invoker: DbtInvoker) -> None:
    assert isinstance(invoker, ModelInvoker)
    assert isinstance(invoker, BatchModelInvoker)
    assert invoker.supports_concurrency


def test_success_is_taken_from_the_models_own_result(
    invoker: DbtInvoker, tiny: tuple[ProjectManifest, Path]
) -> None:
    manifest, db = tiny
    outcome = invoker.run_model(manifest.model_by_name("good"), vars={})
    assert outcome.status is OutcomeStatus.SUCCESS
    assert invoker.run_model(manifest.model_by_name("after_good"), vars={}).ok
    assert checksums(db, ["after_good"])["after_good"].rows == 1


def test_compile_error_is_not_retryable(invoker: DbtInvoker, tiny: tuple[ProjectManifest, Path]) -> None:
    outcome = invoker.run_model(tiny[0].model_by_name("compile_error"), vars={})
    assert outcome.status is OutcomeStatus.ERROR
    assert outcome.retryable is False
    assert outcome.message is not None
    assert "Compilation Error" in outcome.message and "no_such_var" in outcome.message


def test_deterministic_sql_errors_carry_dbts_message_and_are_not_retryable(
    invoker: DbtInvoker, tiny: tuple[ProjectManifest, Path]
) -> None:
    for name, text in (("runtime_error", "not a number"), ("binder_error", "no_such_column")):
        outcome = invoker.run_model(tiny[0].model_by_name(name), vars={})
        assert outcome.status is OutcomeStatus.ERROR
        assert outcome.retryable is False, outcome.message
        assert outcome.message is not None and text in outcome.message  # DuckDB's error, through dbt


def test_vars_given_per_call_reach_the_model(invoker: DbtInvoker, tiny: tuple[ProjectManifest, Path]) -> None:
    outcome = invoker.run_model(tiny[0].model_by_name("compile_error"), vars={"no_such_var": 41})
    assert outcome.ok, outcome.message


def test_a_reused_manifest_recompiles_ephemeral_parents_with_each_calls_vars(
    invoker: DbtInvoker, tiny: tuple[ProjectManifest, Path]
) -> None:
    import duckdb

    manifest, db = tiny
    node = manifest.model_by_name("uses_eph")
    for salt in (1, 2):
        outcome = invoker.run_model(node, vars={"salt": salt})
        assert outcome.ok, outcome.message
        con = duckdb.connect(str(db))
        try:
            assert con.execute("select salt from main.uses_eph").fetchall() == [(salt,)]
        finally:
            con.close()


def test_whole_command_invocation(invoker: DbtInvoker) -> None:
    assert invoker.invoke(["run", "--select", "good"]).ok
    failed = invoker.invoke(["run", "--select", "runtime_error"])
    assert failed.status is OutcomeStatus.ERROR
    assert failed.message is not None and "not a number" in failed.message


def in_scope(scope: InvocationScope, call: Any, *args: Any, **kwargs: Any) -> Any:
    with use_scope(scope):
        return call(*args, **kwargs)


def wait_running(unique_id: str, worker: threading.Thread) -> None:
    """Poll until dbt has started the node (then give its query a moment to begin)."""
    deadline = time.monotonic() + 60
    while unique_id not in dbt_isolation.running_nodes():
        assert worker.is_alive() and time.monotonic() < deadline, f"{unique_id} never started"
        time.sleep(0.02)
    time.sleep(0.3)


def test_stopping_a_scope_stops_its_running_query(
    invoker: DbtInvoker, tiny: tuple[ProjectManifest, Path]
) -> None:
    node = tiny[0].model_by_name("slow")
    scope = InvocationScope()
    outcomes = []
    worker = threading.Thread(
        target=lambda: outcomes.append(in_scope(scope, invoker.run_model, node, vars={}))
    )
    worker.start()
    wait_running(node.unique_id, worker)
    interrupted = scope.stop()
    worker.join(timeout=10)
    assert not worker.is_alive(), "the query was not interrupted"
    assert interrupted >= 1
    (outcome,) = outcomes
    assert outcome.status is OutcomeStatus.ERROR
    assert outcome.message is not None and "interrupt" in outcome.message.lower()
    # The database is still usable afterwards.
    assert invoker.run_model(tiny[0].model_by_name("good"), vars={}).ok


def test_duckdb_memory_limit_is_applied_when_dbt_opens_the_database(
    invoker: DbtInvoker, tiny: tuple[ProjectManifest, Path]
) -> None:
    import duckdb

    manifest, db = tiny
    invoker.apply_duckdb_memory_limit("777MB")
    try:
        # Check through a connection sharing dbt's DuckDB instance, after dbt has (re)opened the database.
        (manifest.project_dir / "target").mkdir(exist_ok=True)
        con = duckdb.connect(str(db))
        try:
            assert invoker.run_model(manifest.model_by_name("good"), vars={}).ok
            limit = con.execute("select current_setting('memory_limit')").fetchone()
        finally:
            con.close()
        assert limit is not None and str(limit[0]).startswith("741")  # 777 MB shown in MiB
    finally:
        dbt_isolation.uninstall()
        dbt_isolation.install()


def test_schema_creation_is_skipped_only_while_the_same_database_stays_open(
    tiny: tuple[ProjectManifest, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dbt.adapters.sql.impl import SQLAdapter

    listed: list[str] = []
    original = SQLAdapter.list_schemas

    def counting_list_schemas(self: SQLAdapter, database: str) -> list[str]:
        listed.append(database)
        return original(self, database)

    monkeypatch.setattr(SQLAdapter, "list_schemas", counting_list_schemas)
    manifest, _ = tiny
    node = manifest.model_by_name("in_schema")
    db = tmp_path / "tiny.duckdb"
    invoker = DbtInvoker(manifest.project_dir, None, None, manifest, {}, db)
    assert "schema-cache" in invoker.isolation.speedups
    assert invoker.run_model(node, vars={}).ok
    before = len(listed)
    assert invoker.run_model(node, vars={}).ok
    assert len(listed) == before  # same open database instance: schemas known, not listed again

    # dbt-duckdb keeps a database open (keep_open) until it is closed — as an idle one is when another
    # database is opened, or by close_idle_databases. A new instance of a fresh file has no "main_extra".
    assert invoker.isolation.available
    assert dbt_isolation.close_idle_databases(db) == 1
    db.unlink()
    assert invoker.run_model(manifest.model_by_name("good"), vars={}).ok  # reopens: a new instance
    outcome = invoker.run_model(node, vars={})
    assert outcome.ok, outcome.message
    assert len(listed) > before


def test_manifest_for_another_database_is_refused(tiny: tuple[ProjectManifest, Path], tmp_path: Path) -> None:
    manifest, _ = tiny
    with pytest.raises(ManifestDatabaseMismatchError, match="other"):
        DbtInvoker(manifest.project_dir, None, None, manifest, {}, tmp_path / "other.duckdb")


REAL_VERSIONS = gate.detect_versions()


@pytest.fixture
def unsupported_dbt(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    dbt_isolation.uninstall()
    unsupported = dataclasses.replace(REAL_VERSIONS, dbt_core="1.99.0")
    monkeypatch.setattr(gate, "detect_versions", lambda: unsupported)
    yield
    monkeypatch.undo()
    dbt_isolation.uninstall()
    assert dbt_isolation.install().available


def test_a_batch_runs_in_dependency_order_and_reports_each_model(
    invoker: DbtInvoker, tiny: tuple[ProjectManifest, Path]
) -> None:
    manifest, db = tiny
    names = ["good", "runtime_error", "after_runtime_error", "after_good", "uses_eph"]
    nodes = [manifest.model_by_name(n) for n in names]
    assert invoker.max_models_per_invocation > 1
    before = time.time()
    outcomes = invoker.run_models(nodes, vars={"salt": 5})
    after = time.time()
    by_name = {n: outcomes[manifest.model_by_name(n).unique_id] for n in names}
    assert by_name["good"].ok and by_name["after_good"].ok and by_name["uses_eph"].ok
    assert by_name["runtime_error"].status is OutcomeStatus.ERROR
    assert not by_name["runtime_error"].retryable
    assert by_name["after_runtime_error"].status is OutcomeStatus.NOT_RUN
    for name in ("good", "after_good", "runtime_error"):
        outcome = by_name[name]
        assert outcome.started_at is not None and outcome.completed_at is not None
        assert before - 1 <= outcome.started_at <= outcome.completed_at <= after + 1
    good, after_good = by_name["good"], by_name["after_good"]
    assert good.completed_at is not None and after_good.started_at is not None
    assert good.completed_at <= after_good.started_at + 0.001  # one after another, dependency first
    import duckdb

    con = duckdb.connect(str(db))
    try:
        assert con.execute("select salt from main.uses_eph").fetchall() == [(5,)]
        assert con.execute("select id from main.after_good").fetchall() == [(2,)]
    finally:
        con.close()


def test_a_batch_larger_than_the_invoker_accepts_is_refused(
    invoker: DbtInvoker, tiny: tuple[ProjectManifest, Path]
) -> None:
    node = tiny[0].model_by_name("good")
    with pytest.raises(ValueError, match="accepts"):
        invoker.run_models([node] * (invoker.max_models_per_invocation + 1), vars={})


def test_stopping_a_scope_stops_a_batch_after_its_running_model(
    invoker: DbtInvoker, tiny: tuple[ProjectManifest, Path]
) -> None:
    manifest = tiny[0]
    nodes = [manifest.model_by_name(n) for n in ("good", "slow", "unrelated", "after_good", "after_slow")]
    scope = InvocationScope()
    results: list[dict[str, Any]] = []
    worker = threading.Thread(
        target=lambda: results.append(dict(in_scope(scope, invoker.run_models, nodes, vars={})))
    )
    worker.start()
    wait_running(nodes[1].unique_id, worker)
    scope.stop()
    worker.join(timeout=10)
    assert not worker.is_alive(), "the batch was not stopped"
    (outcomes,) = results
    by_name = {n.name: outcomes[n.unique_id] for n in nodes}
    assert by_name["slow"].status is OutcomeStatus.ERROR
    # The independent models after it were not started: the stop reaches the whole batch, not only `slow`.
    assert {by_name[n].status for n in ("unrelated", "after_good", "after_slow")} == {OutcomeStatus.NOT_RUN}
    # The stop belonged to that invocation: the next one runs normally.
    assert all(o.ok for o in invoker.run_models(nodes[2:4], vars={}).values())


def test_unsupported_dbt_version_falls_back_to_serialized_invocations(
    unsupported_dbt: None, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dbt.cli.main import dbtRunner

    project = generate_project(tmp_path / "proj", n_models=12, seed=5)
    db = tmp_path / "db" / "fb.duckdb"
    db.parent.mkdir()
    with caplog.at_level(logging.WARNING, logger="planalign.dbt.isolation"):
        status = dbt_isolation.install()
    assert not status.available
    assert "1.99.0" in status.reason
    assert any("unavailable" in r.getMessage() for r in caplog.records)

    manifest = parse_project(project.project_dir, vars={"database_path": str(db)})
    invoker = DbtInvoker(project.project_dir, None, None, manifest, {}, db)
    assert not invoker.supports_concurrency

    active = 0
    peak = 0
    lock = threading.Lock()
    original = dbtRunner.invoke

    def counting_invoke(self: dbtRunner, args: list[str], **kwargs: object) -> object:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        try:
            return original(self, args, **kwargs)
        finally:
            with lock:
                active -= 1

    monkeypatch.setattr(dbtRunner, "invoke", counting_invoke)
    assert invoker.invoke(["seed"]).ok
    report = walk_dag(invoker, manifest, {"salt": 5}, workers=4)
    assert report.errors == {}
    assert peak == 1  # serialized, even though four threads asked at once
    monkeypatch.setattr(dbtRunner, "invoke", original)

    ref = tmp_path / "ref" / "fb.duckdb"
    ref.parent.mkdir()
    dbt_cli(project.project_dir, "build", "--threads", "1", vars={"database_path": str(ref), "salt": 5})
    assert checksums(db, project.model_names) == checksums(ref, project.model_names)


def test_unexpected_internals_fall_back(unsupported_dbt: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import dbt.adapters.factory as factory_mod

    monkeypatch.setattr(gate, "detect_versions", lambda: REAL_VERSIONS)
    monkeypatch.setattr(factory_mod, "FACTORY", object())
    status = dbt_isolation.install()
    assert not status.available
    assert "FACTORY" in status.reason


def test_without_a_way_to_stop_a_batch_the_invoker_runs_one_model_per_invocation(
    unsupported_dbt: None, monkeypatch: pytest.MonkeyPatch, tiny: tuple[ProjectManifest, Path]
) -> None:
    from dbt.task.base import BaseRunner

    def run_with_hooks(self: object, manifest: object) -> object:  # a dbt that no longer honours `skip`
        raise AssertionError("not called")

    monkeypatch.setattr(gate, "detect_versions", lambda: REAL_VERSIONS)
    monkeypatch.setattr(BaseRunner, "run_with_hooks", run_with_hooks)
    status = dbt_isolation.install()
    assert status.available and not status.batch_stop
    manifest, db = tiny
    assert DbtInvoker(manifest.project_dir, None, None, manifest, {}, db).max_models_per_invocation == 1


def test_install_is_idempotent() -> None:
    first = dbt_isolation.install()
    assert dbt_isolation.install() is first
    assert first.available


def test_debug_events_still_reach_a_listener(tiny: tuple[ProjectManifest, Path]) -> None:
    """The unobserved-event speed-up must not hide events from a registered callback."""
    from dbt.cli.main import dbtRunner

    from planalign.dbt.manifest import dbt_common_args

    manifest, db = tiny
    seen: list[str] = []
    args = [
        "run",
        *dbt_common_args(
            manifest.project_dir, profiles_dir=None, target=None, vars={"database_path": str(db)}
        ),
        "--select",
        "good",
        "--log-level",
        "none",
        "--no-write-json",
    ]
    with dbt_isolation.invocation_slot("listener-test", exclusive=True):
        result = dbtRunner(
            manifest=manifest.dbt_manifest, callbacks=[lambda m: seen.append(m.info.name)]
        ).invoke(args)
    assert result.success
    assert "unobserved-event-skip" in dbt_isolation.isolation_status().speedups
    assert "SQLQuery" in seen


def test_stopping_one_scope_leaves_another_scopes_query_running(
    invoker: DbtInvoker, tiny: tuple[ProjectManifest, Path], tmp_path: Path
) -> None:
    """Two invocations on two databases at once, as two engines would run them: stopping A's scope must
    interrupt A's query only; B's query runs to its end."""
    manifest, _ = tiny
    other_db = tmp_path / "tiny.duckdb"
    other = DbtInvoker(manifest.project_dir, None, None, manifest, {}, other_db)
    spin, finite = manifest.model_by_name("slow"), manifest.model_by_name("finite_slow")
    scope_a, scope_b = InvocationScope(label="a"), InvocationScope(label="b")
    outcomes: dict[str, InvocationOutcome] = {}
    worker_a = threading.Thread(
        target=lambda: outcomes.__setitem__("a", in_scope(scope_a, invoker.run_model, spin, vars={}))
    )
    worker_b = threading.Thread(
        target=lambda: outcomes.__setitem__("b", in_scope(scope_b, other.run_model, finite, vars={}))
    )
    worker_a.start()
    wait_running(spin.unique_id, worker_a)
    worker_b.start()
    wait_running(finite.unique_id, worker_b)
    assert scope_a.stop() >= 1
    worker_a.join(timeout=10)
    worker_b.join(timeout=60)
    assert not worker_a.is_alive() and not worker_b.is_alive()
    assert outcomes["a"].status is OutcomeStatus.ERROR
    assert "interrupt" in (outcomes["a"].message or "").lower()
    assert outcomes["b"].ok, outcomes["b"].message
    assert checksums(other_db, ["finite_slow"])["finite_slow"].rows == 1


def test_a_model_over_its_time_limit_is_interrupted_and_the_rest_of_the_batch_runs(
    invoker: DbtInvoker, tiny: tuple[ProjectManifest, Path]
) -> None:
    manifest = tiny[0]
    nodes = [manifest.model_by_name(n) for n in ("good", "slow", "unrelated", "after_slow")]
    scope = InvocationScope(model_timeout_s=1.5)
    started = time.monotonic()
    outcomes = in_scope(scope, invoker.run_models, nodes, vars={})
    elapsed = time.monotonic() - started
    by_name = {n.name: outcomes[n.unique_id] for n in nodes}
    slow = by_name["slow"]
    assert slow.status is OutcomeStatus.ERROR and slow.retryable is False
    assert slow.message == (
        f"slow timed out after 1.5 s and was interrupted; if it needs longer, raise {MODEL_TIMEOUT_SETTING}"
    )
    assert elapsed < 15, f"the batch took {elapsed:.1f} s"
    # The limit is per model: the models before and after it in the batch ran normally.
    assert by_name["good"].ok and by_name["unrelated"].ok, by_name
    assert by_name["after_slow"].status is OutcomeStatus.NOT_RUN
    assert not scope.stopped
    # And the next invocation, in the same scope, runs normally.
    assert in_scope(scope, invoker.run_model, manifest.model_by_name("after_good"), vars={}).ok


def test_a_whole_command_over_its_time_limit_fails_naming_the_setting(
    tiny: tuple[ProjectManifest, Path],
) -> None:
    manifest, db = tiny
    bounded = DbtInvoker(manifest.project_dir, None, None, manifest, {}, db, model_timeout_s=1.0)
    started = time.monotonic()
    outcome = bounded.invoke(["run", "--select", "slow"])
    assert time.monotonic() - started < 15
    assert outcome.status is OutcomeStatus.ERROR and not outcome.retryable
    assert outcome.message is not None and "slow timed out after 1 s" in outcome.message


def engine_for(manifest: ProjectManifest, invoker: DbtInvoker, **settings: Any) -> ParallelExecutionEngine:
    analyzer = ModelDependencyAnalyzer(manifest, ModelClassifier(ModelExecutionType.PARALLEL_SAFE))
    base: dict[str, Any] = {"resource_monitoring": False, "retry_backoff_s": 0.0, "max_retries_per_model": 2}
    return ParallelExecutionEngine(analyzer, invoker, EngineSettings(**{**base, **settings}))


async def test_the_engine_does_not_retry_deterministic_sql_errors(
    invoker: DbtInvoker, tiny: tuple[ProjectManifest, Path]
) -> None:
    manifest = tiny[0]
    result = await engine_for(manifest, invoker).execute(["runtime_error", "binder_error", "good"], vars={})
    for name in ("runtime_error", "binder_error"):
        failed = result.result_for(name)
        assert failed.status is ModelStatus.ERROR and failed.attempts == 1, failed
    assert result.result_for("good").status is ModelStatus.SUCCESS


async def test_the_engine_times_out_a_model_and_runs_the_next(
    invoker: DbtInvoker, tiny: tuple[ProjectManifest, Path]
) -> None:
    manifest = tiny[0]
    engine = engine_for(manifest, invoker, max_workers=1, model_timeout_seconds=1.0)
    started = time.monotonic()
    result = await engine.execute(["slow", "unrelated", "after_slow"], vars={})
    assert time.monotonic() - started < 15
    slow = result.result_for("slow")
    assert slow.status is ModelStatus.ERROR and slow.attempts == 1
    assert (
        slow.error is not None and "timed out after 1 s" in slow.error and MODEL_TIMEOUT_SETTING in slow.error
    )
    assert result.result_for("unrelated").status is ModelStatus.SUCCESS
    assert result.result_for("after_slow").status is ModelStatus.SKIPPED


LOCK_HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
sys.stdin.read()
"""


async def test_the_engine_retries_a_database_locked_by_another_process(
    tiny: tuple[ProjectManifest, Path], tmp_path: Path
) -> None:
    """A transient failure from real DuckDB: another process holds the database file's lock during the first
    attempt ("IO Error: Could not set lock on file"); it lets go when the engine announces the retry."""
    manifest, _ = tiny
    db = tmp_path / "tiny.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    retries: list[str] = []

    def on_event(event: EngineEvent) -> None:
        if event.kind is EngineEventKind.MODEL_RETRY:
            retries.append(event.message or "")
            if holder.poll() is None:
                holder.communicate("", timeout=30)  # the lock is released before the retry starts

    try:
        invoker = DbtInvoker(manifest.project_dir, None, None, manifest, {}, db)
        engine = engine_for(manifest, invoker, retry_backoff_s=0.1)
        result = await engine.execute(["good"], vars={}, listeners=[on_event])
    finally:
        if holder.poll() is None:
            holder.kill()
    good = result.result_for("good")
    assert good.status is ModelStatus.SUCCESS and good.attempts == 2, good
    assert len(retries) == 1 and "Could not set lock" in retries[0]
