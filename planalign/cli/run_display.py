"""What `planalign run` shows while it runs and when it ends: one line per finished model as `dbt run` prints
them, a live status line on a terminal, JSON lines with `--log-format json`, and the closing summary."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.console import Console, Group
    from rich.live import Live

    from planalign.engine.results import EngineRunResult
    from planalign.engine.runner import EngineEvent


@dataclass(frozen=True)
class Show:
    """What to print at dbt's log level `level` (`--log-level`, `-q` = error): info lines (progress, the
    summary's counts) at debug and info, warnings from warn, errors (a failed model's line and its failure
    block, a stop) from error; none prints nothing."""

    level: str = "info"

    @property
    def info(self) -> bool:
        return self.level in ("debug", "info")

    @property
    def warn(self) -> bool:
        return self.level in ("debug", "info", "warn")

    @property
    def error(self) -> bool:
        return self.level != "none"


class RunProgress:
    """The run as it happens, safe to call from any thread: one line per finished model (and per retry), as
    `dbt run` prints, and on a terminal also a live status line below them (models done of total, elapsed,
    ETA, what is running). While it is up, log lines go through the same console
    (`planalign.log.log_to_console`), above the status line. With `--log-format json` every event is one
    JSON object per line and there is no live line. Use as a context manager around the run.

    The ETA is the rate so far (elapsed per finished model) times the models left; none before the first."""

    def __init__(
        self,
        total: int,
        stream: TextIO | None = None,
        *,
        json_lines: bool = False,
        console: Console | None = None,
        auto_refresh: bool = True,
        level: str = "info",
    ) -> None:
        from rich.console import Console

        self.total = total
        self.stream = stream if stream is not None else sys.stdout
        self.console = console if console is not None else Console(file=self.stream)
        self.done = 0
        self.json_lines = json_lines
        self.show = Show(level)
        self.live_mode = self.console.is_terminal and not json_lines and self.show.info
        self._auto_refresh = auto_refresh
        self._lock = threading.RLock()
        self._in_flight: set[str] = set()
        self._limit: int | None = None
        self._invocations = 0
        self._time = 0.0
        self._live: Live | None = None
        self._exits = contextlib.ExitStack()

    def __enter__(self) -> RunProgress:
        from planalign.cli.progress import live_status

        if self.live_mode:
            self._live = self._exits.enter_context(
                live_status(self.console, self._render, auto_refresh=self._auto_refresh)
            )
        return self

    def __exit__(self, *exc: object) -> None:
        self._exits.close()
        self._live = None

    def __call__(self, event: EngineEvent) -> None:
        if self.json_lines:
            self._json(event)
            return
        with self._lock:
            line = self._apply(event)
        # Drawn outside the lock, which `_render` takes inside rich's own (the other order deadlocks).
        if line is not None and (self.show.info or (self.show.error and " ERROR " in line)):
            self.console.print(line, highlight=False, markup=False, soft_wrap=True)
        live = self._live
        if live is not None:
            live.refresh()

    def _apply(self, event: EngineEvent) -> str | None:
        """Update the counts from `event`; the line it prints, if any."""
        from planalign.engine.runner import EngineEventKind

        self._time = max(self._time, event.time)
        if event.limit is not None:
            self._limit = event.limit
        self._invocations = event.invocations
        name = event.name or (event.unique_id or "").rsplit(".", 1)[-1]
        if event.kind is EngineEventKind.MODEL_STARTED:
            self._in_flight.add(name)
            return None
        if event.kind is EngineEventKind.MODEL_FINISHED:
            self._in_flight.discard(name)
            self.done += 1
            status = str(event.status.value if event.status is not None else "?").upper()
            duration = f"{event.duration_s:.2f}s" if event.duration_s is not None else "-"
            line = f"[{event.time:7.1f}s] {self.done:>4}/{self.total} {status:<9} {name} in {duration}"
            # A failed model's error is printed once, in the summary's failure block (`print_summary`);
            # other statuses' messages (a cancelled model's reason) are printed nowhere else.
            if event.message and status not in {"SUCCESS", "ERROR"}:
                line += "\n    " + _indented(event.message)
            return line
        if event.kind is EngineEventKind.MODEL_SKIPPED:
            self._in_flight.discard(name)
            self.done += 1
            line = f"[{event.time:7.1f}s] {self.done:>4}/{self.total} SKIPPED   {name}"
            return line + (f" ({event.message})" if event.message else "")
        if event.kind is EngineEventKind.MODEL_RETRY:
            return f"[{event.time:7.1f}s]           RETRY     {name} (attempt {event.attempt})"
        if event.kind in (EngineEventKind.PRESSURE, EngineEventKind.LIMIT_CHANGED):
            return f"[{event.time:7.1f}s] workers limited to {event.limit}: {event.message or event.kind}"
        if event.kind is EngineEventKind.FALLBACK:
            return f"[{event.time:7.1f}s] fallback: {event.message}"
        return None

    def render_text(self) -> str:
        """The live status line's text (two lines: counts and timing, what is running)."""
        from planalign.cli.progress import clock_text, describe_running

        with self._lock:
            parts = [f"{self.done}/{self.total} models", f"{clock_text(self._time)} elapsed"]
            if self.done:
                parts.append(f"ETA {clock_text(self._time / self.done * (self.total - self.done))}")
            names = sorted(self._in_flight)
            running = describe_running(names, self._limit) if names else "waiting for the next model"
            return " · ".join(parts) + "\n" + running

    def _render(self) -> Group:
        from rich.console import Group
        from rich.text import Text

        return Group(
            *(Text(line, no_wrap=True, overflow="ellipsis") for line in self.render_text().split("\n"))
        )

    def _json(self, event: EngineEvent) -> None:
        """`--log-format json`: every engine event as one JSON object per line (planalign's event fields,
        not dbt's structured-log schema)."""
        import dataclasses
        import json

        data = {k: v for k, v in dataclasses.asdict(event).items() if v is not None}
        with self._lock:
            print(json.dumps(data, default=str), file=self.stream, flush=True)


def _indented(message: str, indent: str = "    ") -> str:
    return message.strip().replace("\n", "\n" + indent)


def print_summary(
    result: EngineRunResult,
    stream: TextIO,
    results_path: Path,
    paths: Mapping[str, str] | None = None,
    *,
    compiled: Mapping[str, str] | None = None,
    show: Show | None = None,
) -> None:
    """The closing summary: counts and timing, then one block per failed model with its error.

    The error is printed here and only here (the model's progress line just says ERROR), in dbt's own form —
    `dbt run` prints `ERROR creating ... model` while it runs and the message at the end under "Failure in
    model <name> (<path>)" — because that is where a dbt user looks for it, and a long run's failures are
    then together below the last progress line instead of scattered among hundreds of lines above it.
    `paths` maps unique_id to the model's file (dbt's `original_file_path`) for that heading; `compiled` to
    the SQL dbt compiled for it, which dbt names after the error ("compiled code at target/compiled/...").
    `show`: what the log level prints (the counts are info, the failures errors)."""
    show = show or Show()
    if not show.error:
        return
    if not show.info:  # dbt -q: the failure blocks, without the "compiled code at" lines (info in dbt)
        for failed in result.failed:
            _print_failure(failed.unique_id, failed.name, failed.error, stream, paths, None)
        return
    counts = result.counts()
    parts = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    print(
        f"\nDone in {result.wall_time_s:.1f}s: {parts or 'nothing ran'} in {result.invocations} dbt "
        f"invocations. Model time {result.summed_model_time_s:.1f}s; "
        f"parallelism mean {result.parallelism_mean:.2f}, "
        f"peak {result.parallelism_max} (limit {result.max_workers}); "
        f"graph speedup bound {result.theoretical_speedup:.2f}x.",
        file=stream,
    )
    for fallback in result.fallbacks:
        print(f"fallback: {fallback}", file=stream)
    for failed in result.failed:
        _print_failure(failed.unique_id, failed.name, failed.error, stream, paths, compiled)
    print(f"Results: {results_path}", file=stream)


def _print_failure(
    unique_id: str,
    name: str,
    error: str | None,
    stream: TextIO,
    paths: Mapping[str, str] | None,
    compiled: Mapping[str, str] | None,
) -> None:
    path = (paths or {}).get(unique_id)
    print(f"\nFailure in model {name}" + (f" ({path})" if path else ""), file=stream)
    print("  " + _indented(error or "(no message)", "  "), file=stream)
    code = (compiled or {}).get(unique_id)
    if code is not None:
        print(f"\n  compiled code at {code}", file=stream)
