"""Measuring whether something blocks an event loop, apart from what stalls the whole process.

A heartbeat task on the loop wakes every `interval`; a late wake-up is a loop stall. Not every stall is the
loop's fault: a worker thread holding the GIL (a full garbage collection walking the heap, a long C call)
or an overloaded machine not scheduling the process keeps every thread of the process waiting, the loop
with it, although the loop has nothing to do — on a loaded 2-core CI machine such stalls reached 300–900 ms
(issue #19, item 10). A probe thread wakes every `interval` too and looks at what the loop's thread is
doing (`sys._current_frames`): waiting in the selector (idle: it only waits for the GIL or the CPU), or
running something. The loop's *own* stall is the time the probe saw its thread running something inside a
stall (between two wake-ups that both saw it running; after a wake-up so late that the whole process was
stalled, only two intervals): a
synchronous call on the loop, sleeping or computing — the probe still wakes while it lasts (a sleep releases
the GIL, and a computation hands it over every switch interval).

`unexplained` gives, for each loop stall, that busy time; a test bounds it, so that a loaded machine does
not fail the test and a blocking call on the loop does (tests/reliability/test_dbt_files.py proves both).
Works with asyncio's selector loops (the loop's Python frames are what the probe reads).
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from types import FrameType

import anyio

Window = tuple[float, float]


def _where(frame: FrameType | None, depth: int = 4) -> str:
    parts: list[str] = []
    while frame is not None and len(parts) < depth:
        parts.append(
            f"{frame.f_code.co_name} ({frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno})"
        )
        frame = frame.f_back
    return " < ".join(parts)


def _idle(frame: FrameType | None) -> bool:
    """Whether the loop's thread is in its selector's `select` — waiting for events, or for the GIL/CPU
    right after them."""
    return frame is not None and frame.f_code.co_name == "select" and "selectors" in frame.f_code.co_filename


@dataclass
class LoopStalls:
    """Run `heartbeat()` as a task on the loop under test for the span to measure; cancel it to stop."""

    interval: float = 0.01
    process_stall_s: float = 0.05
    """How late the probe's own wake-up must be to count as a stall of the whole process."""
    loop_windows: list[Window] = field(default_factory=list)
    busy_windows: list[Window] = field(default_factory=list)
    """Spans (previous probe wake-up, or two intervals back after a stall of the whole process, to this
    one) at both ends of which the probe saw the loop's thread running."""
    busy_where: list[str] = field(default_factory=list)
    """For each busy window, where the loop's thread was (its innermost frames)."""

    async def heartbeat(self) -> None:
        stop = threading.Event()
        loop_thread = threading.get_ident()
        probe = threading.Thread(
            target=self._probe, args=(stop, loop_thread), name="loop-stall-probe", daemon=True
        )
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

    def _probe(self, stop: threading.Event, loop_thread: int) -> None:
        last = time.monotonic()
        was_busy = False
        while not stop.is_set():
            time.sleep(self.interval)
            now = time.monotonic()
            frame = sys._current_frames().get(loop_thread)
            busy = not _idle(frame)
            # The loop was running through the span only if it was at both ends; and when the probe itself
            # woke late, the whole process was stalled (the loop's thread may have been seized mid-callback),
            # which is not the loop's doing: only the last two intervals count then.
            if busy and was_busy:
                late = now - last - self.interval > self.process_stall_s
                self.busy_windows.append((now - 2 * self.interval if late else last, now))
                self.busy_where.append(_where(frame))
            was_busy = busy
            last = now

    def worst(self) -> float:
        """The longest loop stall, whatever its cause (seconds)."""
        return max((end - start for start, end in self.loop_windows), default=0.0)

    def unexplained(self) -> list[float]:
        """For each loop stall, the seconds of it during which the loop's thread was seen running."""
        return [
            sum(max(0.0, min(end, b_end) - max(start, b_start)) for b_start, b_end in self.busy_windows)
            for start, end in self.loop_windows
        ]

    def worst_unexplained(self) -> float:
        return max(self.unexplained(), default=0.0)

    def describe(self) -> str:
        spans = self.unexplained()
        where = ""
        if spans and max(spans) > 0:
            start, end = self.loop_windows[spans.index(max(spans))]
            seen = {
                w
                for (b_start, b_end), w in zip(self.busy_windows, self.busy_where, strict=True)
                if b_end > start and b_start < end
            }
            where = "; the loop was in: " + " | ".join(sorted(seen))
        return (
            f"the loop ran something for {self.worst_unexplained() * 1000:.0f} ms of one stall at worst; "
            f"longest loop stall {self.worst() * 1000:.0f} ms ({len(self.loop_windows)} stalls over "
            f"{2 * self.interval * 1000:.0f} ms){where}"
        )
