"""The `adapter-reuse` speed-up (planalign.dbt.isolation.adapter_reuse) on a real PostgreSQL server: the
invocations of one engine run reuse server adapters and open one session per model, as `dbt run` does;
an adapter serves one invocation at a time; a stop or a timeout still cancels exactly its own invocation's
query, and a cancelled or timed-out invocation's adapter is never reused; the tables equal `dbt run`'s.

One private cluster (the session's `postgres_server`), one project parsed once for the file: a generated
12-model DAG (`generate_pg_project`) plus three models of our own that wait on the server. The reference
is a plain `dbt build` of the same generated DAG into another database.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from planalign.dbt import isolation as dbt_isolation
from planalign.dbt.invoker import DbtInvoker
from planalign.dbt.isolation import adapter_reuse, adapters
from planalign.dbt.isolation._base import current_installation
from planalign.dbt.manifest import parse_project
from planalign.engine.invocation import InvocationScope, use_scope
from planalign.engine.nodes import ProjectManifest
from tests.engine_real.postgres import PostgresServer, generate_pg_project

from .helpers import DBT_EXECUTABLE

pytestmark = pytest.mark.slow

SLEEP_S = 120
#: Well below SLEEP_S: a stop that waited for the query to end by itself cannot pass.
STOPPED_WITHIN_S = 30

EXTRA_MODELS = {
    "quick": "select 1 as x",
    "slow": f"select x from {{{{ ref('quick') }}}}, pg_sleep({SLEEP_S})",
    # Long enough to still be running when a stale token is stopped (we wait until it is active first).
    "medium": "select x from {{ ref('quick') }}, pg_sleep(4)",
}


@dataclass
class Built:
    server: PostgresServer
    database: str
    reference: str
    project: Path
    manifest: ProjectManifest
    generated: list[str]
    invoker: DbtInvoker


@pytest.fixture(scope="module")
def built(postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("reuse")
    ours, theirs = postgres_server.create_database("reuse_ours"), postgres_server.create_database("reuse_dbt")
    gen = generate_pg_project(root / "ours", postgres_server, ours, n_models=12, seed=7)
    ref = generate_pg_project(root / "theirs", postgres_server, theirs, n_models=12, seed=7)
    for name, sql in EXTRA_MODELS.items():
        (gen.project_dir / "models" / f"{name}.sql").write_text(
            "{{ config(materialized='table') }}\n" + sql + "\n"
        )
    reference = subprocess.run(
        [DBT_EXECUTABLE, "build", "--threads", "4", "--project-dir", str(ref.project_dir)],
        cwd=ref.project_dir,
        capture_output=True,
        text=True,
    )
    assert reference.returncode == 0, reference.stdout[-3000:]
    manifest = parse_project(gen.project_dir, profiles_dir=gen.project_dir, target=None, vars={})
    invoker = DbtInvoker(gen.project_dir, gen.project_dir, None, manifest, {}, None)
    assert invoker.invoke(["seed"]).ok
    return Built(postgres_server, ours, theirs, gen.project_dir, manifest, gen.model_names, invoker)


@dataclass
class Spy:
    """Connection opens (a PostgreSQL session started), adapters constructed, and, per finished invocation
    of the invoker, (its stop token, the adapters its registry held when it returned)."""

    opens: int = 0
    created: int = 0
    shared: list[str] = field(default_factory=list)
    finished: list[tuple[Any, list[Any]]] = field(default_factory=list)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spy]:
    from dbt.adapters.postgres.connections import PostgresConnectionManager
    from dbt.adapters.postgres.impl import PostgresAdapter

    seen = Spy()
    lock = threading.Lock()
    original_open = PostgresConnectionManager.__dict__["open"].__func__
    original_init = PostgresAdapter.__init__
    original_add_query = PostgresConnectionManager.add_query
    original_finish = dbt_isolation.finish_invocation

    def counting_open(cls: Any, connection: Any) -> Any:
        if connection.state != "open":
            with lock:
                seen.opens += 1
        return original_open(cls, connection)

    def counting_init(self: Any, *args: Any, **kwargs: Any) -> None:
        with lock:
            seen.created += 1
        original_init(self, *args, **kwargs)

    def checking_add_query(self: Any, *args: Any, **kwargs: Any) -> Any:
        # Every query runs on a connection manager of exactly one invocation's registry: an adapter handed to
        # two invocations at once would be in two (finished invocations leave theirs before it is reused).
        inst = current_installation()
        assert inst is not None
        with inst.registry_lock:
            holders = sum(
                any(a.connections is self for a in registry.values()) for registry in inst.registry.values()
            )
        if holders != 1:
            with lock:
                seen.shared.append(f"{holders} invocations hold the adapter running {args[0]!r:.60}")
        return original_add_query(self, *args, **kwargs)

    def recording_finish(token: Any, *, clean: bool) -> int:
        inst = current_installation()
        context = token.context() if token.context is not None else None
        with lock:
            seen.finished.append((token, adapters.adapters_of(inst, context) if inst else []))
        return original_finish(token, clean=clean)

    monkeypatch.setattr(PostgresConnectionManager, "open", classmethod(counting_open))
    monkeypatch.setattr(PostgresAdapter, "__init__", counting_init)
    monkeypatch.setattr(PostgresConnectionManager, "add_query", checking_add_query)
    monkeypatch.setattr(dbt_isolation, "finish_invocation", recording_finish)
    yield seen


def test_an_engine_run_reuses_adapters_opens_a_session_per_model_and_equals_dbt_run(
    built: Built, spy: Spy
) -> None:
    """Before the speed-up: an adapter per invocation (12) and three sessions per invocation (36+)."""
    from planalign.engine.classification import ModelClassifier, ModelExecutionType
    from planalign.engine.graph import ModelDependencyAnalyzer
    from planalign.engine.results import ModelStatus
    from planalign.engine.runner import EngineSettings, ParallelExecutionEngine

    analyzer = ModelDependencyAnalyzer(built.manifest, ModelClassifier(ModelExecutionType.PARALLEL_SAFE))
    settings = EngineSettings(
        max_workers=2, models_per_invocation=1, resource_monitoring=False, retry_backoff_s=0.0
    )
    result = asyncio.run(
        ParallelExecutionEngine(analyzer, built.invoker, settings).execute(built.generated, vars={})
    )
    assert all(result.result_for(n).status is ModelStatus.SUCCESS for n in built.generated), result
    n = len(built.generated)
    assert spy.shared == []
    assert spy.created <= 2, f"{spy.created} adapters for {n} invocations on 2 workers"
    # One session per model, as `dbt run` (its node's); a few more for the run's first schema listing.
    assert spy.opens <= n + 3, f"{spy.opens} sessions for {n} models"
    server = built.server
    assert server.table_digests(built.database, built.generated) == server.table_digests(
        built.reference, built.generated
    )


def _run(built: Built, name: str) -> Any:
    return built.invoker.run_model(built.manifest.model_by_name(name), vars={})


def _wait_active(server: PostgresServer, database: str, like: str, worker: threading.Thread) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and worker.is_alive():
        if server.active_queries(database, like):
            return
        time.sleep(0.1)
    pytest.fail(f"no query like {like!r} became active")


def test_a_timed_out_invocation_cancels_its_query_and_its_adapter_is_not_reused(
    built: Built, spy: Spy
) -> None:
    with use_scope(InvocationScope(label="timeout", model_timeout_s=2.0)):
        assert _run(built, "quick").ok
        started = time.monotonic()
        slow = _run(built, "slow")
        elapsed = time.monotonic() - started
        assert _run(built, "quick").ok
    assert not slow.ok and slow.message is not None and "timed out after 2 s" in slow.message, slow
    assert elapsed < STOPPED_WITHIN_S
    assert built.server.active_queries(built.database, "%pg_sleep%") == []
    (_, first), (_, timed_out), (_, after) = spy.finished
    assert len(first) == len(timed_out) == len(after) == 1
    assert timed_out[0] is first[0], "the second invocation should have reused the first's adapter"
    assert after[0] is not timed_out[0], "the timed-out invocation's adapter was reused"
    assert spy.created == 2 and spy.shared == []


def test_a_stop_cancels_only_its_own_invocation_even_after_its_adapter_moved_on(
    built: Built, spy: Spy
) -> None:
    """A stale stop (an invocation that already ended, whose adapter another invocation now uses) reaches
    nothing; the current invocation's stop (Ctrl-C and fail-fast stop the scope) cancels its query, and
    that adapter is dropped."""
    scope = InvocationScope(label="stops")
    outcomes: dict[str, Any] = {}

    def run_in_scope(name: str) -> None:
        with use_scope(scope):
            outcomes[name] = _run(built, name)

    with use_scope(scope):
        assert _run(built, "quick").ok
    stale_token, (first,) = spy.finished[0]
    worker = threading.Thread(target=run_in_scope, args=("medium",))
    worker.start()
    _wait_active(built.server, built.database, "%pg_sleep(4)%", worker)
    assert stale_token.stop() == 0
    worker.join()
    assert outcomes["medium"].ok, outcomes["medium"]
    assert spy.finished[1][1] == [first], "medium should have reused quick's adapter"

    worker = threading.Thread(target=run_in_scope, args=("slow",))
    worker.start()
    _wait_active(built.server, built.database, f"%pg_sleep({SLEEP_S})%", worker)
    stopped_at = time.monotonic()
    scope.stop()
    worker.join(timeout=STOPPED_WITHIN_S)
    assert not worker.is_alive() and time.monotonic() - stopped_at < STOPPED_WITHIN_S
    assert not outcomes["slow"].ok
    assert built.server.active_queries(built.database, "%pg_sleep%") == []
    assert spy.finished[2][1] == [first]  # the stopped invocation ran on the reused adapter ...
    assert adapter_reuse.parked_adapters(scope) == 0  # ... which was dropped, not parked
    assert spy.shared == []
