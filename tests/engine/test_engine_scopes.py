"""Scoped stops, time limits and error reporting on the engine side, with fake invokers: a cancellation stops
only the cancelled run's invocations, each run hands its time limit to the invoker, and one failure is
logged once."""

from __future__ import annotations

import threading
from collections.abc import Callable

import anyio
import pytest
from structlog.testing import capture_logs

from planalign.engine.invocation import InvocationScope, current_scope, use_scope
from planalign.engine.results import ModelStatus
from planalign.engine.runner import EngineSettings, ParallelExecutionEngine
from planalign.errors import ConfigError

from .fakes import FakeBatchInvoker, FakeInvoker, fail, make_analyzer, wait_until


def settings(workers: int = 2, **overrides: object) -> EngineSettings:
    base: dict[str, object] = {"max_workers": workers, "resource_monitoring": False, "retry_backoff_s": 0.0}
    base.update(overrides)
    return EngineSettings(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("per_invocation", [1, 16], ids=["single", "batches"])
async def test_cancelling_one_engine_does_not_stop_another_engines_invocations(per_invocation: int) -> None:
    """Two engines share one invoker, as two simulations share one process's dbt: cancelling A must not
    interrupt B's running model or stop B's batches."""
    graph_a = {"a_run": [], "a_next": ["a_run"]}
    graph_b = {"b_run": [], "b_next": ["b_run"], "b_last": ["b_next"]}
    release_b = threading.Event()
    invoker = FakeBatchInvoker(gates={"a_run": threading.Event(), "b_run": release_b})
    each = settings(1, models_per_invocation=per_invocation)
    engine_a = ParallelExecutionEngine(make_analyzer(graph_a), invoker, each)
    engine_b = ParallelExecutionEngine(make_analyzer(graph_b), invoker, each)
    results = {}
    scope_a = anyio.CancelScope()

    async def run_a() -> None:
        with scope_a:
            await engine_a.execute(list(graph_a), vars={})

    async def run_b() -> None:
        results["b"] = await engine_b.execute(list(graph_b), vars={})

    async with anyio.create_task_group() as tg:
        tg.start_soon(run_a)
        tg.start_soon(run_b)
        await wait_until(lambda: {"a_run", "b_run"} <= invoker.running)
        scope_a.cancel()
        await wait_until(lambda: "a_run" not in invoker.running)
        assert "b_run" in invoker.running  # still waiting for its gate: not interrupted
        release_b.set()

    result_a, result_b = engine_a.last_result, results["b"]
    assert result_a is not None and result_a.cancelled
    assert result_a.result_for("a_run").error == "interrupted"
    assert result_b.success and not result_b.cancelled
    assert {r.name: r.attempts for r in result_b.results} == {"b_run": 1, "b_next": 1, "b_last": 1}


async def test_each_run_has_its_own_scope_with_the_time_limit() -> None:
    graph = {"a": [], "b": ["a"]}
    invoker = FakeInvoker()
    engine = ParallelExecutionEngine(make_analyzer(graph), invoker, settings(model_timeout_seconds=7.5))
    await engine.execute(list(graph), vars={})
    first = invoker.scopes["a"]
    assert isinstance(first, InvocationScope)
    assert invoker.scopes["b"] is first and first.model_timeout_s == 7.5 and not first.stopped
    await engine.execute(list(graph), vars={})
    assert invoker.scopes["a"] is not first  # a new run, a new scope
    assert current_scope() is None  # nothing leaks into the event loop's context


async def test_a_timed_out_model_fails_once_and_its_descendants_are_skipped() -> None:
    graph = {"slow": [], "after": ["slow"], "other": []}
    timed_out = fail("slow timed out after 2 s and was interrupted; ...", retryable=False)
    invoker = FakeInvoker(script={"slow": [timed_out]})
    result = await ParallelExecutionEngine(
        make_analyzer(graph), invoker, settings(max_retries_per_model=3)
    ).execute(list(graph), vars={})
    assert result.result_for("slow").status is ModelStatus.ERROR
    assert result.result_for("slow").attempts == 1 and invoker.calls["slow"] == 1
    assert result.result_for("after").status is ModelStatus.SKIPPED
    assert result.result_for("other").status is ModelStatus.SUCCESS


@pytest.mark.parametrize("value", [0, -1.0])
def test_the_time_limit_must_be_positive(value: float) -> None:
    with pytest.raises(ConfigError, match="model_timeout_seconds"):
        EngineSettings(model_timeout_seconds=value)


async def test_a_deterministic_failure_is_logged_once_and_a_retried_one_once_per_attempt() -> None:
    """The final error is in the result (which callers print); the engine logs only each retry at info."""
    graph: dict[str, list[str]] = {"bad": [], "flaky": []}
    invoker = FakeInvoker(
        script={"bad": [fail("Conversion Error: x")], "flaky": [fail("IO Error: lock", retryable=True)]}
    )
    engine = ParallelExecutionEngine(make_analyzer(graph), invoker, settings(max_retries_per_model=2))
    with capture_logs() as logs:
        result = await engine.execute(list(graph), vars={})
    shown = [e for e in logs if e["log_level"] not in ("debug",) and "error" in e]
    assert [e["error"] for e in shown if e["error"] == "Conversion Error: x"] == []
    assert [(e["event"], e["attempt"]) for e in shown if e["error"] == "IO Error: lock"] == [
        ("retrying model", 1),
        ("retrying model", 2),
    ]
    assert result.result_for("bad").error == "Conversion Error: x"
    assert result.result_for("flaky").attempts == 3


def _recording_stop(stopped: list[str], name: str) -> Callable[[], int]:
    """A stop hook that notes `name` in `stopped` and reports one interrupted query."""

    def stop() -> int:
        stopped.append(name)
        return 1

    return stop


def test_a_stopped_scope_stops_invocations_registered_later_and_only_its_own() -> None:
    stopped: list[str] = []
    scope, other = InvocationScope(), InvocationScope()
    with scope.stoppable(_recording_stop(stopped, "first")), other.stoppable(lambda: 0):
        assert scope.stop() == 1
    assert stopped == ["first"]
    with scope.stoppable(_recording_stop(stopped, "late")):
        pass
    assert stopped == ["first", "late"]  # dispatched just before the cancellation: stopped on arrival
    assert not other.stopped


def test_a_failing_stop_hook_does_not_keep_the_others_from_running() -> None:
    stopped: list[str] = []

    def broken() -> int:
        raise RuntimeError("connection gone")

    scope = InvocationScope()
    with (
        scope.stoppable(broken),
        scope.stoppable(_recording_stop(stopped, "ok")),
        pytest.raises(RuntimeError, match="connection gone"),
    ):
        scope.stop()
    assert stopped == ["ok"]


def test_use_scope_is_visible_only_inside() -> None:
    scope = InvocationScope()
    with use_scope(scope):
        assert current_scope() is scope
    assert current_scope() is None
