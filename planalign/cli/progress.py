"""Showing a running simulation: a live status display on a terminal, plain lines elsewhere, and the final
summary tables. Consumes the orchestrator's `ProgressEvent`s (which may arrive from worker threads).

On a terminal the display is two lines at the bottom, redrawn in place:

    year 2026 (1 of 3 done) · foundation 12/40 models · 1:05 elapsed · ETA 2:10
    3 running (up to 4 workers): int_baseline, int_hazard, int_levers

The second line says what is happening when no model runs — parsing the dbt project, loading the seeds, the
year's dbt tests — because those steps take long (the parse 14–31 s on a loaded machine, the tests the
longest step of a year) and a display saying "idle" then reads as a hang. More models in flight than
workers means they run as batches (several models per dbt invocation), and the line says so. While the
display is up every log line is written through its console (`planalign.log.log_to_console`), so it prints
above the status lines instead of onto them. Lines are cut to the terminal's width, never wrapped: a
wrapped line would break the in-place redraw.

The ETA adds up expected step durations: those of the newest whole-years run in the runs directory
(`planalign.simulation.run_history.recorded_step_durations`), replaced by what this run has measured as
soon as a year has been through the step. With neither there is no ETA rather than a guess.

Why it is long: the live display and the end-of-run tables share the console, the terminal-width rules
and the lock discipline that keeps log lines above the status lines; apart, each would need the other's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import threading
import time
from collections.abc import Callable, Iterator
from statistics import fmean
from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from planalign.log import get_logger, log_to_console
from planalign.simulation.events import ProgressEvent
from planalign.simulation.run_directory import SimulationSummary, YearMetrics
from planalign.simulation.run_history import StepDurations
from planalign.simulation.stages import REPORTING_TESTS_STEP, VALIDATION_TESTS_STEP, SimulationStage

_log = get_logger("planalign.cli.progress")

#: The steps of a year that are dbt tests (summary.json's names), after the stage whose models they test,
#: and the progress event's `phase_started` stage of each ("tests" is the validation tests' older name).
_TESTS_AFTER = {
    SimulationStage.VALIDATION: VALIDATION_TESTS_STEP,
    SimulationStage.REPORTING: REPORTING_TESTS_STEP,
}
_TEST_PHASES = {"tests": VALIDATION_TESTS_STEP, REPORTING_TESTS_STEP: REPORTING_TESTS_STEP}

#: A year's steps in the order they run: the stages, each stage's dbt tests after it.
YEAR_STEPS: tuple[str, ...] = tuple(
    name
    for stage in SimulationStage
    for name in ((stage.value, _TESTS_AFTER[stage]) if stage in _TESTS_AFTER else (stage.value,))
)
SETUP_STEPS: tuple[str, ...] = tuple(stage.value for stage in SimulationStage)

_PHASES = {
    "parse": "parsing the dbt project",
    "seed": "loading the seeds",
}


def clock_text(seconds: float) -> str:
    """`1:05`, `1:02:03`: short enough for the status line."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def describe_running(names: list[str], limit: int | None) -> str:
    """What runs now, in words. More models in flight than the worker limit allows means batches (one dbt
    invocation runs several models one after another), which "8 in flight, 4 allowed" would hide."""
    shown = ", ".join(names[:4]) + (f" +{len(names) - 4}" if len(names) > 4 else "")
    n = len(names)
    if limit is not None and n > limit:
        what = f"batch of {n}" if limit == 1 else f"{n} models in batches on {limit} workers"
    else:
        what = f"{n} running" + (f" (up to {limit} workers)" if limit is not None else "")
    return f"{what}: {shown}"


@contextlib.contextmanager
def live_status(
    console: Console, render: Callable[[], RenderableType], *, auto_refresh: bool = True
) -> Iterator[Live]:
    """A transient live status below the log lines, for as long as the block runs: every log line goes
    through `console` (`log_to_console`), so it prints above the status instead of over it. On leaving,
    the status goes first, then the log returns to its own stream."""
    with (
        log_to_console(console),
        Live(
            console=console,
            get_renderable=render,
            auto_refresh=auto_refresh,
            refresh_per_second=4,
            transient=True,
        ) as live,
    ):
        yield live


class ProgressDisplay:
    """Callable progress sink. Use as a context manager around the run.

    `console` replaces the stderr console (tests give a recording one); `history` the expected step durations
    (`run_history.recorded_step_durations`); `clock` the monotonic clock that advances the elapsed time and
    ETA between events;
    `auto_refresh=False` redraws only on events (tests: no refresh thread)."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        verbose: bool = False,
        structured: bool = False,
        console: Console | None = None,
        history: StepDurations | None = None,
        clock: Callable[[], float] = time.monotonic,
        auto_refresh: bool = True,
    ) -> None:
        """`structured=True` (with `--log-format json`) sends progress through the JSON log instead of text
        lines, so stderr stays one JSON object per line."""
        self.console = console if console is not None else Console(file=stream or sys.stderr)
        self.structured = structured
        self.live_mode = self.console.is_terminal and not structured
        self.verbose = verbose
        self.history = history if history is not None else StepDurations()
        self._clock = clock
        self._auto_refresh = auto_refresh
        self._lock = threading.RLock()
        self._year: int | None = None
        self._stage: str | None = None
        self._phase: str | None = None
        self._in_flight: set[str] = set()
        self._limit: int | None = None
        self._stage_total: int | None = None
        self._stage_done = 0
        self._years_total: int | None = None
        self._years_done = 0
        self._elapsed = 0.0
        self._elapsed_at = clock()
        self._step: tuple[bool, str, float] | None = None  # (in a year?, step, started at elapsed)
        self._measured: dict[tuple[bool, str], list[float]] = {}
        self._live: Live | None = None
        self._exits = contextlib.ExitStack()

    def __enter__(self) -> ProgressDisplay:
        if self.live_mode:
            self._live = self._exits.enter_context(
                live_status(self.console, self._render, auto_refresh=self._auto_refresh)
            )
        return self

    def __exit__(self, *exc: object) -> None:
        self._exits.close()  # the live display first, then the log back to its own stream
        self._live = None

    def __call__(self, event: ProgressEvent) -> None:
        # Draw outside the lock: rich's refresh thread holds its own locks while `_render` takes this one,
        # so drawing under it would take the locks in the other order and deadlock (a frozen status line).
        with self._lock:
            self._apply(event)
            line = None if self.structured else self._plain_line(event)
        if self.structured:
            self._log(event)
            return
        live_line = event.kind in ("stage_finished", "year_finished", "limit_changed")
        if line is not None and (not self.live_mode or live_line or self.verbose):
            self.console.print(line, highlight=False, markup=False, soft_wrap=True)
        live = self._live
        if live is not None:
            live.refresh()

    # ------------------------------------------------------------------ state

    def _apply(self, event: ProgressEvent) -> None:
        self._elapsed, self._elapsed_at = event.elapsed_s, self._clock()
        if event.limit is not None:
            self._limit = event.limit
        kind = event.kind
        if kind == "run_planned":
            self._years_total = event.total
        elif kind == "phase_started":
            self._close_step(event.elapsed_s)
            self._phase = event.stage
            if event.year is not None:
                self._year = event.year
            if event.stage in _TEST_PHASES and event.year is not None:
                self._step = (True, _TEST_PHASES[event.stage], event.elapsed_s)
        elif kind == "stage_started":
            self._close_step(event.elapsed_s)
            self._phase = None
            self._year, self._stage = event.year, event.stage
            self._stage_total, self._stage_done = event.total, 0
            self._in_flight.clear()
            if event.stage is not None:
                self._step = (event.year is not None, event.stage, event.elapsed_s)
        elif kind == "stage_finished":
            self._close_step(event.elapsed_s)
        elif kind in ("year_started", "year_finished"):
            self._close_step(event.elapsed_s)
            self._phase = None
            self._year = event.year
            if kind == "year_finished":
                self._years_done += 1
                self._stage, self._stage_total = None, None
        elif kind == "model_started" and event.unique_id:
            self._in_flight.add(event.unique_id)
        elif kind == "model_finished" and event.unique_id:
            self._in_flight.discard(event.unique_id)
            self._stage_done += 1
        elif kind == "model_skipped" and event.unique_id:
            self._in_flight.discard(event.unique_id)  # a batch model whose dependency in the batch failed
            self._stage_done += 1

    def _close_step(self, elapsed: float) -> None:
        if self._step is not None:
            in_year, name, started = self._step
            self._measured.setdefault((in_year, name), []).append(max(0.0, elapsed - started))
            self._step = None

    def _now(self) -> float:
        return self._elapsed + max(0.0, self._clock() - self._elapsed_at)

    def _expected(self, in_year: bool) -> dict[str, float]:
        known = dict(self.history.year if in_year else self.history.setup)
        for (year_step, name), seconds in self._measured.items():
            if year_step == in_year:
                known[name] = fmean(seconds)
        return known

    def eta_s(self) -> float | None:
        """Seconds left, from the expected step durations (see the module docstring); None when unknown."""
        with self._lock:
            year_steps = self._expected(True)
            if self._years_total is None or not year_steps:
                return None
            per_year = sum(year_steps.values())
            remaining = 0.0
            years_left = self._years_total - self._years_done
            step = self._step
            if step is not None:
                in_year, name, started = step
                expected = year_steps if in_year else self._expected(False)
                remaining += max(0.0, expected.get(name, 0.0) - (self._now() - started))
                order = YEAR_STEPS if in_year else SETUP_STEPS
                later = order[order.index(name) + 1 :] if name in order else ()
                remaining += sum(expected.get(s, 0.0) for s in later)
                if in_year:
                    years_left -= 1
            return remaining + max(0, years_left) * per_year

    # ------------------------------------------------------------------ output

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
            of = f" ({self._years_done} of {self._years_total})" if self._years_total else ""
            return f"{where} year complete{of}"
        if event.kind == "limit_changed":
            return f"{where} workers allowed now {event.limit} ({event.message or 'limit changed'})"
        if event.kind == "phase_started" and event.stage is not None:
            return f"{where} {self._phase_text(event.stage, event.year)}"
        if self.verbose and event.kind in ("model_finished", "model_skipped"):
            name = (event.unique_id or "").rsplit(".", 1)[-1]
            return f"{where} {event.stage:<20} {name:<45} {event.status}"
        return None

    @staticmethod
    def _phase_text(phase: str, year: int | None) -> str:
        if phase in _TEST_PHASES:
            which = "dbt tests" if phase == "tests" else "reporting tests"
            return f"running the {which} of {year}" if year is not None else f"running the {which}"
        return _PHASES.get(phase, phase)

    def _status_line(self) -> str:
        if self._year is not None:
            where = f"year {self._year}"
        elif self._stage is not None:
            where = "setup"
        else:
            where = "starting"
        if self._years_total is not None:
            where += f" ({self._years_done} of {self._years_total} done)"
        parts = [where]
        if self._stage is not None and self._phase is None:
            models = (
                f" {self._stage_done}/{self._stage_total} models" if self._stage_total is not None else ""
            )
            parts.append(f"{self._stage}{models}")
        parts.append(f"{clock_text(self._now())} elapsed")
        eta = self.eta_s()
        if eta is not None:
            parts.append(f"ETA {clock_text(eta)}")
        return " · ".join(parts)

    def _activity_line(self) -> str:
        if self._phase is not None:
            return self._phase_text(self._phase, self._year) + " …"
        if not self._in_flight:
            return "between steps" if self._stage is not None else "preparing"
        names = sorted(uid.rsplit(".", 1)[-1] for uid in self._in_flight)
        return describe_running(names, self._limit)

    def _render(self) -> Group:
        with self._lock:
            lines = (self._status_line(), self._activity_line())
        return Group(*(Text(line, no_wrap=True, overflow="ellipsis") for line in lines))

    def render_text(self) -> str:
        """The live display's text, as plain lines (for tests and for logging it)."""
        with self._lock:
            return f"{self._status_line()}\n{self._activity_line()}"


#: The years table's columns: (header, short header for a narrow terminal).
_YEAR_COLUMNS: tuple[tuple[str, str], ...] = (
    ("year", "year"),
    ("actives", "actives"),
    ("hires", "hires"),
    ("terms", "terms"),
    ("promotions", "promos"),
    ("enrolled", "enrolled"),
    ("participation", "partic."),
    ("employee contrib.", "EE contrib."),
    ("employer match", "ER match"),
)


def _money(value: float, *, millions: bool) -> str:
    return f"${value / 1e6:,.1f}M" if millions else f"${value:,.0f}"


def _years_table(summary: SimulationSummary, *, compact: int = 0) -> Table:
    """The years table at `compact` 0 (full headers, framed), 1 (short headers, no frame: one space between
    columns) or 2 (as 1, money in millions): the first that fits the terminal is printed."""
    title = f"Simulation {summary.run_id} — {summary.status}"
    if compact:
        table = Table(title=title, title_justify="left", box=None, padding=(0, 0, 0, 1), pad_edge=False)
        table.header_style = "bold underline"
    else:
        table = Table(title=title, title_justify="left")
    for full, brief in _YEAR_COLUMNS:
        table.add_column(brief if compact else full, justify="right", no_wrap=True)
    millions = compact >= 2
    for year, m in sorted(summary.years.items()):
        table.add_row(
            str(year),
            f"{m.actives:,}",
            f"{m.hires:,}",
            f"{m.terminations:,}",
            f"{m.promotions:,}",
            f"{enrolled_people(m):,}",
            f"{m.participation_rate:.1%}",
            _money(m.employee_contributions, millions=millions),
            _money(m.employer_match, millions=millions),
        )
    return table


def enrolled_people(m: YearMetrics) -> int:
    """Active employees enrolled at year end — not `enrollments`, the year's new enrollment events, which the
    table once showed under "enrolled". The summary's cost record counts them; an older summary has the
    participation rate of the actives (to six places), which gives the same count."""
    return m.cost.enrolled if m.cost is not None else round(m.participation_rate * m.actives)


def _stages_table(summary: SimulationSummary) -> Table:
    table = Table(title="Stages", title_justify="left")
    table.add_column("year", justify="right", no_wrap=True)
    # The stage names whole (the longest is 18 characters); the headers of the numbers wrap instead.
    table.add_column("stage", justify="left", no_wrap=True, min_width=max(map(len, YEAR_STEPS)))
    for column in ("time (s)", "models", "parallelism mean / max", "est. speedup"):
        table.add_column(column, justify="right")
    for s in summary.stages:
        table.add_row(
            "setup" if s.year is None else str(s.year),
            s.stage,
            f"{s.wall_time_s:.2f}",
            str(s.models),
            "–" if s.parallelism_mean is None else f"{s.parallelism_mean:.2f} / {s.parallelism_max}",
            "–" if s.estimated_speedup is None else f"{s.estimated_speedup:.2f}x",
        )
    return table


def _natural_width(console: Console, table: Table) -> int:
    """The width the table takes when nothing is squeezed (rich's measure stops at the console's width)."""
    return Measurement.get(console, console.options.update_width(10_000), table).maximum


def print_summary(
    summary: SimulationSummary,
    stream: TextIO | None = None,
    *,
    console: Console | None = None,
    verbose: bool = False,
) -> None:
    """The end of a run, results last, so they are what stays on the screen: with `verbose` the engine's
    per-stage table (time and parallelism) first, else one line saying where it is; then where the run and
    the database are (paths as `shown_path` gives them); then the years table (workforce and money) and any
    error. Sized to the terminal (rich reads its width; off a terminal `COLUMNS`, else 80): on a narrow one
    the years table drops its frame and takes short headers (and, if still too wide, money in millions)
    rather than cutting numbers."""
    from planalign.log import shown_path

    console = console if console is not None else Console(file=stream or sys.stdout)
    if verbose:
        console.print(_stages_table(summary))
    else:
        wall = sum(s.wall_time_s for s in summary.stages)
        console.print(
            f"engine: {len(summary.stages)} stage runs, {wall:.1f} s (--verbose or the report shows each)",
            highlight=False,
        )
    console.print(
        f"run directory: {shown_path(summary.run_dir)}\ndatabase: {shown_path(summary.database_path)}",
        highlight=False,
    )
    if summary.database_note:
        note = summary.database_note.replace(str(summary.database_path), shown_path(summary.database_path))
        console.print(note, highlight=False)
    years = _years_table(summary)
    for compact in (1, 2):
        if _natural_width(console, years) <= console.width:
            break
        years = _years_table(summary, compact=compact)
    console.print(years)
    if summary.error:
        console.print(Text(f"error: {summary.error}", style="bold red"))
