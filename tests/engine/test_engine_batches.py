"""Batches: several models per invocation (`models_per_invocation`), with fake batch invokers (no dbt).

The engine's guarantees must not depend on batching, so the invariants are checked over one and several
workers and over single-model invocations and batches; then what is specific to batches: how they are
formed, failures, retries and cancellation inside a batch, and per-model timing.
"""

from __future__ import annotations

import functools
import itertools
import random
import threading
from collections.abc import Mapping

import anyio
import pytest

from planalign.engine.invocation import InvocationOutcome, OutcomeStatus
from planalign.engine.results import ModelStatus
from planalign.engine.runner import EngineSettings, ParallelExecutionEngine

from .fakes import (
    OK,
    FakeBatchInvoker,
    FakeInvoker,
    batch_invoker_kinds,
    fail,
    intervals,
    make_analyzer,
    overlaps,
    uid,
    wait_until,
)


def settings(workers: int, per_invocation: int = 16, **overrides: object) -> EngineSettings:
    base: dict[str, object] = {
        "max_workers": workers,
        "models_per_invocation": per_invocation,
        "resource_monitoring": False,
        "retry_backoff_s": 0.0,
    }
    base.update(overrides)
    return EngineSettings(**base)  # type: ignore[arg-type]


def random_dag(n: int, seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed)
    graph: dict[str, list[str]] = {}
    for i in range(n):
        parents = rng.sample(range(i), k=min(i, rng.choice([0, 1, 1, 2, 3])))
        graph[f"m{i:02d}"] = [f"m{p:02d}" for p in parents]
    return graph


def assert_dependency_order(log: list[tuple[str, str]], graph: Mapping[str, list[str]]) -> None:
    spans = intervals(log)
    for model, deps in graph.items():
        for dep in deps:
            assert spans[dep][1] < spans[model][0], f"{model} started before {dep} finished"


@pytest.mark.parametrize("workers", [1, 2, 4])
@pytest.mark.parametrize("per_invocation", [1, 3, 16])
@pytest.mark.parametrize("seed", [1, 2])
async def test_every_model_runs_once_after_its_dependencies(
    workers: int, per_invocation: int, seed: int
) -> None:
    graph = random_dag(40, seed)
    invoker = FakeBatchInvoker(duration=0.001)
    engine = ParallelExecutionEngine(make_analyzer(graph), invoker, settings(workers, per_invocation))
    result = await engine.execute(list(graph), vars={}, label="batches")
    assert result.success
    assert invoker.calls == dict.fromkeys(graph, 1)
    assert_dependency_order(invoker.log, graph)
    assert max(len(b) for b in invoker.batches) <= per_invocation
    assert result.invocations == len(invoker.batches)
    assert sorted(r.name for r in result.results) == sorted(graph)
    if per_invocation == 1:
        assert result.invocations == len(graph)
    else:
        assert result.invocations < len(graph)


async def test_a_chain_is_one_invocation_up_to_the_batch_size() -> None:
    chain = {f"c{i}": ([f"c{i - 1}"] if i else []) for i in range(10)}
    invoker = FakeBatchInvoker()
    result = await ParallelExecutionEngine(make_analyzer(chain), invoker, settings(4, 4)).execute(
        list(chain), vars={}
    )
    assert result.success
    assert invoker.batches == [["c0", "c1", "c2", "c3"], ["c4", "c5", "c6", "c7"], ["c8", "c9"]]


async def test_ready_models_are_shared_out_over_the_workers_and_run_concurrently() -> None:
    roots: dict[str, list[str]] = {f"r{i}": [] for i in range(8)}
    barrier = threading.Barrier(4)
    # The first model of each of the four batches waits for the other three: only concurrent batches pass.
    invoker = FakeBatchInvoker(barriers={name: barrier for name in ("r0", "r2", "r4", "r6")})
    result = await ParallelExecutionEngine(make_analyzer(roots), invoker, settings(4, 16)).execute(
        list(roots), vars={}
    )
    assert result.success
    assert sorted(len(b) for b in invoker.batches) == [2, 2, 2, 2]
    assert invoker.max_in_flight == 4


async def test_the_invokers_own_limit_caps_the_batch() -> None:
    chain = {f"c{i}": ([f"c{i - 1}"] if i else []) for i in range(6)}
    invoker = FakeBatchInvoker(max_models_per_invocation=2)
    result = await ParallelExecutionEngine(make_analyzer(chain), invoker, settings(1, 16)).execute(
        list(chain), vars={}
    )
    assert result.success
    assert [len(b) for b in invoker.batches] == [2, 2, 2]


async def test_an_invoker_without_batches_gets_one_model_per_call() -> None:
    chain = {f"c{i}": ([f"c{i - 1}"] if i else []) for i in range(4)}
    invoker = FakeInvoker()
    result = await ParallelExecutionEngine(make_analyzer(chain), invoker, settings(2, 16)).execute(
        list(chain), vars={}
    )
    assert result.success and result.invocations == 4


async def test_models_that_run_alone_are_batched_only_with_each_other_and_with_nothing_in_flight() -> None:
    graph = {"a": [], "b": ["a"], "s1": ["a"], "s2": ["s1"], "c": ["s2"], "d": ["c"], "e": []}
    invoker = FakeBatchInvoker()
    analyzer = make_analyzer(graph, classes={"s1": "sequential", "s2": "sequential"})
    result = await ParallelExecutionEngine(analyzer, invoker, settings(4, 16)).execute(list(graph), vars={})
    assert result.success
    assert ["s1", "s2"] in invoker.batches
    assert all(set(b) <= {"s1", "s2"} for b in invoker.batches if {"s1", "s2"} & set(b))
    spans = intervals(invoker.log)
    for alone in ("s1", "s2"):
        assert not any(overlaps(spans[alone], spans[m]) for m in graph if m not in ("s1", "s2"))


async def test_a_failure_in_a_batch_skips_its_descendants_and_not_its_neighbours() -> None:
    graph = {"a": [], "b": ["a"], "c": ["b"], "d": [], "e": ["d"]}
    invoker = FakeBatchInvoker(script={"a": [fail("bad sql")]})
    result = await ParallelExecutionEngine(make_analyzer(graph), invoker, settings(1, 16)).execute(
        list(graph), vars={}
    )
    assert len(invoker.batches) == 1
    assert result.result_for("a").status is ModelStatus.ERROR and result.result_for("a").attempts == 1
    for name in ("b", "c"):
        r = result.result_for(name)
        assert r.status is ModelStatus.SKIPPED and r.skipped_because == uid("a") and r.attempts == 0
    assert result.result_for("d").status is ModelStatus.SUCCESS
    assert result.result_for("e").status is ModelStatus.SUCCESS


async def test_a_retryable_failure_reruns_the_model_with_the_batch_models_waiting_for_it() -> None:
    graph = {"a": [], "b": ["a"], "c": []}
    invoker = FakeBatchInvoker(script={"a": [fail("lock conflict", retryable=True), OK]})
    result = await ParallelExecutionEngine(make_analyzer(graph), invoker, settings(1, 16)).execute(
        list(graph), vars={}
    )
    assert result.success
    assert invoker.batches == [["a", "b", "c"], ["a", "b"]]
    assert result.result_for("a").attempts == 2
    assert result.result_for("b").attempts == 1  # not run the first time: not an attempt
    assert result.result_for("c").attempts == 1
    assert result.invocations == 2


async def test_a_model_the_invoker_declines_is_a_failed_attempt_not_a_hang() -> None:
    graph: dict[str, list[str]] = {"a": [], "b": []}
    invoker = FakeBatchInvoker(not_run={"a"})
    result = await ParallelExecutionEngine(
        make_analyzer(graph), invoker, settings(1, 16, max_retries_per_model=1)
    ).execute(list(graph), vars={})
    a = result.result_for("a")
    assert a.status is ModelStatus.ERROR and a.attempts == 2
    assert a.error is not None and "did not run" in a.error
    assert result.result_for("b").status is ModelStatus.SUCCESS


async def test_an_invoker_raising_fails_every_model_of_its_batch() -> None:
    class Raising(FakeBatchInvoker):
        def run_models(self, nodes, *, vars):  # type: ignore[no-untyped-def]
            raise RuntimeError("driver crashed")

    graph = {"a": [], "b": ["a"], "c": []}
    result = await ParallelExecutionEngine(make_analyzer(graph), Raising(), settings(1, 16)).execute(
        list(graph), vars={}
    )
    assert result.result_for("a").status is ModelStatus.ERROR
    assert result.result_for("c").status is ModelStatus.ERROR
    assert "driver crashed" in (result.result_for("c").error or "")
    assert result.result_for("b").status is ModelStatus.SKIPPED


async def test_cancelling_stops_a_batch_after_its_running_model() -> None:
    chain = {f"c{i}": ([f"c{i - 1}"] if i else []) for i in range(6)}
    gate = threading.Event()
    invoker = FakeBatchInvoker(gates={"c2": gate})
    engine = ParallelExecutionEngine(make_analyzer(chain), invoker, settings(1, 16))

    async with anyio.create_task_group() as tg:
        tg.start_soon(functools.partial(engine.execute, list(chain), vars={}))
        await wait_until(lambda: "c2" in invoker.running)
        tg.cancel_scope.cancel()
    result = engine.last_result
    assert result is not None and result.cancelled
    assert invoker.starts() == ["c0", "c1", "c2"]  # nothing after the interrupted model started
    assert [result.result_for(f"c{i}").status for i in range(6)] == [
        ModelStatus.SUCCESS,
        ModelStatus.SUCCESS,
        *[ModelStatus.CANCELLED] * 4,
    ]


async def test_per_model_timing_from_the_invoker_gives_each_model_its_own_span() -> None:
    chain = {"a": [], "b": ["a"], "c": ["b"]}
    invoker = FakeBatchInvoker(timed=True, duration=0.02)
    result = await ParallelExecutionEngine(make_analyzer(chain), invoker, settings(1, 16)).execute(
        list(chain), vars={}
    )
    assert result.invocations == 1
    spans: list[tuple[float, float]] = []
    for r in (result.result_for(n) for n in "abc"):
        assert r.start_offset_s is not None and r.end_offset_s is not None
        spans.append((r.start_offset_s, r.end_offset_s))
    for (_, e1), (s2, _) in itertools.pairwise(spans):
        assert e1 <= s2 + 1e-3  # one after another inside the invocation, not three models in flight
    assert result.parallelism_max == 1
    assert result.summed_model_time_s == pytest.approx(sum(e - s for s, e in spans))


async def test_without_per_model_timing_a_model_spans_its_invocation() -> None:
    chain = {"a": [], "b": ["a"]}
    invoker = FakeBatchInvoker(timed=False)
    result = await ParallelExecutionEngine(make_analyzer(chain), invoker, settings(1, 16)).execute(
        list(chain), vars={}
    )
    a, b = result.result_for("a"), result.result_for("b")
    assert (a.start_offset_s, a.end_offset_s) == (b.start_offset_s, b.end_offset_s)


def test_models_per_invocation_must_be_positive() -> None:
    from planalign.errors import ConfigError

    with pytest.raises(ConfigError, match="models_per_invocation"):
        EngineSettings(models_per_invocation=0)


async def test_outcome_for_a_model_not_returned_by_the_invoker_is_a_failed_attempt() -> None:
    class Forgetful(FakeBatchInvoker):
        def run_models(self, nodes, *, vars):  # type: ignore[no-untyped-def]
            outcomes = super().run_models(nodes, vars=vars)
            outcomes.pop(uid("b"), None)
            return outcomes

    graph: dict[str, list[str]] = {"a": [], "b": []}
    result = await ParallelExecutionEngine(
        make_analyzer(graph), Forgetful(), settings(1, 16, max_retries_per_model=0)
    ).execute(list(graph), vars={})
    assert result.result_for("a").status is ModelStatus.SUCCESS
    assert result.result_for("b").status is ModelStatus.ERROR


def test_not_run_is_not_ok() -> None:
    assert not InvocationOutcome(OutcomeStatus.NOT_RUN).ok


@pytest.mark.parametrize("per_invocation", [1, 16])
async def test_ephemeral_models_are_not_run_on_their_own(per_invocation: int) -> None:
    graph = {"e": [], "b": ["e"], "c": ["b"]}
    invoker = FakeBatchInvoker()
    analyzer = make_analyzer(graph, materialized={"e": "ephemeral"})
    result = await ParallelExecutionEngine(analyzer, invoker, settings(2, per_invocation)).execute(
        list(graph), vars={}
    )
    assert result.success
    assert [r.name for r in result.results] == ["b", "c"]
    assert "e" not in invoker.calls


@pytest.mark.parametrize("per_invocation", batch_invoker_kinds())
async def test_fail_fast_starts_nothing_after_the_first_final_failure(per_invocation: int) -> None:
    """Issue #26.1: `b` fails; with one worker everything is one batch, and `c`, `d` (independent of `b`)
    used to run after it. Fail-fast: they never start, they are CANCELLED saying why, `b` is the one error."""
    graph: dict[str, list[str]] = {"a": [], "b": ["a"], "c": ["a"], "d": []}
    invoker = FakeBatchInvoker(script={"b": [fail("bad sql")]})
    engine = ParallelExecutionEngine(make_analyzer(graph), invoker, settings(1, per_invocation))
    result = await engine.execute(["a", "b", "c", "d"], vars={}, fail_fast=True)
    assert result.failed_fast == uid("b")
    assert [r.name for r in result.failed] == ["b"]
    ran = invoker.starts()
    assert ran[-1] == "b", f"started after b failed: {ran[ran.index('b') + 1 :]}"
    for r in result.results:
        if r.name not in ran:
            assert r.status is ModelStatus.CANCELLED and "failed fast after b failed" in (r.error or "")
    assert not result.success


@pytest.mark.parametrize("per_invocation", batch_invoker_kinds())
async def test_fail_fast_interrupts_the_other_workers_and_waits_for_a_retry_before_stopping(
    per_invocation: int,
) -> None:
    """A retryable failure with retries left does not stop the run (the retry succeeds); the final failure
    of `bad` interrupts the model running on the other worker, which is then not an error of its own."""
    gate = threading.Event()  # never opened: `slow` runs until the stop interrupts it
    graph: dict[str, list[str]] = {"flaky": [], "bad": ["flaky"], "slow": [], "after": ["slow"]}
    invoker = FakeBatchInvoker(
        gates={"slow": gate},
        script={"flaky": [fail("lock", retryable=True), OK], "bad": [fail("bad sql")]},
    )
    engine = ParallelExecutionEngine(
        make_analyzer(graph), invoker, settings(2, per_invocation, max_retries_per_model=1)
    )
    result = await engine.execute(list(graph), vars={}, fail_fast=True)
    assert result.result_for("flaky").status is ModelStatus.SUCCESS
    assert result.failed_fast == uid("bad")
    assert result.result_for("bad").status is ModelStatus.ERROR
    assert result.result_for("slow").status is ModelStatus.CANCELLED  # interrupted, not an error
    assert result.result_for("after").status is ModelStatus.CANCELLED
    assert "after" not in invoker.starts()
