"""The memory watchdog: an anyio task that drops the engine's concurrency limit to 1 under memory pressure.

Several DuckDB queries in one process can together exhaust memory where each alone would fit. The watchdog
samples the process RSS and the system's available memory every `interval_s`; when RSS exceeds
`memory_limit_mb` or available memory falls below `min_available_mb` it sets the limiter's `total_tokens` to
1 (running models finish; no new one starts until in-flight work drains below the new limit). It restores the
original limit only once RSS is below `restore_below_fraction × memory_limit_mb` *and* available memory is
above `min_available_mb ÷ restore_below_fraction` — a gap (hysteresis) so the limit does not flap around the
threshold.

The watchdog only bounds concurrency. Making DuckDB itself spill instead of running out of memory is a DuckDB
setting (`SET memory_limit = '…'`); `format_duckdb_memory_limit` gives its value, applied by the dbt side.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import anyio
import psutil

from planalign.engine.results import PressureEvent

__all__ = [
    "MemoryProbe",
    "MemorySample",
    "MemoryWatchdog",
    "PressureEvent",
    "PsutilMemoryProbe",
    "format_duckdb_memory_limit",
]

#: Below this much free system memory the watchdog reports pressure whatever the process uses.
DEFAULT_MIN_AVAILABLE_MB = 512.0


@dataclass(frozen=True)
class MemorySample:
    rss_mb: float
    available_mb: float


class MemoryProbe(Protocol):
    """Where the watchdog reads memory from: psutil in production, a scripted fake in tests."""

    def sample(self) -> MemorySample: ...


class PsutilMemoryProbe:
    """This process's resident set size and the system's available memory, via psutil."""

    def __init__(self, pid: int | None = None) -> None:
        self._process = psutil.Process(pid)

    def sample(self) -> MemorySample:
        rss = self._process.memory_info().rss
        available = psutil.virtual_memory().available
        return MemorySample(rss_mb=rss / 2**20, available_mb=available / 2**20)


class _Limiter(Protocol):
    """The part of `anyio.CapacityLimiter` the watchdog uses."""

    total_tokens: float


def format_duckdb_memory_limit(memory_limit_mb: float) -> str:
    """DuckDB's `memory_limit` value for a limit in MiB, e.g. 4000.0 → "4000MB" (for `SET memory_limit`)."""
    return f"{max(1, int(memory_limit_mb))}MB"


class MemoryWatchdog:
    """Drops `limiter` to 1 under memory pressure and restores it with hysteresis (see the module docstring).

    `check()` is one synchronous evaluation (what the loop in `run()` calls, and what tests drive directly).
    With `act=False` the watchdog records pressure events but leaves the limit alone — the engine's
    `fallback_on_resource_pressure=False`. `on_event` is called, in the event loop, for every transition.
    `origin` is the (clock reading, epoch seconds) pair that event offsets count from.
    """

    def __init__(
        self,
        limiter: _Limiter,
        probe: MemoryProbe,
        memory_limit_mb: float,
        *,
        interval_s: float = 0.5,
        min_available_mb: float = DEFAULT_MIN_AVAILABLE_MB,
        restore_below_fraction: float = 0.8,
        on_event: Callable[[PressureEvent], None] | None = None,
        act: bool = True,
        clock: Callable[[], float] = time.monotonic,
        origin: tuple[float, float] | None = None,
    ) -> None:
        if not 0 < restore_below_fraction <= 1:
            raise ValueError(f"restore_below_fraction must be in (0, 1], got {restore_below_fraction}")
        if memory_limit_mb <= 0 or interval_s <= 0:
            raise ValueError("memory_limit_mb and interval_s must be positive")
        self.limiter = limiter
        self.probe = probe
        self.memory_limit_mb = memory_limit_mb
        self.interval_s = interval_s
        self.min_available_mb = min_available_mb
        self.restore_below_fraction = restore_below_fraction
        self.on_event = on_event
        self.act = act
        self._clock = clock
        # (clock reading, epoch seconds) of time zero, so event offsets line up with the engine's timeline.
        self._started, self._started_wall = origin if origin is not None else (clock(), time.time())
        self.normal_limit = int(limiter.total_tokens)
        self.under_pressure = False
        self.events: list[PressureEvent] = []
        self.last_sample: MemorySample | None = None

    def _pressure_reason(self, sample: MemorySample) -> str | None:
        if sample.rss_mb > self.memory_limit_mb:
            return f"process RSS {sample.rss_mb:.0f} MB above memory_limit_mb {self.memory_limit_mb:.0f}"
        if sample.available_mb < self.min_available_mb:
            return f"system available memory {sample.available_mb:.0f} MB below {self.min_available_mb:.0f}"
        return None

    def _relieved(self, sample: MemorySample) -> bool:
        return (
            sample.rss_mb < self.memory_limit_mb * self.restore_below_fraction
            and sample.available_mb > self.min_available_mb / self.restore_below_fraction
        )

    def check(self) -> PressureEvent | None:
        """Sample once; change the limit and return the event if the state changed, else None."""
        sample = self.probe.sample()
        self.last_sample = sample
        if not self.under_pressure:
            reason = self._pressure_reason(sample)
            if reason is None:
                return None
            self.under_pressure = True
            return self._transition("pressure", sample, 1, reason)
        if not self._relieved(sample):
            return None
        self.under_pressure = False
        reason = (
            f"process RSS {sample.rss_mb:.0f} MB below {self.restore_below_fraction:.0%} of the limit and "
            f"{sample.available_mb:.0f} MB available"
        )
        return self._transition("relieved", sample, self.normal_limit, reason)

    def _transition(self, kind: str, sample: MemorySample, target: int, reason: str) -> PressureEvent:
        before = int(self.limiter.total_tokens)
        if self.act:
            self.limiter.total_tokens = target
        offset = self._clock() - self._started
        event = PressureEvent(
            kind=kind,
            at=datetime.fromtimestamp(self._started_wall + offset, tz=UTC).isoformat(),
            offset_s=offset,
            rss_mb=sample.rss_mb,
            available_mb=sample.available_mb,
            limit_before=before,
            limit_after=int(self.limiter.total_tokens),
            reason=reason,
            acted=self.act,
        )
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)
        return event

    async def run(self) -> None:
        """Check every `interval_s` until cancelled (the engine cancels it when the run ends)."""
        while True:
            self.check()
            await anyio.sleep(self.interval_s)
