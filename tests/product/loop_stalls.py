"""Measuring whether something blocks an event loop, apart from what stalls the whole process.

A heartbeat task on the loop wakes every `interval`; a late wake-up is a loop stall. Not every stall is the
loop's fault: a worker thread holding the GIL (a full garbage collection walking the heap, a long C call)
or an overloaded machine not scheduling the process stops every thread of the process, the loop with it —
on a loaded 2-core CI machine such stalls reached 300–500 ms (docs in the issue-#19 notes). A probe
*thread* sleeping `interval` at a time measures those at the same moments: while the whole process is
stalled the probe is late too. What blocks only the loop — a synchronous call on it, sleeping or
computing (the probe then still gets the GIL every switch interval) — leaves the probe on time.

`unexplained` is, for each loop stall, how much of it the probe was running on time: the part of the stall
that only the loop suffered. That is what a test bounds, so that a loaded machine does not fail it and a
blocking call on the loop does (tests/reliability/test_dbt_files.py proves both).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import anyio

Window = tuple[float, float]


@dataclass
class LoopStalls:
    """Run `heartbeat()` as a task on the loop under test for the span to measure; cancel it to stop."""

    interval: float = 0.01
    loop_windows: list[Window] = field(default_factory=list)
    probe_windows: list[Window] = field(default_factory=list)

    async def heartbeat(self) -> None:
        stop = threading.Event()
        probe = threading.Thread(target=self._probe, args=(stop,), name="loop-stall-probe", daemon=True)
        probe.start()
        try:
            last = time.monotonic()
            while True:
                await anyio.sleep(self.interval)
                now = time.monotonic()
                if now - last > 2 * self.interval:
                    self.loop_windows.append((last + self.interval, now))
                last = now
        finally:
            stop.set()
            probe.join()

    def _probe(self, stop: threading.Event) -> None:
        while not stop.is_set():
            before = time.monotonic()
            time.sleep(self.interval)
            after = time.monotonic()
            if after - before > 2 * self.interval:
                self.probe_windows.append((before + self.interval, after))

    def worst(self) -> float:
        """The longest loop stall, whatever its cause (seconds)."""
        return max((end - start for start, end in self.loop_windows), default=0.0)

    def unexplained(self) -> list[float]:
        """For each loop stall, the seconds of it during which the probe thread was not stalled."""
        out = []
        for start, end in self.loop_windows:
            shared = sum(
                max(0.0, min(end, p_end) - max(start, p_start)) for p_start, p_end in self.probe_windows
            )
            out.append(end - start - shared)
        return out

    def worst_unexplained(self) -> float:
        return max(self.unexplained(), default=0.0)

    def describe(self) -> str:
        return (
            f"loop blocked on its own for {self.worst_unexplained() * 1000:.0f} ms at worst; "
            f"longest loop stall {self.worst() * 1000:.0f} ms, longest whole-process stall "
            f"{max((e - s for s, e in self.probe_windows), default=0.0) * 1000:.0f} ms"
        )
