"""MemoryWatchdog driven by a scripted memory probe, and the engine honouring the reduced limit."""

from __future__ import annotations

import threading

import anyio
import pytest

from planalign.engine.runner import (
    EngineEvent,
    EngineEventKind,
    EngineSettings,
    ParallelExecutionEngine,
)
from planalign.engine.watchdog import (
    MemorySample,
    MemoryWatchdog,
    PressureEvent,
    PsutilMemoryProbe,
    format_duckdb_memory_limit,
)

from .fakes import FakeBatchInvoker, FakeInvoker, make_analyzer

LIMIT = 1000.0


class ScriptedProbe:
    """Returns `samples` in turn (the last repeats); with none, a comfortable reading."""

    def __init__(self, *samples: MemorySample) -> None:
        self.samples = list(samples) or [MemorySample(rss_mb=10.0, available_mb=10_000.0)]
        self.taken = 0

    def sample(self) -> MemorySample:
        self.taken += 1
        return self.samples[min(self.taken, len(self.samples)) - 1]


def rss(mb: float) -> MemorySample:
    return MemorySample(rss_mb=mb, available_mb=10_000.0)


async def test_drops_to_one_and_restores_with_hysteresis() -> None:
    limiter = anyio.CapacityLimiter(4)
    probe = ScriptedProbe(rss(500), rss(1100), rss(900), rss(850), rss(700), rss(700))
    seen: list[PressureEvent] = []
    dog = MemoryWatchdog(limiter, probe, LIMIT, restore_below_fraction=0.8, on_event=seen.append)
    assert dog.check() is None and limiter.total_tokens == 4
    event = dog.check()
    assert event is not None and event.kind == "pressure"
    assert (event.limit_before, event.limit_after, limiter.total_tokens) == (4, 1, 1)
    assert "RSS 1100" in event.reason
    assert dog.check() is None and limiter.total_tokens == 1  # 900: below the limit, above 80 %
    assert dog.check() is None and limiter.total_tokens == 1  # 850: still above 800
    relieved = dog.check()
    assert relieved is not None and relieved.kind == "relieved" and limiter.total_tokens == 4
    assert dog.check() is None
    assert dog.events == seen == [event, relieved]


async def test_low_system_memory_is_pressure_too() -> None:
    limiter = anyio.CapacityLimiter(3)
    probe = ScriptedProbe(
        MemorySample(rss_mb=10, available_mb=100),
        MemorySample(rss_mb=10, available_mb=600),  # above 512 but below 512 / 0.8 = 640
        MemorySample(rss_mb=10, available_mb=700),
    )
    dog = MemoryWatchdog(limiter, probe, LIMIT, min_available_mb=512)
    assert dog.check() is not None and limiter.total_tokens == 1
    assert dog.check() is None
    assert dog.check() is not None and limiter.total_tokens == 3


async def test_observe_only_records_without_changing_the_limit() -> None:
    limiter = anyio.CapacityLimiter(4)
    dog = MemoryWatchdog(limiter, ScriptedProbe(rss(2000)), LIMIT, act=False)
    event = dog.check()
    assert event is not None and not event.acted
    assert limiter.total_tokens == 4 and event.limit_after == 4


def test_invalid_watchdog_arguments() -> None:
    with pytest.raises(ValueError):
        MemoryWatchdog(anyio.CapacityLimiter(1), ScriptedProbe(), LIMIT, restore_below_fraction=1.5)


def test_psutil_probe_reads_real_numbers() -> None:
    sample = PsutilMemoryProbe().sample()
    assert sample.rss_mb > 0 and sample.available_mb > 0


def test_duckdb_memory_limit_format() -> None:
    assert format_duckdb_memory_limit(4000.0) == "4000MB"


class PressureUntil:
    """Reports pressure until `relieve` is set, then a comfortable reading."""

    def __init__(self) -> None:
        self.relieve = threading.Event()

    def sample(self) -> MemorySample:
        return rss(10) if self.relieve.is_set() else rss(5000)


async def test_engine_honours_the_reduced_limit_and_restores_it() -> None:
    graph: dict[str, list[str]] = {f"m{i}": [] for i in range(6)}
    graph["z_last"] = []
    probe = PressureUntil()
    under_pressure = threading.Event()
    relieved = threading.Event()
    events: list[EngineEvent] = []
    concurrent_under_pressure: list[int] = []

    def on_event(event: EngineEvent) -> None:
        events.append(event)
        if event.kind is EngineEventKind.LIMIT_CHANGED:
            (relieved if event.limit == 4 else under_pressure).set()
        if event.kind is EngineEventKind.MODEL_FINISHED and event.name == "m5":
            probe.relieve.set()

    invoker = FakeInvoker(duration=0.01, gates={"z_last": relieved})
    original = invoker.run_model

    def recording_run_model(node, *, vars):  # type: ignore[no-untyped-def]
        if under_pressure.is_set() and not relieved.is_set():
            concurrent_under_pressure.append(invoker.in_flight + 1)
        return original(node, vars=vars)

    invoker.run_model = recording_run_model  # type: ignore[method-assign]
    settings = EngineSettings(max_workers=4, retry_backoff_s=0.0, watchdog_interval_s=0.005)
    engine = ParallelExecutionEngine(make_analyzer(graph), invoker, settings, memory_probe=probe)
    result = await engine.execute(list(graph), vars={}, listeners=[on_event])
    assert result.success
    assert concurrent_under_pressure and max(concurrent_under_pressure) == 1
    assert [e.kind for e in result.pressure_events] == ["pressure", "relieved"]
    assert [(c.limit, c.reason) for c in result.limit_changes] == [
        (4, "start"),
        (1, "pressure"),
        (4, "relieved"),
    ]
    assert any("memory pressure" in f for f in result.fallbacks)
    assert [e.limit for e in events if e.kind is EngineEventKind.LIMIT_CHANGED] == [1, 4]


async def test_under_pressure_batches_run_one_invocation_at_a_time() -> None:
    """The limit counts invocations: under pressure one batch at a time, however many models it holds."""
    graph: dict[str, list[str]] = {"a0": []}
    graph.update({f"m{i}": ["a0"] for i in range(8)})
    probe = PressureUntil()
    under_pressure = threading.Event()
    lock = threading.Lock()
    active = 0
    seen_under_pressure: list[int] = []

    def on_event(event: EngineEvent) -> None:
        if event.kind is EngineEventKind.LIMIT_CHANGED and event.limit == 1:
            under_pressure.set()

    class Recording(FakeBatchInvoker):
        def run_models(self, nodes, *, vars):  # type: ignore[no-untyped-def]
            nonlocal active
            with lock:
                active += 1
                if under_pressure.is_set():
                    seen_under_pressure.append(active)
            try:
                return super().run_models(nodes, vars=vars)
            finally:
                with lock:
                    active -= 1

    invoker = Recording(duration=0.01, gates={"a0": under_pressure})
    settings = EngineSettings(
        max_workers=4, models_per_invocation=2, retry_backoff_s=0.0, watchdog_interval_s=0.005
    )
    engine = ParallelExecutionEngine(make_analyzer(graph), invoker, settings, memory_probe=probe)
    result = await engine.execute(list(graph), vars={}, listeners=[on_event])
    assert result.success
    assert len(seen_under_pressure) >= 4 and max(seen_under_pressure) == 1
    assert all(len(b) <= 2 for b in invoker.batches)
