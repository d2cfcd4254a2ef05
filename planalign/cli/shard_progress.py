"""The live display of a sharded sweep: shards done of total, the elapsed time, and a line per finished shard
(its seeds, members, seconds and where it ran). A terminal gets a status line redrawn in place; a pipe or a
log file gets the plain lines; `--log-format json` sends each event through the JSON log."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from planalign.cli.progress import clock_text
from planalign.log import get_logger
from planalign.scenarios.sharded import ShardEvent

_log = get_logger("planalign.cli.shard_progress")


class ShardDisplay:
    """Callable `ShardEvent` sink; a context manager around the sweep."""

    def __init__(
        self,
        stream: TextIO,
        *,
        executor: str,
        structured: bool = False,
        console: Console | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console if console is not None else Console(file=stream)
        self.structured = structured
        self.executor = executor
        self.live_mode = self.console.is_terminal and not structured
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()
        self.done = 0
        self.total: int | None = None
        self._live: Live | None = None

    def __enter__(self) -> ShardDisplay:
        if self.live_mode:
            self._live = Live(
                console=self.console, refresh_per_second=2, transient=True, get_renderable=self._render
            )
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    def __call__(self, event: ShardEvent) -> None:
        with self._lock:
            self.done, self.total = event.done, event.total
        line = self.line(event)
        if self.structured:
            _log.info(f"shard_{event.kind}", done=event.done, total=event.total)
        elif line is not None:
            self.console.print(line, highlight=False, markup=False, soft_wrap=True)
        if self._live is not None:
            self._live.refresh()

    def line(self, event: ShardEvent) -> str | None:
        elapsed = f"[{self._clock() - self._started:7.1f}s]"
        if event.kind == "planned":
            return f"{elapsed} {event.total} shards on the {self.executor} executor"
        if event.shard is None or event.result is None:
            return None
        where = f" on {event.result.host}" if event.result.host else ""
        if event.kind == "finished":
            return (
                f"{elapsed} shard {event.shard.index + 1} done ({event.done} of {event.total}): "
                f"{len(event.shard.members)} members in {event.result.seconds:.1f} s{where}"
            )
        return f"{elapsed} {event.shard.describe()} FAILED{where}: {event.result.error}"

    def status_text(self) -> str:
        with self._lock:
            of = f"{self.done} of {self.total}" if self.total is not None else "planning"
        return f"shards {of} done · {clock_text(self._clock() - self._started)} elapsed"

    def _render(self) -> Group:
        return Group(Text(self.status_text(), no_wrap=True, overflow="ellipsis"))
