"""Failure isolation, retries and cancellation with fake invokers."""

from __future__ import annotations

import threading
from collections.abc import Callable

import anyio
import pytest

from planalign.engine.results import ModelStatus
from planalign.engine.runner import (
    EngineEvent,
    EngineEventKind,
    EngineSettings,
    ParallelExecutionEngine,
)

from .fakes import OK, FakeInvoker, InterruptibleFakeInvoker, fail, make_analyzer, uid, wait_until

WORKERS = [1, 4]
# a → b → c;  d independent;  e ← a, d;  f ← d
GRAPH = {"a": [], "b": ["a"], "c": ["b"], "d": [], "e": ["a", "d"], "f": ["d"]}


def settings(workers: int, **overrides: object) -> EngineSettings:
    base: dict[str, object] = {"max_workers": workers, "resource_monitoring": False, "retry_backoff_s": 0.0}
    base.update(overrides)
    return EngineSettings(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("workers", WORKERS)
async def test_a_failure_skips_only_its_descendants(workers: int) -> None:
    invoker = FakeInvoker(script={"a": [fail("compile error")]})
    result = await ParallelExecutionEngine(make_analyzer(GRAPH), invoker, settings(workers)).execute(
        list(GRAPH), vars={}
    )
    assert not result.success
    status = {r.name: r.status for r in result.results}
    assert status == {
        "a": ModelStatus.ERROR,
        "b": ModelStatus.SKIPPED,
        "c": ModelStatus.SKIPPED,
        "d": ModelStatus.SUCCESS,
        "e": ModelStatus.SKIPPED,
        "f": ModelStatus.SUCCESS,
    }
    assert [r.name for r in result.failed] == ["a"]
    assert result.result_for("a").error == "compile error"
    assert {r.skipped_because for r in result.skipped} == {uid("a")}
    assert all(r.attempts == 0 and r.started_at is None for r in result.skipped)
    assert set(invoker.calls) == {"a", "d", "f"}
    assert result.counts() == {"success": 2, "error": 1, "skipped": 3, "cancelled": 0}


@pytest.mark.parametrize("workers", WORKERS)
async def test_transient_failure_succeeds_on_retry(workers: int) -> None:
    events: list[EngineEvent] = []
    invoker = FakeInvoker(script={"b": [fail("database is locked", retryable=True), OK]})
    engine = ParallelExecutionEngine(make_analyzer(GRAPH), invoker, settings(workers))
    result = await engine.execute(list(GRAPH), vars={}, listeners=[events.append])
    assert result.success
    assert result.result_for("b").attempts == 2
    assert invoker.calls["b"] == 2
    retries = [e for e in events if e.kind is EngineEventKind.MODEL_RETRY]
    assert [(e.name, e.attempt) for e in retries] == [("b", 1)]


@pytest.mark.parametrize("retries", [0, 2])
async def test_permanent_retryable_failure_stops_after_one_plus_max_retries(retries: int) -> None:
    invoker = FakeInvoker(script={"b": [fail("flaky", retryable=True)]})
    result = await ParallelExecutionEngine(
        make_analyzer(GRAPH), invoker, settings(4, max_retries_per_model=retries)
    ).execute(list(GRAPH), vars={})
    b = result.result_for("b")
    assert b.status is ModelStatus.ERROR and b.attempts == 1 + retries
    assert invoker.calls["b"] == 1 + retries
    assert result.result_for("c").status is ModelStatus.SKIPPED


async def test_non_retryable_failure_is_not_retried() -> None:
    invoker = FakeInvoker(script={"b": [fail("syntax error", retryable=False), OK]})
    result = await ParallelExecutionEngine(make_analyzer(GRAPH), invoker, settings(4)).execute(
        list(GRAPH), vars={}
    )
    assert result.result_for("b").attempts == 1
    assert result.result_for("b").status is ModelStatus.ERROR


async def test_an_invoker_that_raises_becomes_a_model_error() -> None:
    class Raising(FakeInvoker):
        def run_model(self, node, *, vars):  # type: ignore[no-untyped-def]
            if node.name == "d":
                raise RuntimeError("adapter exploded")
            return super().run_model(node, vars=vars)

    result = await ParallelExecutionEngine(make_analyzer(GRAPH), Raising(), settings(4)).execute(
        list(GRAPH), vars={}
    )
    d = result.result_for("d")
    assert d.status is ModelStatus.ERROR and "RuntimeError: adapter exploded" in (d.error or "")
    assert d.attempts == 1
    assert result.result_for("a").status is ModelStatus.SUCCESS


def wide_graph(n: int = 8) -> dict[str, list[str]]:
    # two "first" models sort ahead of the rest; the rest wait behind them with 2 workers
    graph: dict[str, list[str]] = {"a_first": [], "a_second": []}
    graph.update({f"z{i}": [] for i in range(n)})
    graph["z_child"] = ["a_first"]
    return graph


async def cancel_mid_run(
    invoker: FakeInvoker,
    engine: ParallelExecutionEngine,
    ids: list[str],
    after_cancel: Callable[[], None] | None = None,
) -> bool:
    """Start a run, cancel it once two models are in flight (then call `after_cancel`); return whether the
    cancellation propagated out of `execute`."""
    propagated = False

    async def run() -> None:
        nonlocal propagated
        try:
            await engine.execute(ids, vars={})
        except anyio.get_cancelled_exc_class():
            propagated = True
            raise

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        await wait_until(lambda: invoker.in_flight == 2)
        tg.cancel_scope.cancel()
        if after_cancel is not None:
            after_cancel()
    return propagated


async def test_cancellation_interrupts_running_models_and_starts_nothing_new() -> None:
    graph = wide_graph()
    gates = {"a_first": threading.Event(), "a_second": threading.Event()}
    invoker = InterruptibleFakeInvoker(gates=gates)
    engine = ParallelExecutionEngine(make_analyzer(graph), invoker, settings(2))
    assert await cancel_mid_run(invoker, engine, list(graph))
    assert invoker.interrupted.is_set()
    assert sorted(invoker.starts()) == ["a_first", "a_second"]  # the two running ones, nothing new
    result = engine.last_result
    assert result is not None and result.cancelled and not result.success
    status = {r.name: r.status for r in result.results}
    assert set(status.values()) == {ModelStatus.CANCELLED}
    assert result.result_for("a_first").attempts == 1
    assert result.result_for("a_first").error == "interrupted"
    assert result.result_for("z0").attempts == 0


async def test_cancellation_without_interrupt_lets_running_models_finish() -> None:
    graph = wide_graph()
    release = threading.Event()
    invoker = FakeInvoker(gates={"a_first": release, "a_second": release})
    engine = ParallelExecutionEngine(make_analyzer(graph), invoker, settings(2))

    # the running models finish only after the cancellation was requested
    assert await cancel_mid_run(invoker, engine, list(graph), after_cancel=release.set)
    result = engine.last_result
    assert result is not None and result.cancelled
    assert result.result_for("a_first").status is ModelStatus.SUCCESS
    assert result.result_for("a_second").status is ModelStatus.SUCCESS
    assert result.result_for("z_child").status is ModelStatus.CANCELLED
    assert sorted(invoker.starts()) == ["a_first", "a_second"]  # the two running ones, nothing new
