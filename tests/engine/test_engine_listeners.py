"""Listeners per call (issue #24 item 4): one engine serves several runs at once, each shown by its own
display, so each `execute` call gets the listeners of its own run and no other run's events."""

from __future__ import annotations

import threading
from pathlib import Path

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


def test_a_simulation_runs_engine_events_become_its_own_progress_events(tmp_path: Path) -> None:
    """The orchestrator gives each engine call its run's recorder as the listener (`build.engine_progress`,
    which replaced a context variable): the events come out tagged with that run's year and stage."""
    from planalign.engine.events import EngineEvent as Event
    from planalign.simulation.build import engine_progress
    from planalign.simulation.config_loading import load_simulation_config
    from planalign.simulation.events import ProgressEvent
    from planalign.simulation.run_directory import RunRecorder

    config = load_simulation_config(None, overrides={"run.runs_dir": str(tmp_path)})
    mine: list[ProgressEvent] = []
    other: list[ProgressEvent] = []
    run = RunRecorder(config, 2025, 2026, mine.append)
    run.current = (2026, "foundation")
    other_run = RunRecorder(config, 2025, 2026, other.append)
    other_run.current = (2025, "validation")
    event = Event(
        kind=EngineEventKind.MODEL_STARTED, time=0.0, at="", in_flight=1, limit=2, unique_id=uid("a1")
    )
    engine_progress(run, event)
    engine_progress(run, Event(kind=EngineEventKind.FALLBACK, time=0.0, at="", in_flight=0, limit=1))
    assert [(e.kind, e.year, e.stage, e.unique_id) for e in mine] == [
        ("model_started", 2026, "foundation", uid("a1"))
    ]
    assert other == []
