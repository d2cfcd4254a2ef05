"""Listeners per call (issue #24 item 4): one engine serves several runs at once, each shown by its own
display, so each `execute` call gets the listeners of its own run and no other run's events."""

from __future__ import annotations

import threading

import anyio

from planalign.engine.runner import EngineEvent, EngineEventKind, EngineSettings, ParallelExecutionEngine

from .fakes import FakeInvoker, intervals, make_analyzer, uid

GRAPH = {"a1": [], "a2": ["a1"], "b1": [], "b2": ["b1"]}


class _Meet(threading.Barrier):
    """Both first models wait here for each other, so the two runs are in flight at once whatever the load
    (no wall-clock bound: the generous timeout only keeps a broken engine from hanging the suite)."""

    def wait(self, timeout: float | None = None) -> int:
        return super().wait(timeout=300)


async def test_two_concurrent_runs_of_one_engine_each_receive_only_their_own_events() -> None:
    meet = _Meet(2)
    invoker = FakeInvoker(barriers={"a1": meet, "b1": meet}, duration=0.0)
    engine = ParallelExecutionEngine(make_analyzer(GRAPH), invoker, EngineSettings(max_workers=4))
    seen: dict[str, list[EngineEvent]] = {"A": [], "B": []}
    both: list[EngineEvent] = []

    async def run(label: str, models: list[str]) -> None:
        result = await engine.execute(
            models, vars={}, label=label, listeners=[seen[label].append, both.append]
        )
        assert result.success, result

    async with anyio.create_task_group() as tg:
        tg.start_soon(run, "A", ["a1", "a2"])
        tg.start_soon(run, "B", ["b1", "b2"])

    spans = intervals(invoker.log)
    assert spans["a1"][0] < spans["b1"][1] and spans["b1"][0] < spans["a1"][1]  # the runs overlapped
    for label, own in (("A", {"a1", "a2"}), ("B", {"b1", "b2"})):
        events = seen[label]
        assert {e.label for e in events} == {label}
        started = {e.name for e in events if e.kind is EngineEventKind.MODEL_STARTED}
        finished = {e.unique_id for e in events if e.kind is EngineEventKind.MODEL_FINISHED}
        assert started == own and finished == {uid(n) for n in own}
    # a listener given to both calls receives both runs' events
    assert len(both) == len(seen["A"]) + len(seen["B"])


async def test_a_run_without_listeners_delivers_nothing_to_an_earlier_runs_listener() -> None:
    engine = ParallelExecutionEngine(make_analyzer(GRAPH), FakeInvoker(duration=0.0), EngineSettings())
    first: list[EngineEvent] = []
    await engine.execute(["a1"], vars={}, listeners=[first.append])
    count = len(first)
    assert count > 0
    await engine.execute(["b1"], vars={})
    assert len(first) == count
