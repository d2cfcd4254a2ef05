"""The pure scheduler, the estimate that runs it over simulated time, and the engine's plan as the one
source of plans: what the engine dispatches is what the plan says it will dispatch."""

from __future__ import annotations

import random
from collections.abc import Collection
from pathlib import Path

import pytest

from planalign.engine.classification import ModelExecutionType
from planalign.engine.plan import topological
from planalign.engine.results import (
    EngineRunResult,
    ModelResult,
    ModelStatus,
    load_durations,
    write_run_results,
)
from planalign.engine.runner import EngineSettings, ParallelExecutionEngine
from planalign.engine.scheduler import Scheduler, TieBreak, remaining_paths, simulate

from .fakes import FakeBatchInvoker, FakeInvoker, make_analyzer, uid

SUCCESS = ModelStatus.SUCCESS


def scheduler(
    graph: dict[str, list[str]],
    *,
    alone: Collection[str] = (),
    batch_size: int = 1,
    weights: dict[str, float] | None = None,
) -> Scheduler:
    order = topological(graph)
    weights = weights or dict.fromkeys(order, 1.0)
    return Scheduler(
        order,
        graph,
        priority=remaining_paths(order, graph, weights),
        runs_alone={m: m in alone for m in order},
        batch_size=batch_size,
    )


def settings(workers: int, per_invocation: int = 1) -> EngineSettings:
    return EngineSettings(
        max_workers=workers,
        models_per_invocation=per_invocation,
        resource_monitoring=False,
        retry_backoff_s=0.0,
    )


def test_ready_models_start_by_longest_remaining_path_and_alone_models_wait_for_an_empty_engine() -> None:
    s = scheduler({"a": [], "b": [], "c": ["a"], "s": []}, alone={"s"})
    assert s.next_batch(4) == ("a",)  # a → c is the longest path
    assert s.next_batch(4) == ("b",)  # ties by unique_id: b before s
    assert s.next_batch(4) is None  # s runs alone: it waits, and nothing may pass it
    assert (s.in_flight, s.invocations_running) == (2, 2)
    s.resolve("a", SUCCESS)
    s.release(("a",))
    s.resolve("b", SUCCESS)
    s.release(("b",))
    assert s.next_batch(4) == ("c",)  # ready now, and sorts before s at the same priority
    assert s.next_batch(4) is None  # s still waits for an empty engine
    s.resolve("c", SUCCESS)
    s.release(("c",))
    assert s.next_batch(4) == ("s",)
    assert s.next_batch(4) is None  # nothing is left, and nothing would run next to s
    s.resolve("s", SUCCESS)
    s.release(("s",))
    assert s.done and s.resolution_order == ("a", "b", "c", "s")


def test_batches_share_ready_models_over_free_slots_and_take_chains_whole() -> None:
    s = scheduler({"a": [], "b": ["a"], "c": ["b"], "x": [], "y": [], "z": []}, batch_size=8)
    first = s.next_batch(2)
    # 4 ready models over 2 free slots: 2 ready ones, then the chain a's dependents wait only on.
    assert first == ("a", "b", "c", "x")
    assert s.next_batch(2) == ("y", "z")
    assert s.next_batch(2) is None  # both slots taken


def test_models_that_run_alone_are_batched_only_with_each_other() -> None:
    graph: dict[str, list[str]] = {"p": [], "r": ["p"], "t": ["r"], "s1": [], "s2": ["s1"], "q": ["s2"]}
    s = scheduler(graph, alone={"s1", "s2"}, batch_size=8)
    assert s.next_batch(4) == ("p", "r", "t")  # the parallel head takes its chain, never an alone model
    assert s.next_batch(4) is None  # s1 waits for p's batch to finish
    for m in ("p", "r", "t"):
        s.resolve(m, SUCCESS)
    s.release(("p", "r", "t"))
    assert s.next_batch(4) == ("s1", "s2")  # and its alone descendant, not the parallel q


def test_a_failure_skips_its_descendants_and_cancel_starts_nothing() -> None:
    s = scheduler({"a": [], "b": ["a"], "c": ["b"], "d": []})
    assert s.next_batch(1) == ("a",)
    s.resolve("a", ModelStatus.ERROR)
    seen: list[tuple[str, int]] = []
    assert s.skip_descendants("a", on_skip=lambda m: seen.append((m, len(s.resolution_order)))) == ["b", "c"]
    assert seen == [("b", 2), ("c", 3)]  # each is done when its callback runs
    s.release(("a",))
    assert s.status("c") is ModelStatus.SKIPPED and not s.stalled
    s.cancel()
    assert s.cancelled and s.next_batch(1) is None and s.stalled and s.unresolved() == ["d"]


def test_arrival_tie_break_orders_equal_priorities_by_when_they_became_ready() -> None:
    graph: dict[str, list[str]] = {"z": [], "a": ["z"], "y": []}
    order = topological(graph)
    s = Scheduler(
        order,
        graph,
        priority={"z": 2.0, "a": 1.0, "y": 1.0},
        runs_alone=dict.fromkeys(order, False),
        tie_break=TieBreak.ARRIVAL,
    )
    assert s.next_batch(1) == ("z",)
    s.resolve("z", SUCCESS)  # a becomes ready after y did
    s.release(("z",))
    assert s.next_batch(1) == ("y",)


def test_simulated_batches_run_their_models_one_after_another() -> None:
    graph: dict[str, list[str]] = {"a": [], "b": ["a"], "x": [], "y": []}
    weights = {"a": 1.0, "b": 1.0, "x": 1.0, "y": 1.0}
    single = simulate(scheduler(graph), weights, workers=2)
    assert single.makespan == 2 and len(single.batches) == 4
    batched = simulate(scheduler(graph, batch_size=8), weights, workers=2)
    # 3 ready over 2 slots: (a, x) with b joining, then y: the chain rides with a, behind x.
    assert batched.batches == (("a", "b", "x"), ("y",))
    assert batched.makespan == 3


async def test_the_plan_of_an_engine_is_what_it_executes() -> None:
    graph = {
        f"m{i:02d}": [f"m{p:02d}" for p in random.Random(i).sample(range(i), min(i, 2))] for i in range(24)
    }
    invoker = FakeBatchInvoker(duration=0.001)
    # One worker: each invocation ends before the next starts, so the real run is deterministic.
    engine = ParallelExecutionEngine(make_analyzer(graph), invoker, settings(1, per_invocation=5))
    plan = engine.plan(list(graph))
    assert plan.max_workers == 1 and plan.models_per_invocation == 5
    assert plan.estimated_speedup == 1
    result = await engine.execute(list(graph), vars={})
    assert result.success
    assert [[plan.names[m] for m in batch] for batch in plan.batches] == invoker.batches
    assert engine.last_plan == plan


def test_the_engine_plan_follows_workers_the_invoker_and_recorded_durations() -> None:
    graph: dict[str, list[str]] = {"a": [], "b": [], "c": ["a"], "d": ["b"], "e": []}
    ids = list(graph)
    wide = ParallelExecutionEngine(make_analyzer(graph), FakeInvoker(), settings(4))
    assert wide.plan(ids).estimated_speedup == pytest.approx(5 / 2)
    one = ParallelExecutionEngine(make_analyzer(graph), FakeInvoker(), settings(1))
    assert one.plan(ids).estimated_speedup == 1  # what `--no-parallel` runs
    serial = ParallelExecutionEngine(
        make_analyzer(graph), FakeInvoker(supports_concurrency=False), settings(4)
    )
    assert serial.plan(ids).max_workers == 1
    not_batching = ParallelExecutionEngine(
        make_analyzer(graph), FakeInvoker(), settings(4, per_invocation=64)
    )
    assert not_batching.plan(ids).models_per_invocation == 1  # a plain invoker runs one model per call
    weighted = ParallelExecutionEngine(
        make_analyzer(graph),
        FakeInvoker(),
        settings(4),
        durations={"e": 10.0, uid("a"): 1.0, "b": 1.0, "c": 1.0, "d": 1.0},
    )
    plan = weighted.plan(ids)
    assert plan.weighted and plan.critical_path == (uid("e"),)


def test_recorded_durations_are_read_back_from_a_results_file(tmp_path: Path) -> None:
    def run(seconds: float, status: ModelStatus) -> EngineRunResult:
        model = ModelResult(uid("a"), "a", status, "parallel_safe", duration_s=seconds)
        return EngineRunResult((model,), 1.0, 1.0, 1.0, 1, 1.0, 1)

    path = tmp_path / "engine_runs.json"
    write_run_results(path, [run(2.0, SUCCESS), run(9.0, ModelStatus.ERROR), run(3.0, SUCCESS)])
    assert load_durations(path) == {uid("a"): 3.0}  # the latest success
    assert load_durations(tmp_path / "missing.json") == {}
    path.write_text("{not json")
    assert load_durations(path) == {}


def test_conditional_models_run_alone_in_the_estimate_unless_enabled() -> None:
    graph: dict[str, list[str]] = {f"m{i}": [] for i in range(4)}
    analyzer = make_analyzer(graph, default_class=ModelExecutionType.CONDITIONAL)
    assert analyzer.plan(list(graph), max_workers=4, models_per_invocation=8).estimated_speedup == 1
    parallel = analyzer.plan(
        list(graph), max_workers=4, models_per_invocation=8, enable_conditional_parallelization=True
    )
    assert parallel.estimated_speedup == 4 and len(parallel.batches) == 4
