"""ParallelExecutionEngine scheduling with fake invokers: order, concurrency, classes, determinism."""

from __future__ import annotations

import threading
from collections.abc import Mapping

import pytest

from planalign.engine.classification import ModelExecutionType
from planalign.engine.results import ModelStatus
from planalign.engine.runner import (
    EngineEvent,
    EngineEventKind,
    EngineSettings,
    ParallelExecutionEngine,
    duckdb_memory_limit_setting,
)
from planalign.errors import DependencyCycleError, ExecutionSafetyError, SelectionError

from .fakes import FakeInvoker, intervals, make_analyzer, overlaps, uid

WORKERS = [1, 4]

# Two roots fan out into a layered DAG with a join at the end.
LAYERED: Mapping[str, list[str]] = {
    "r1": [],
    "r2": [],
    "a1": ["r1"],
    "a2": ["r1"],
    "a3": ["r2"],
    "b1": ["a1", "a2"],
    "b2": ["a3"],
    "b3": ["a2", "a3"],
    "c1": ["b1", "b2", "b3"],
    "solo": [],
}


def settings(workers: int, **overrides: object) -> EngineSettings:
    base: dict[str, object] = {"max_workers": workers, "resource_monitoring": False, "retry_backoff_s": 0.0}
    base.update(overrides)
    return EngineSettings(**base)  # type: ignore[arg-type]


def assert_dependency_order(log: list[tuple[str, str]], graph: Mapping[str, list[str]]) -> None:
    spans = intervals(log)
    for model, deps in graph.items():
        for dep in deps:
            assert spans[dep][1] < spans[model][0], f"{model} started before {dep} finished"


@pytest.mark.parametrize("workers", WORKERS)
async def test_every_model_runs_once_after_its_dependencies(workers: int) -> None:
    invoker = FakeInvoker()
    engine = ParallelExecutionEngine(make_analyzer(LAYERED), invoker, settings(workers))
    result = await engine.execute(list(LAYERED), vars={"simulation_year": 2025}, label="stage")
    assert result.success
    assert invoker.calls == dict.fromkeys(LAYERED, 1)
    assert_dependency_order(invoker.log, LAYERED)
    assert invoker.max_in_flight <= workers
    assert result.parallelism_max <= workers
    assert all(v == {"simulation_year": 2025} for v in invoker.seen_vars)
    assert [r.unique_id for r in result.results] == list(engine.last_plan.model_ids)  # type: ignore[union-attr]
    assert all(r.attempts == 1 and r.label == "stage" for r in result.results)
    assert all(r.worker is not None and 0 <= r.worker < workers for r in result.results)


async def test_models_really_run_concurrently_up_to_max_workers() -> None:
    graph: dict[str, list[str]] = {f"m{i}": [] for i in range(8)}
    barrier = threading.Barrier(4)  # breaks (and fails the models) unless 4 run at once
    invoker = FakeInvoker(barriers={f"m{i}": barrier for i in range(4)})
    result = await ParallelExecutionEngine(make_analyzer(graph), invoker, settings(4)).execute(
        list(graph), vars={}
    )
    assert not barrier.broken
    assert result.success
    assert invoker.max_in_flight == 4
    assert result.parallelism_max == 4
    assert 1 < result.parallelism_mean <= 4


async def test_no_wave_barrier_a_ready_model_starts_while_an_unrelated_slow_one_runs() -> None:
    graph = {"slow": [], "a": [], "b": ["a"], "c": ["b"]}
    release = threading.Event()

    def on_event(event: EngineEvent) -> None:
        if event.kind is EngineEventKind.MODEL_FINISHED and event.name == "c":
            release.set()

    invoker = FakeInvoker(gates={"slow": release})
    engine = ParallelExecutionEngine(make_analyzer(graph), invoker, settings(2))
    result = await engine.execute(list(graph), vars={}, listeners=[on_event])
    assert result.success
    spans = intervals(invoker.log)
    assert spans["c"][1] < spans["slow"][1]  # the whole chain finished while slow was still running


@pytest.mark.parametrize("workers", WORKERS)
async def test_sequential_models_run_alone(workers: int) -> None:
    classes = {"a2": "sequential", "b2": "sequential", "solo": "sequential"}
    invoker = FakeInvoker()
    engine = ParallelExecutionEngine(make_analyzer(LAYERED, classes=classes), invoker, settings(workers))
    result = await engine.execute(list(LAYERED), vars={})
    assert result.success
    spans = intervals(invoker.log)
    for seq in classes:
        for other in LAYERED:
            if other != seq:
                assert not overlaps(spans[seq], spans[other]), f"{other} ran during sequential {seq}"
    assert_dependency_order(invoker.log, LAYERED)


async def test_conditional_models_run_alone_unless_enabled() -> None:
    graph: dict[str, list[str]] = {"c1": [], "c2": [], "c3": [], "p1": []}
    analyzer = make_analyzer(
        graph, default_class=ModelExecutionType.CONDITIONAL, classes={"p1": "parallel_safe"}
    )

    invoker = FakeInvoker()
    await ParallelExecutionEngine(analyzer, invoker, settings(4)).execute(list(graph), vars={})
    spans = intervals(invoker.log)
    assert not any(overlaps(spans[a], spans[b]) for a in graph for b in graph if a < b)

    barrier = threading.Barrier(3)
    enabled = FakeInvoker(barriers={"c1": barrier, "c2": barrier, "c3": barrier})
    engine = ParallelExecutionEngine(analyzer, enabled, settings(4, enable_conditional_parallelization=True))
    result = await engine.execute(list(graph), vars={})
    assert result.success and not barrier.broken
    assert enabled.max_in_flight >= 3


async def test_single_worker_is_a_deterministic_topological_order_with_critical_path_priority() -> None:
    graph = {"a": [], "b": [], "c": [], "d": ["c"]}
    invoker = FakeInvoker()
    await ParallelExecutionEngine(make_analyzer(graph), invoker, settings(1)).execute(list(graph), vars={})
    # c heads the longest remaining path (c → d); then ties by unique_id
    assert invoker.starts() == ["c", "a", "b", "d"]


async def test_recorded_durations_change_priorities() -> None:
    graph: dict[str, list[str]] = {"a": [], "b": [], "c": []}
    invoker = FakeInvoker()
    engine = ParallelExecutionEngine(
        make_analyzer(graph), invoker, settings(1), durations={"a": 1.0, "b": 5.0, "c": 3.0}
    )
    await engine.execute(list(graph), vars={})
    assert invoker.starts() == ["b", "c", "a"]


@pytest.mark.parametrize("workers", WORKERS)
async def test_shuffled_dispatch_changes_order_not_results(workers: int) -> None:
    baseline_invoker = FakeInvoker(duration=0.0)
    baseline = await ParallelExecutionEngine(
        make_analyzer(LAYERED), baseline_invoker, settings(workers)
    ).execute(list(LAYERED), vars={})
    orders = set()
    for seed in range(8):
        invoker = FakeInvoker(duration=0.0)
        result = await ParallelExecutionEngine(
            make_analyzer(LAYERED), invoker, settings(workers, shuffle_dispatch_seed=seed)
        ).execute(list(LAYERED), vars={})
        assert_dependency_order(invoker.log, LAYERED)
        assert [(r.unique_id, r.status) for r in result.results] == [
            (r.unique_id, r.status) for r in baseline.results
        ]
        orders.add(tuple(invoker.starts()))
    if workers == 1:  # with one worker the start order is the dispatch order
        assert len(orders) > 1


async def test_non_deterministic_mode_lists_results_in_completion_order() -> None:
    graph = {"a": [], "b": [], "c": ["a"]}
    invoker = FakeInvoker()
    result = await ParallelExecutionEngine(
        make_analyzer(graph), invoker, settings(1, deterministic_execution=False)
    ).execute(list(graph), vars={})
    assert [r.name for r in result.results] == [name for kind, name in invoker.log if kind == "end"]


async def test_fallback_to_sequential_when_the_invoker_cannot_run_concurrently() -> None:
    events: list[EngineEvent] = []
    invoker = FakeInvoker(supports_concurrency=False)
    engine = ParallelExecutionEngine(make_analyzer(LAYERED), invoker, settings(4))
    result = await engine.execute(list(LAYERED), vars={}, listeners=[events.append])
    assert result.success
    assert invoker.max_in_flight == 1
    assert result.effective_max_workers == 1 and result.max_workers == 4
    assert len(result.fallbacks) == 1 and "concurrently" in result.fallbacks[0]
    assert [e.kind for e in events].count(EngineEventKind.FALLBACK) == 1


async def test_unsafe_selection_aborts_or_falls_back() -> None:
    analyzer = make_analyzer(LAYERED)
    with pytest.raises(ExecutionSafetyError, match="b1 depends on a1"):
        await ParallelExecutionEngine(analyzer, FakeInvoker(), settings(4)).execute(["b1"], vars={})

    invoker = FakeInvoker()
    lenient = settings(4, abort_on_dependency_conflict=False)
    result = await ParallelExecutionEngine(analyzer, invoker, lenient).execute(["b1", "b2", "b3"], vars={})
    assert result.effective_max_workers == 1 and invoker.max_in_flight == 1
    assert "safety validation failed" in result.fallbacks[0]

    already_sequential = settings(1, abort_on_dependency_conflict=False)
    result = await ParallelExecutionEngine(analyzer, FakeInvoker(), already_sequential).execute(
        ["b1"], vars={}
    )
    assert result.success and "safety validation failed" in result.fallbacks[0]

    built = ["a1", "a2", "a3"]
    result = await ParallelExecutionEngine(analyzer, FakeInvoker(), settings(4)).execute(
        ["b1", "b2", "b3"], vars={}, already_built=built
    )
    assert result.success and not result.fallbacks


async def test_bad_usage_raises_before_anything_runs() -> None:
    invoker = FakeInvoker()
    with pytest.raises(SelectionError):
        await ParallelExecutionEngine(make_analyzer(LAYERED), invoker, settings(4)).execute(["nope"], vars={})
    cyclic = make_analyzer({"a": ["b"], "b": ["a"], "c": []})
    with pytest.raises(DependencyCycleError, match="a → b → a"):
        await ParallelExecutionEngine(cyclic, invoker, settings(4)).execute([uid("c")], vars={})
    assert invoker.calls == {}


async def test_empty_selection_is_a_successful_empty_run() -> None:
    result = await ParallelExecutionEngine(make_analyzer(LAYERED), FakeInvoker(), settings(4)).execute(
        [], vars={}
    )
    assert result.success and result.results == ()


async def test_events_describe_each_model_start_and_finish() -> None:
    events: list[EngineEvent] = []
    engine = ParallelExecutionEngine(make_analyzer(LAYERED), FakeInvoker(), settings(4))
    await engine.execute(list(LAYERED), vars={}, label="foundation", listeners=[events.append])
    started = [e for e in events if e.kind is EngineEventKind.MODEL_STARTED]
    finished = [e for e in events if e.kind is EngineEventKind.MODEL_FINISHED]
    assert sorted(e.name or "" for e in started) == sorted(LAYERED)
    assert all(e.status is ModelStatus.SUCCESS and e.label == "foundation" for e in finished)
    assert all(1 <= e.in_flight <= 4 and e.limit == 4 for e in started)
    assert [e.time for e in events] == sorted(e.time for e in events)


async def test_a_failing_event_callback_does_not_abort_the_run() -> None:
    calls: list[EngineEvent] = []

    def broken(event: EngineEvent) -> None:
        calls.append(event)
        raise ValueError("display crashed")

    others: list[EngineEvent] = []
    engine = ParallelExecutionEngine(make_analyzer(LAYERED), FakeInvoker(), settings(4))
    result = await engine.execute(list(LAYERED), vars={}, listeners=[broken, others.append])
    assert result.success and len(result.results) == len(LAYERED)
    assert len(calls) == 1  # disabled after its first failure, which was logged
    assert len(others) > 1  # the other listener goes on receiving
    # per run: the next run of the same engine calls it again
    await engine.execute(list(LAYERED), vars={}, listeners=[broken])
    assert len(calls) == 2


async def test_memory_limit_is_handed_to_the_invoker_when_monitoring() -> None:
    class Recording(FakeInvoker):
        def __init__(self) -> None:
            super().__init__()
            self.applied: list[str] = []

        def apply_duckdb_memory_limit(self, value: str) -> None:
            self.applied.append(value)

    from .test_watchdog import ScriptedProbe

    invoker = Recording()
    monitored = EngineSettings(max_workers=2, memory_limit_mb=1234.5)
    await ParallelExecutionEngine(
        make_analyzer({"a": []}), invoker, monitored, memory_probe=ScriptedProbe()
    ).execute(["a"], vars={})
    assert invoker.applied == ["1234MB"]
    assert duckdb_memory_limit_setting(monitored) == "1234MB"
    assert duckdb_memory_limit_setting(settings(2)) is None


async def test_max_workers_above_anyios_default_thread_limit() -> None:
    graph: dict[str, list[str]] = {f"m{i:02d}": [] for i in range(45)}
    barrier = threading.Barrier(45)  # anyio's default thread limiter (40) would break it
    invoker = FakeInvoker(barriers=dict.fromkeys(graph, barrier))
    result = await ParallelExecutionEngine(make_analyzer(graph), invoker, settings(45)).execute(
        list(graph), vars={}
    )
    assert result.success and not barrier.broken
    assert result.parallelism_max == 45
