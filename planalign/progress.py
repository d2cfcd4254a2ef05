"""Showing a running simulation: a live status line on a terminal, plain lines elsewhere, and the final
summary tables. Consumes the orchestrator's `ProgressEvent`s (which may arrive from worker threads)."""

from __future__ import annotations

import dataclasses
import sys
import threading
from typing import TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from planalign.log import get_logger
from planalign.orchestrator import ProgressEvent, SimulationSummary

_log = get_logger("planalign.progress")


class ProgressDisplay:
    """Callable progress sink. Use as a context manager around the run."""

    def __init__(
        self, stream: TextIO | None = None, *, verbose: bool = False, structured: bool = False
    ) -> None:
        """`structured=True` (with `--log-format json`) sends progress through the JSON log instead of text
        lines, so stderr stays one JSON object per line."""
        self.console = Console(file=stream or sys.stderr)
        self.structured = structured
        self.live_mode = self.console.is_terminal and not structured
        self.verbose = verbose
        self._lock = threading.Lock()
        self._year: int | None = None
        self._stage: str | None = None
        self._in_flight: set[str] = set()
        self._limit: int | None = None
        self._done = 0
        self._live: Live | None = None

    def __enter__(self) -> ProgressDisplay:
        if self.live_mode:
            self._live = Live(self._render(), console=self.console, refresh_per_second=8, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    def __call__(self, event: ProgressEvent) -> None:
        with self._lock:
            self._apply(event)
            if self.structured:
                self._log(event)
                return
            line = self._plain_line(event)
            if line is not None and (not self.live_mode or event.kind in ("stage_finished", "year_finished")):
                self.console.print(line, highlight=False, soft_wrap=True)
            if self._live is not None:
                self._live.update(self._render())

    def _apply(self, event: ProgressEvent) -> None:
        if event.year is not None:
            self._year = event.year
        if event.stage is not None:
            self._stage = event.stage
        if event.limit is not None:
            self._limit = event.limit
        if event.kind == "model_started" and event.unique_id:
            self._in_flight.add(event.unique_id)
        elif event.kind == "model_finished" and event.unique_id:
            self._in_flight.discard(event.unique_id)
            self._done += 1
        elif event.kind == "model_skipped" and event.unique_id:
            self._in_flight.discard(event.unique_id)  # a batch model whose dependency in the batch failed

    def _log(self, event: ProgressEvent) -> None:
        if event.kind in ("model_started", "model_finished", "model_skipped") and not self.verbose:
            return
        fields = {k: v for k, v in dataclasses.asdict(event).items() if v is not None and k != "kind"}
        _log.info(event.kind, **fields)

    def _plain_line(self, event: ProgressEvent) -> str | None:
        where = f"[{event.elapsed_s:7.1f}s] {event.year if event.year is not None else 'setup'}"
        if event.kind == "stage_finished":
            return f"{where} {event.stage:<20} {event.status}"
        if event.kind == "year_finished":
            return f"{where} year complete"
        if event.kind == "limit_changed":
            return f"{where} workers allowed now {event.limit} ({event.message or 'limit changed'})"
        if self.verbose and event.kind in ("model_finished", "model_skipped"):
            name = (event.unique_id or "").rsplit(".", 1)[-1]
            return f"{where} {event.stage:<20} {name:<45} {event.status}"
        return None

    def _render(self) -> Text:
        names = sorted(uid.rsplit(".", 1)[-1] for uid in self._in_flight)
        shown = ", ".join(names[:4]) + (f" +{len(names) - 4}" if len(names) > 4 else "")
        limit = "-" if self._limit is None else str(self._limit)
        return Text(
            f"year {self._year or '-'} · stage {self._stage or '-'} · in flight {len(names)} "
            f"({shown or 'idle'}) · workers allowed {limit} · models done {self._done}"
        )


def print_summary(summary: SimulationSummary, stream: TextIO | None = None) -> None:
    """The end-of-run tables: per year (workforce and money) and per stage (time and parallelism)."""
    console = Console(file=stream or sys.stdout, width=140)
    years = Table(title=f"Simulation {summary.run_id} — {summary.status}", title_justify="left")
    for column in (
        "year",
        "actives",
        "hires",
        "terms",
        "promotions",
        "enrollments",
        "participation",
        "employee contrib.",
        "employer match",
    ):
        years.add_column(column, justify="right")
    for year, m in sorted(summary.years.items()):
        years.add_row(
            str(year),
            f"{m.actives:,}",
            f"{m.hires:,}",
            f"{m.terminations:,}",
            f"{m.promotions:,}",
            f"{m.enrollments:,}",
            f"{m.participation_rate:.1%}",
            f"${m.employee_contributions:,.0f}",
            f"${m.employer_match:,.0f}",
        )
    console.print(years)
    stages = Table(title="Stages", title_justify="left")
    for column in ("year", "stage", "time (s)", "models", "parallelism (mean / max)", "estimated speedup"):
        stages.add_column(column, justify="right")
    for s in summary.stages:
        stages.add_row(
            "setup" if s.year is None else str(s.year),
            s.stage,
            f"{s.wall_time_s:.2f}",
            str(s.models),
            f"{s.parallelism_mean:.2f} / {s.parallelism_max}",
            f"{s.estimated_speedup:.2f}x",
        )
    console.print(stages)
    if summary.error:
        console.print(Text(f"error: {summary.error}", style="bold red"))
    console.print(f"run directory: {summary.run_dir}\ndatabase: {summary.database_path}")
    if summary.database_note:
        console.print(summary.database_note)
