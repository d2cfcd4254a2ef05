"""The self-contained HTML run report: what ran where and when, how much parallelism paid, and what the
simulation produced.

It reads a run directory (see docs/architecture.md, "The run directory") and writes one HTML file that opens
offline: every chart is a matplotlib figure rendered to SVG and inlined, the styles are inline, and nothing
is loaded from anywhere (no script, font, stylesheet or image reference). SVG rather than an interactive JS
library because a run report is read, archived and attached to tickets: an inline-SVG report weighs tens to
a few hundred kilobytes, needs no JavaScript, stays sharp when zoomed or printed, and still shows a tooltip
per model execution through SVG `<title>` elements.

Reading and rendering are separate: `load_run` turns the run directory's JSON into the frozen `RunReport`
(validating it, so a bad directory fails with `RunDirectoryError` before anything is drawn), `render_html`
turns a `RunReport` into the HTML text, and `write_report` does both and writes the file atomically.
"""

from __future__ import annotations

import dataclasses
import html
import io
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter

from planalign.engine.results import EngineRunResult, ModelStatus, load_run_results
from planalign.errors import ReportOutputError, RunDirectoryError
from planalign.simulation.run_directory import SUMMARY_SCHEMA_VERSION
from planalign.simulation.stages import SimulationStage

#: The orchestrator's stages in run order; stages the report does not know are appended after these.
STAGE_ORDER: tuple[str, ...] = tuple(stage.value for stage in SimulationStage)

#: Colours per execution class: the Okabe-Ito palette, distinguishable with common colour-vision deficiencies.
CLASS_COLOURS: Mapping[str, str] = {
    "parallel_safe": "#0072B2",
    "sequential": "#E69F00",
    "conditional": "#009E73",
}
UNKNOWN_CLASS_COLOUR = "#999999"
FAILED_EDGE_COLOUR = "#D55E00"

STAGE_COLOURS: Mapping[str, str] = {
    "initialization": "#CC79A7",
    "foundation": "#56B4E9",
    "event_generation": "#E69F00",
    "state_accumulation": "#009E73",
    "validation": "#F0E442",
    "reporting": "#0072B2",
}

#: Short stage names for timeline bands too narrow for the full name.
STAGE_ABBREVIATIONS: Mapping[str, str] = {
    "initialization": "init",
    "foundation": "found.",
    "event_generation": "events",
    "state_accumulation": "state",
    "validation": "valid.",
    "reporting": "report",
}

#: How many of the longest model executions the report lists.
SLOWEST_MODELS = 15


# ----------------------------------------------------------------------------------------------------------
# The data the report draws
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelExecution:
    """One model executed once by the engine, placed on the run's clock (seconds since the run started)."""

    model: str
    run_label: str
    year: int | None
    stage: str
    lane: int
    execution_class: str
    status: str
    start_s: float
    end_s: float
    attempts: int
    on_critical_path: bool = False

    @property
    def duration_s(self) -> float:
        return max(0.0, self.end_s - self.start_s)

    @property
    def succeeded(self) -> bool:
        return self.status == ModelStatus.SUCCESS.value


@dataclass(frozen=True)
class LimitChange:
    """The engine changed its concurrency limit (the watchdog lowered or restored it)."""

    at_s: float
    limit: int


@dataclass(frozen=True)
class PressureEvent:
    """A memory-watchdog transition: "pressure" (the limit dropped, or would have) or "relieved"."""

    at_s: float
    kind: str
    detail: str


@dataclass(frozen=True)
class EngineRun:
    """One engine execution: one stage of one year (or a once-per-simulation stage when `year` is None)."""

    label: str
    year: int | None
    stage: str
    start_s: float
    end_s: float
    initial_limit: int
    estimated_speedup: float | None
    success: bool
    models: int
    executions: tuple[ModelExecution, ...]
    limit_changes: tuple[LimitChange, ...]
    pressure_events: tuple[PressureEvent, ...]

    @property
    def wall_s(self) -> float:
        return max(0.0, self.end_s - self.start_s)

    @property
    def busy_s(self) -> float:
        """Sum of the models' own run times: what this stage would take with one model at a time."""
        return sum(e.duration_s for e in self.executions)

    @property
    def achieved_speedup(self) -> float | None:
        """Serial time over wall time. None when the stage ran nothing measurable."""
        if self.wall_s <= 0 or self.busy_s <= 0:
            return None
        return self.busy_s / self.wall_s


@dataclass(frozen=True)
class OtherStep:
    """A step of the run that is not an engine run (the year's dbt data tests): the summary gives its
    duration but not its start, so it is placed right after the engine run before it in the summary, which
    is where the orchestrator runs it."""

    label: str
    year: int | None
    stage: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class YearMetrics:
    """One simulated year's outcome, from `summary.json`. A metric the run did not produce is None."""

    year: int
    actives: float | None
    hires: float | None
    terminations: float | None
    new_hire_terminations: float | None
    avg_compensation: float | None
    participation_rate: float | None
    employee_contributions: float | None
    employer_match: float | None


@dataclass(frozen=True)
class RunReport:
    """Everything the report shows, validated and on one clock."""

    run_dir: Path
    run_id: str
    status: str
    started_at: str | None
    completed_at: str | None
    start_year: int | None
    end_year: int | None
    completed_years: tuple[int, ...]
    error: str | None
    parallelization: Mapping[str, Any]
    runs: tuple[EngineRun, ...]
    years: tuple[YearMetrics, ...]
    engine_runs_missing: bool
    other_steps: tuple[OtherStep, ...] = ()

    @property
    def executions(self) -> tuple[ModelExecution, ...]:
        return tuple(e for run in self.runs for e in run.executions)

    @property
    def duration_s(self) -> float:
        return max([*(run.end_s for run in self.runs), *(step.end_s for step in self.other_steps), 0.0])


# ----------------------------------------------------------------------------------------------------------
# Reading a run directory
# ----------------------------------------------------------------------------------------------------------


def load_run(run_dir: Path) -> RunReport:
    """Read and validate a run directory. Raises `RunDirectoryError` naming the file and what is wrong.

    `engine_runs.json` is read with `planalign.engine.results.load_run_results`, the engine's own reader,
    so the
    report follows the engine's file format rather than keeping a copy of it.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirectoryError(f"run directory {run_dir} does not exist or is not a directory")
    summary_path = run_dir / "summary.json"
    if not summary_path.is_file():
        raise RunDirectoryError(
            f"{run_dir} is not a planalign run directory: it has no summary.json "
            "(run directories are written by `planalign simulate` under the configured runs directory)"
        )
    summary = _read_json_object(summary_path)
    version = summary.get("schema_version", 0)
    if not (type(version) is int and 0 <= version <= SUMMARY_SCHEMA_VERSION):
        raise RunDirectoryError(
            f"{summary_path} has schema_version {version!r}; this planalign reads versions up to "
            f"{SUMMARY_SCHEMA_VERSION}: it was written by a newer planalign, so upgrade planalign to report "
            "on it"
        )
    engine_path = run_dir / "engine_runs.json"
    engine_runs: list[EngineRunResult] | None = None
    if engine_path.is_file():
        # the engine's reader trusts its own files; a copied or edited one is checked field by field first
        _check_engine_document(engine_path, _read_json_object(engine_path))
        try:
            engine_runs = load_run_results(engine_path)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise _malformed(engine_path, f"not a planalign engine results file ({exc!r})") from exc
    try:
        return _build_report(run_dir, summary, engine_runs)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise _malformed(summary_path, f"malformed run summary: {exc}") from exc


def _malformed(path: Path, detail: str) -> RunDirectoryError:
    return RunDirectoryError(
        f"{path}: {detail}. Run directories are written by `planalign simulate`; rerun it, or restore the "
        "file from the original run directory"
    )


def _read_json_object(path: Path) -> Mapping[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RunDirectoryError(f"cannot read {path}: {exc}") from exc
    except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError are both ValueErrors
        raise _malformed(path, f"not valid JSON ({exc})") from exc
    if not isinstance(value, Mapping):
        raise _malformed(path, f"must hold a JSON object, found {type(value).__name__}")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


#: Fields of a model result the report draws, and what each must be (None is always allowed).
_RESULT_FIELDS: Mapping[str, tuple[str, Callable[[Any], bool]]] = {
    "worker": ("a whole number from 0 (the worker lane)", lambda v: type(v) is int and 0 <= v < 100_000),
    "attempts": ("a whole number", lambda v: type(v) is int and v >= 0),
    "start_offset_s": ("a number of seconds", _is_number),
    "end_offset_s": ("a number of seconds", _is_number),
    "duration_s": ("a number of seconds", _is_number),
    "name": ("a text", lambda v: isinstance(v, str)),
    "execution_class": ("a text", lambda v: isinstance(v, str)),
    "started_at": ("an ISO-8601 timestamp", lambda v: isinstance(v, str)),
    "completed_at": ("an ISO-8601 timestamp", lambda v: isinstance(v, str)),
}


def _check_engine_document(path: Path, document: Mapping[str, Any]) -> None:
    """Raise `RunDirectoryError` naming the first field of `engine_runs.json` that is not what the engine
    writes: a run directory may come from anywhere (another machine, an archive, an attacker), and a
    value of the wrong type must become a message, not a traceback or markup in the report."""
    summary = document.get("summary")
    if not isinstance(summary, Mapping) or not isinstance(summary.get("runs"), list):
        raise _malformed(path, "'summary' must be an object with a 'runs' list")
    runs = summary["runs"]
    for index, run in enumerate(runs):
        if not isinstance(run, Mapping):
            raise _malformed(path, f"summary.runs[{index}] must be an object")
        for key in ("wall_time_s", "summed_model_time_s", "parallelism_mean", "theoretical_speedup"):
            if key in run and not _is_number(run[key]):
                raise _malformed(path, f"summary.runs[{index}].{key} must be a number, got {run[key]!r}")
        for key in ("parallelism_max", "max_workers"):
            if key in run and not (type(run[key]) is int and run[key] >= 0):
                raise _malformed(
                    path, f"summary.runs[{index}].{key} must be a whole number, got {run[key]!r}"
                )
    results = document.get("results")
    if not isinstance(results, list):
        raise _malformed(path, "'results' must be a list of model results")
    for index, item in enumerate(results):
        if not isinstance(item, Mapping):
            raise _malformed(path, f"results[{index}] must be an object, got {type(item).__name__}")
        run_index = item.get("run_index", 0)
        if not (type(run_index) is int and 0 <= run_index < len(runs)):
            raise _malformed(path, f"results[{index}].run_index must name one of the {len(runs)} runs")
        for key, (expected, valid) in _RESULT_FIELDS.items():
            value = item.get(key)
            if value is not None and not valid(value):
                raise _malformed(path, f"results[{index}].{key} must be {expected}, got {value!r}"[:300])


def _build_report(
    run_dir: Path, summary: Mapping[str, Any], engine_runs: Sequence[EngineRunResult] | None
) -> RunReport:
    stage_rows = summary.get("stages") or []
    if not isinstance(stage_rows, list) or not all(isinstance(row, Mapping) for row in stage_rows):
        raise ValueError("'stages' must be a list of objects")
    planned = {str(row["label"]): row.get("estimated_speedup") for row in stage_rows if row.get("label")}

    origin = _timestamp(summary.get("started_at"))
    if origin is None:
        origin = min(
            (t for r in engine_runs or () if (t := _timestamp(r.started_at)) is not None), default=0.0
        )
    runs: list[EngineRun] = []
    previous_end = 0.0
    for index, result in enumerate(engine_runs or ()):
        run = _engine_run(result, index, origin, previous_end, planned)
        runs.append(run)
        previous_end = run.end_s
    other_steps = _other_steps(stage_rows, runs)

    years_value = summary.get("years") or {}
    if not isinstance(years_value, Mapping):
        raise ValueError("'years' must be an object keyed by year")
    years = tuple(
        sorted(
            (_parse_year(_year_key(key), value) for key, value in years_value.items()), key=lambda y: y.year
        )
    )
    parallelization = summary.get("parallelization") or {}
    if not isinstance(parallelization, Mapping):
        raise ValueError("'parallelization' must be an object")
    return RunReport(
        run_dir=run_dir,
        run_id=str(summary.get("run_id") or run_dir.name),
        status=str(summary.get("status") or "unknown"),
        started_at=_optional_str(summary.get("started_at")),
        completed_at=_optional_str(summary.get("completed_at")),
        start_year=_optional_int(summary.get("start_year")),
        end_year=_optional_int(summary.get("end_year")),
        completed_years=_years_list(summary.get("completed_years")),
        error=_optional_str(summary.get("error")),
        parallelization=parallelization,
        runs=tuple(runs),
        years=years,
        engine_runs_missing=engine_runs is None,
        other_steps=other_steps,
    )


def _other_steps(stage_rows: Sequence[Mapping[str, Any]], runs: Sequence[EngineRun]) -> tuple[OtherStep, ...]:
    """Summary stage rows without an engine run of their label, placed after the engine run before them."""
    by_label = {run.label: run for run in runs}
    steps: list[OtherStep] = []
    cursor: float | None = None
    for row in stage_rows:
        label = str(row.get("label") or "")
        if label in by_label:
            cursor = by_label[label].end_s
            continue
        if cursor is None or not label:
            continue  # nothing ran before it: no place on the clock
        _, year, stage = _split_label(label, 0)
        duration = float(row.get("wall_time_s") or 0.0)
        steps.append(OtherStep(label=label, year=year, stage=stage, start_s=cursor, end_s=cursor + duration))
        cursor += duration
    return tuple(steps)


def _timestamp(value: Any) -> float | None:
    """Seconds since the epoch of an ISO-8601 timestamp (a naive one is taken as UTC); None when absent."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"ISO-8601 timestamp expected, got {value!r}")
    moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _split_label(label: str | None, index: int) -> tuple[str, int | None, str]:
    """`"2025:foundation"` → (label, 2025, "foundation"); `"simulation:initialization"` → (label, None,
    "initialization"). A label of another shape is kept whole as the stage, so such a run is still drawn."""
    if not label:
        return f"run {index + 1}", None, "unknown"
    scope, sep, stage = label.partition(":")
    if sep and stage and scope.isdigit():
        return label, int(scope), stage
    if sep and stage and scope == "simulation":
        return label, None, stage
    return label, None, label


def _engine_run(
    result: EngineRunResult,
    index: int,
    origin: float,
    previous_end: float,
    planned: Mapping[str, Any],
) -> EngineRun:
    """One engine run on the report's clock. Models are placed by their offsets from the engine run's start
    (monotonic, so exact relative to each other); the run itself by its wall-clock start. A run without a
    start time is placed right after the previous one."""
    label, year, stage = _split_label(result.label, index)
    started = _timestamp(result.started_at)
    run_start = started - origin if started is not None else previous_end

    executions: list[ModelExecution] = []
    for model in result.results:
        if model.worker is None:
            continue  # never started (skipped after an upstream failure, or cancelled): nothing to draw
        if model.start_offset_s is not None and model.end_offset_s is not None:
            start, end = run_start + model.start_offset_s, run_start + model.end_offset_s
        else:
            iso_start, iso_end = _timestamp(model.started_at), _timestamp(model.completed_at)
            if iso_start is None or iso_end is None:
                continue
            start, end = iso_start - origin, iso_end - origin
        executions.append(
            ModelExecution(
                model=model.name,
                run_label=label,
                year=year,
                stage=stage,
                lane=model.worker,
                execution_class=str(model.execution_class),
                status=str(model.status.value),
                start_s=start,
                end_s=max(end, start),
                attempts=model.attempts,
            )
        )
    run_end = run_start + result.wall_time_s
    run_end = max([run_end, *(e.end_s for e in executions)])
    on_path = {id(e) for e in critical_chain(executions)}
    executions = [dataclasses.replace(e, on_critical_path=id(e) in on_path) for e in executions]

    # The engine records the starting limit as the first entry of limit_changes.
    initial_limit = result.effective_max_workers or result.max_workers
    changes = [LimitChange(at_s=run_start + c.offset_s, limit=c.limit) for c in result.limit_changes]
    if changes:
        initial_limit = changes[0].limit
        changes = changes[1:]
    pressure = [
        PressureEvent(
            at_s=run_start + e.offset_s,
            kind=e.kind,
            detail=(
                f"{e.kind}: {e.reason} (rss {e.rss_mb:.0f} MB, available {e.available_mb:.0f} MB, "
                f"limit {e.limit_before}→{e.limit_after}{'' if e.acted else ', observed only'})"
            ),
        )
        for e in result.pressure_events
    ]
    estimated = planned.get(label, result.estimated_speedup)
    return EngineRun(
        label=label,
        year=year,
        stage=stage,
        start_s=run_start,
        end_s=run_end,
        initial_limit=max(1, int(initial_limit)),
        estimated_speedup=float(estimated) if estimated is not None else None,
        success=result.success,
        models=len(result.results),
        executions=tuple(sorted(executions, key=lambda e: (e.start_s, e.lane))),
        limit_changes=tuple(sorted(changes, key=lambda c: c.at_s)),
        pressure_events=tuple(sorted(pressure, key=lambda p: p.at_s)),
    )


def critical_chain(executions: Sequence[ModelExecution], tolerance_s: float = 1e-3) -> list[ModelExecution]:
    """The chain of executions that set an engine run's wall time, in run order: its critical path as run.

    Starting from the execution that finished last, each step goes to the execution that finished last
    before this one started — what it was waiting for, a dependency or a free worker (the engine starts a
    model as soon as both are there). The plan's critical path counts dependencies only; this one also shows
    where the limit on workers, or a sequential model, held the stage up.
    """
    if not executions:
        return []
    current = max(executions, key=lambda e: (e.end_s, e.duration_s))
    chain = [current]
    while True:
        # A strictly earlier start also guarantees the walk ends, even with zero-length executions.
        earlier = [
            e for e in executions if e.end_s <= current.start_s + tolerance_s and e.start_s < current.start_s
        ]
        if not earlier:
            break
        current = max(earlier, key=lambda e: (e.end_s, e.duration_s))
        chain.append(current)
    chain.reverse()
    return chain


def _year_key(key: Any) -> int:
    if not (isinstance(key, str) and key.isdigit() and len(key) == 4):
        raise ValueError(f"'years' must be keyed by four-digit years, got {key!r}"[:200])
    return int(key)


def _parse_year(year: int, value: Any) -> YearMetrics:
    if not isinstance(value, Mapping):
        raise ValueError(f"years[{year}] must be an object")

    def metric(name: str) -> float | None:
        raw = value.get(name)
        if raw is not None and not _is_number(raw):
            raise ValueError(f"years[{year}].{name} must be a number or null, got {raw!r}")
        return None if raw is None else float(raw)

    return YearMetrics(
        year=year,
        actives=metric("actives"),
        hires=metric("hires"),
        terminations=metric("terminations"),
        new_hire_terminations=metric("new_hire_terminations"),
        avg_compensation=metric("avg_compensation"),
        participation_rate=metric("participation_rate"),
        employee_contributions=metric("employee_contributions"),
        employer_match=metric("employer_match"),
    )


def _years_list(value: Any) -> tuple[int, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(type(y) is int for y in value):
        raise ValueError(f"'completed_years' must be a list of years, got {value!r}"[:200])
    return tuple(value)


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


# ----------------------------------------------------------------------------------------------------------
# Derived views
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageSpeedup:
    """Planned against achieved speedup of one stage, over every year it ran in.

    Both are "serial time / wall time" ratios weighted by time: `achieved` is the models' summed run time
    over the stage's summed wall time; `estimated` is the same summed run time over the wall time the plan
    predicted (each engine run's run time divided by its estimated speedup).
    """

    stage: str
    runs: int
    wall_s: float
    busy_s: float
    estimated: float | None
    achieved: float | None


def stage_speedups(runs: Iterable[EngineRun]) -> list[StageSpeedup]:
    """Per-stage planned vs achieved speedup, stages in run order."""
    grouped: dict[str, list[EngineRun]] = {}
    for run in runs:
        grouped.setdefault(run.stage, []).append(run)
    result = []
    for stage in _ordered_stages(grouped):
        members = grouped[stage]
        wall = sum(r.wall_s for r in members)
        busy = sum(r.busy_s for r in members)
        planned = [r for r in members if r.estimated_speedup and r.busy_s > 0]
        planned_wall = sum(r.busy_s / r.estimated_speedup for r in planned if r.estimated_speedup)
        planned_busy = sum(r.busy_s for r in planned)
        result.append(
            StageSpeedup(
                stage=stage,
                runs=len(members),
                wall_s=wall,
                busy_s=busy,
                estimated=planned_busy / planned_wall if planned_wall > 0 else None,
                achieved=busy / wall if wall > 0 and busy > 0 else None,
            )
        )
    return result


def _ordered_stages(stages: Iterable[str]) -> list[str]:
    present = set(stages)
    known = [s for s in STAGE_ORDER if s in present]
    return known + sorted(present - set(known))


def concurrency_profile(executions: Iterable[ModelExecution]) -> tuple[list[float], list[int]]:
    """How many models were running at each instant, as a step function (times, counts; step at each time)."""
    deltas: dict[float, int] = {}
    for e in executions:
        deltas[e.start_s] = deltas.get(e.start_s, 0) + 1
        deltas[e.end_s] = deltas.get(e.end_s, 0) - 1
    times: list[float] = []
    counts: list[int] = []
    running = 0
    for t in sorted(deltas):
        running += deltas[t]
        times.append(t)
        counts.append(running)
    return times, counts


def limit_profile(runs: Iterable[EngineRun]) -> tuple[list[float], list[float]]:
    """The concurrency limit as a step function over each engine run; NaN breaks the line between runs, when
    no engine is running and there is no limit."""
    times: list[float] = []
    limits: list[float] = []
    for run in runs:
        current = float(run.initial_limit)
        times.append(run.start_s)
        limits.append(current)
        for change in run.limit_changes:
            current = float(change.limit)
            times.append(change.at_s)
            limits.append(current)
        times.append(run.end_s)
        limits.append(current)
        times.append(run.end_s)
        limits.append(math.nan)
    return times, limits


def limit_at(runs: Sequence[EngineRun], at_s: float) -> float | None:
    """The concurrency limit in force at an instant, or None if no engine run covers it."""
    for run in runs:
        if run.start_s <= at_s <= run.end_s:
            current = float(run.initial_limit)
            for change in run.limit_changes:
                if change.at_s <= at_s:
                    current = float(change.limit)
            return current
    return None


# ----------------------------------------------------------------------------------------------------------
# Charts (matplotlib → inline SVG)
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chart:
    """One rendered figure: its key (used for element ids), caption and inline SVG markup."""

    key: str
    title: str
    caption: str
    svg: str


def _svg_from_figure(fig: Figure, key: str, titles: Mapping[str, str] | None = None) -> str:
    """Render a matplotlib figure to SVG markup fit for inlining in HTML.

    Several SVGs share one HTML document, so every id matplotlib writes (and every reference to one) gets the
    chart's key as a prefix; `titles` maps an artist gid to tooltip text, inserted as an SVG `<title>`.
    """
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": key}):
        fig.savefig(
            buffer, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None}
        )
    svg = buffer.getvalue()
    start = svg.find("<svg")
    if start < 0:
        raise RuntimeError("matplotlib produced no <svg> element")
    svg = svg[start:]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.DOTALL)
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{key}-{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{key}-{m.group(1)})", svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{key}-{m.group(1)}"', svg)
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{html.escape(key)}" ', 1)
    if titles:
        for gid, text in titles.items():
            svg = svg.replace(
                f'<g id="{key}-{gid}">', f'<g id="{key}-{gid}"><title>{html.escape(text)}</title>', 1
            )
    return svg


def _new_figure(width_in: float, height_in: float) -> Figure:
    # Figure, not pyplot: no global figure registry and no GUI backend, so rendering works headless.
    return Figure(figsize=(width_in, height_in), dpi=100)


def _class_colour(execution_class: str) -> str:
    return CLASS_COLOURS.get(execution_class, UNKNOWN_CLASS_COLOUR)


def _short_stage(stage: str) -> str:
    return stage.replace("_", " ")


def _fitting_label(share_of_width: float, *candidates: str | None) -> str | None:
    """The first label that fits a band taking this share of the timeline's width (7-point text on a
    13-inch figure: about 0.4% of the width per character), or None."""
    for label in candidates:
        if label and share_of_width > 0.004 * max(3, len(label)):
            return label
    return None


def _plural(count: int) -> str:
    return "" if count == 1 else "s"


def _fmt_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{int(minutes)} min {rest:04.1f} s"
    hours, minutes = divmod(minutes, 60)
    return f"{int(hours)} h {int(minutes):02d} min"


def timeline_chart(report: RunReport) -> Chart | None:
    """Every model execution by worker lane, with year and stage bands, the concurrency limit over time and
    the watchdog's events."""
    executions = report.executions
    if not executions:
        return None
    runs = report.runs
    lanes = sorted({e.lane for e in executions})
    lane_row = {lane: row for row, lane in enumerate(lanes)}
    total = max(report.duration_s, max(e.end_s for e in executions), 1e-9)

    fig = _new_figure(13.0, 2.6 + 0.42 * len(lanes) + 1.9)
    grid = fig.add_gridspec(
        3, 1, height_ratios=[0.9, 0.42 * len(lanes) + 0.5, 1.7], hspace=0.08, left=0.07, right=0.99
    )
    ax_bands = fig.add_subplot(grid[0])
    ax_lanes = fig.add_subplot(grid[1], sharex=ax_bands)
    ax_limit = fig.add_subplot(grid[2], sharex=ax_bands)

    # Year and stage bands.
    ax_bands.set_ylim(0, 2)
    ax_bands.set_yticks([0.5, 1.5], labels=["stage", "year"])
    ax_bands.tick_params(axis="x", labelbottom=False)
    ax_bands.tick_params(axis="y", length=0)
    for spine in ax_bands.spines.values():
        spine.set_visible(False)
    for run in runs:
        colour = STAGE_COLOURS.get(run.stage, "#DDDDDD")
        ax_bands.add_patch(
            Rectangle((run.start_s, 0.05), run.wall_s, 0.9, facecolor=colour, edgecolor="white", alpha=0.75)
        )
        band_label = _fitting_label(
            run.wall_s / total, _short_stage(run.stage), STAGE_ABBREVIATIONS.get(run.stage)
        )
        if band_label:
            ax_bands.text(run.start_s + run.wall_s / 2, 0.5, band_label, ha="center", va="center", fontsize=7)

    titles: dict[str, str] = {}
    for index, step in enumerate(report.other_steps):
        width = step.end_s - step.start_s
        name = "dbt tests" if step.stage == "validation_tests" else _short_stage(step.stage)
        band = Rectangle(
            (step.start_s, 0.05), width, 0.9, facecolor="#E5E5E5", edgecolor="#999999", hatch="..", lw=0.5
        )
        band.set_gid(f"step-{index}")
        ax_bands.add_patch(band)
        titles[f"step-{index}"] = (
            f"{step.label} · {name}, {width:.2f} s · not an engine run: placed after the engine run "
            "before it (the summary records its duration, not its start)"
        )
        band_label = _fitting_label(
            width / total, name, "tests" if step.stage == "validation_tests" else None
        )
        if band_label:
            ax_bands.text(step.start_s + width / 2, 0.5, band_label, ha="center", va="center", fontsize=7)

    year_spans: dict[str, tuple[float, float]] = {}
    spans = sorted(
        [(r.year, r.start_s, r.end_s) for r in runs]
        + [(s.year, s.start_s, s.end_s) for s in report.other_steps],
        key=lambda span: span[1],
    )
    for year, start, end in spans:
        year_key = str(year) if year is not None else "setup"
        first, last = year_spans.get(year_key, (start, end))
        year_spans[year_key] = (min(first, start), max(last, end))
    for index, (year_key, (first, last)) in enumerate(year_spans.items()):
        shade = "#4D4D4D" if index % 2 == 0 else "#7F7F7F"
        ax_bands.add_patch(Rectangle((first, 1.05), last - first, 0.9, facecolor=shade, edgecolor="white"))
        if (last - first) / total > 0.006 * len(year_key):
            ax_bands.text(
                (first + last) / 2, 1.5, year_key, ha="center", va="center", color="white", fontsize=8
            )

    # Stage shading behind the lanes, so a bar's stage can be read without looking up.
    for run in runs:
        ax_lanes.axvspan(
            run.start_s, run.end_s, facecolor=STAGE_COLOURS.get(run.stage, "#DDDDDD"), alpha=0.10, lw=0
        )

    for index, e in enumerate(executions):
        row = lane_row[e.lane]
        failed = not e.succeeded
        bar = Rectangle(
            (e.start_s, row - 0.38),
            max(e.duration_s, total * 0.0005),
            0.76,
            facecolor=_class_colour(e.execution_class),
            edgecolor=FAILED_EDGE_COLOUR if failed else ("black" if e.on_critical_path else "white"),
            linewidth=1.6 if failed or e.on_critical_path else 0.4,
            hatch="///" if failed else None,
        )
        gid = f"exec-{index}"
        bar.set_gid(gid)
        ax_lanes.add_patch(bar)
        year_text = str(e.year) if e.year is not None else "simulation"
        titles[gid] = (
            f"{e.model} · {year_text} {e.stage} · {e.execution_class} · lane {e.lane} · "
            f"{e.start_s:.2f}–{e.end_s:.2f} s ({e.duration_s:.2f} s) · {e.status}"
            + (f" · {e.attempts} attempts" if e.attempts > 1 else "")
            + (" · critical path" if e.on_critical_path else "")
        )
        if e.duration_s / total > 0.0065 * max(6, len(e.model)):
            ax_lanes.text(
                e.start_s + e.duration_s / 2,
                row,
                e.model,
                ha="center",
                va="center",
                fontsize=6.5,
                color="white",
                clip_on=True,
            )
    watchdog_events = [event for run in runs for event in run.pressure_events]
    for event in watchdog_events:
        if event.kind == "pressure":
            ax_lanes.axvline(event.at_s, color=FAILED_EDGE_COLOUR, linestyle=":", linewidth=1.2)
    ax_lanes.set_ylim(len(lanes) - 0.5, -0.5)
    ax_lanes.set_yticks(range(len(lanes)), labels=[f"lane {lane}" for lane in lanes])
    ax_lanes.tick_params(axis="x", labelbottom=False)
    ax_lanes.set_xlim(0, total * 1.005)

    # Concurrency: the limit in force and how many models actually ran.
    times, counts = concurrency_profile(executions)
    ax_limit.fill_between(
        times, counts, step="post", color="#6C8EBF", alpha=0.45, lw=0, label="models running"
    )
    limit_times, limits = limit_profile(runs)
    ax_limit.plot(
        limit_times, limits, drawstyle="steps-post", color="black", lw=1.4, label="concurrency limit"
    )
    labelled: set[str] = set()
    for index, event in enumerate(watchdog_events):
        pressure = event.kind == "pressure"
        legend_label = "memory pressure" if pressure else "pressure relieved"
        (marker,) = ax_limit.plot(
            [event.at_s],
            [(limit_at(runs, event.at_s) or 1.0) + 0.35],
            linestyle="none",
            marker="v" if pressure else "^",
            markersize=8,
            color=FAILED_EDGE_COLOUR if pressure else "#009E73",
            label=legend_label if legend_label not in labelled else "_nolegend_",
        )
        labelled.add(legend_label)
        gid = f"watchdog-{index}"
        marker.set_gid(gid)
        titles[gid] = f"{event.at_s:.2f} s · {event.detail}"
    top = max([*counts, *[v for v in limits if not math.isnan(v)], 1])
    ax_limit.set_ylim(0, top + 1)
    ax_limit.set_ylabel("workers")
    ax_limit.set_xlabel("seconds since the run started")
    ax_limit.grid(axis="y", alpha=0.3)
    ax_limit.legend(loc="upper right", fontsize=7, framealpha=0.85, ncols=3)

    handles: list[Any] = [
        Patch(facecolor=colour, label=name.replace("_", " ")) for name, colour in CLASS_COLOURS.items()
    ]
    handles.append(Patch(facecolor="white", edgecolor=FAILED_EDGE_COLOUR, hatch="///", label="failed"))
    if any(e.on_critical_path for e in executions):
        handles.append(Patch(facecolor="white", edgecolor="black", linewidth=1.6, label="critical path"))
    if any(event.kind == "pressure" for event in watchdog_events):
        handles.append(Line2D([], [], color=FAILED_EDGE_COLOUR, linestyle=":", label="memory pressure"))
    ax_bands.legend(
        handles=handles,
        loc="lower right",
        bbox_to_anchor=(1.0, 1.02),
        ncols=len(handles),
        fontsize=7.5,
        frameon=False,
    )

    lanes_used = len(lanes)
    pressure_count = sum(1 for event in watchdog_events if event.kind == "pressure")
    changes = sum(len(run.limit_changes) for run in runs)
    caption = (
        f"{len(executions)} model executions on {lanes_used} worker lane{_plural(lanes_used)} over "
        f"{_fmt_seconds(total)}; {changes} concurrency-limit change{'s' if changes != 1 else ''} and "
        f"{pressure_count} memory-pressure event{'s' if pressure_count != 1 else ''}. "
        "Hover a bar for the model, its timing and status."
    )
    return Chart("timeline", "Execution timeline", caption, _svg_from_figure(fig, "timeline", titles))


def speedup_chart(report: RunReport) -> Chart | None:
    """Estimated against achieved speedup per stage."""
    rows = [
        row for row in stage_speedups(report.runs) if row.achieved is not None or row.estimated is not None
    ]
    if not rows:
        return None
    fig = _new_figure(8.0, 3.4)
    ax = fig.add_subplot()
    positions = range(len(rows))
    width = 0.38
    estimated = [row.estimated or 0.0 for row in rows]
    achieved = [row.achieved or 0.0 for row in rows]
    ax.bar([p - width / 2 for p in positions], estimated, width, color="#BBBBBB", label="estimated (plan)")
    ax.bar([p + width / 2 for p in positions], achieved, width, color="#0072B2", label="achieved")
    ax.axhline(1.0, color="black", lw=0.8, linestyle="--")
    for p, value in zip(positions, achieved, strict=True):
        if value:
            ax.text(p + width / 2, value, f"{value:.2f}×", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(list(positions), labels=[_short_stage(row.stage) for row in rows], fontsize=8)
    pad = max(0.0, (4 - len(rows)) / 2)  # a stage or two: keep the bars from filling the panel
    ax.set_xlim(-0.6 - pad, len(rows) - 0.4 + pad)
    ax.set_ylabel("models' run time ÷ wall time")
    ax.set_ylim(0, max([*estimated, *achieved, 1.0]) * 1.18)
    ax.legend(fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    caption = (
        "Per stage, over all years: the plan's estimated speedup against the parallelism achieved — the "
        "models' summed run time over wall time, so 1× (dashed) means one model at a time. It is not a "
        "speedup over a one-worker run: models that share the CPU (dbt's Python runs under one GIL) each "
        "take longer when they run together; compare the stage times of a `--no-parallel` run for that."
    )
    return Chart(
        "speedup", "Planned speedup versus achieved parallelism", caption, _svg_from_figure(fig, "speedup")
    )


def slowest_models(report: RunReport, count: int = SLOWEST_MODELS) -> list[ModelExecution]:
    return sorted(report.executions, key=lambda e: (-e.duration_s, e.model))[:count]


def slowest_chart(report: RunReport) -> Chart | None:
    rows = slowest_models(report)
    if not rows:
        return None
    fig = _new_figure(8.0, 0.9 + 0.26 * len(rows))
    ax = fig.add_subplot()
    labels = [f"{e.model} ({e.year if e.year is not None else 'sim'})" for e in rows]
    ax.barh(
        range(len(rows)),
        [e.duration_s for e in rows],
        color=[_class_colour(e.execution_class) for e in rows],
        edgecolor=[FAILED_EDGE_COLOUR if not e.succeeded else "none" for e in rows],
    )
    ax.set_yticks(range(len(rows)), labels=labels, fontsize=7.5)
    ax.invert_yaxis()
    ax.set_xlabel("seconds")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    caption = f"The {len(rows)} longest model executions, coloured by execution class."
    return Chart("slowest", "Slowest models", caption, _svg_from_figure(fig, "slowest"))


def _money(value: float, _pos: object = None) -> str:
    magnitude = abs(value)
    if magnitude >= 1e9:
        return f"${value / 1e9:.1f}B"
    if magnitude >= 1e6:
        return f"${value / 1e6:.1f}M"
    if magnitude >= 1e3:
        return f"${value / 1e3:.0f}k"
    return f"${value:.0f}"


def _count(value: float, _pos: object = None) -> str:
    return f"{value:,.0f}"


def _percent(value: float, _pos: object = None) -> str:
    return f"{value * 100:.0f}%" if abs(value) <= 1.0 else f"{value:.0f}%"


@dataclass(frozen=True)
class _YearSeries:
    label: str
    values: list[float | None]
    colour: str


def _year_chart(
    key: str,
    title: str,
    caption: str,
    years: Sequence[int],
    series: Sequence[_YearSeries],
    formatter: Callable[[float, object], str],
    bars: bool,
) -> Chart | None:
    if not any(v is not None for s in series for v in s.values):
        return None
    fig = _new_figure(4.6, 2.9)
    ax = fig.add_subplot()
    positions = list(range(len(years)))
    if bars:
        width = 0.8 / len(series)
        for index, s in enumerate(series):
            offset = (index - (len(series) - 1) / 2) * width
            ax.bar(
                [p + offset for p in positions],
                [v if v is not None else 0.0 for v in s.values],
                width,
                color=s.colour,
                label=s.label,
            )
    else:
        for s in series:
            ax.plot(
                positions,
                [v if v is not None else math.nan for v in s.values],
                marker="o",
                color=s.colour,
                label=s.label,
            )
        ax.margins(y=0.25)
    ax.set_xticks(positions, labels=[str(y) for y in years])
    pad = max(0.0, (3 - len(years)) / 2)  # one or two years: keep bars and points from filling the panel
    ax.set_xlim(-0.5 - pad, len(years) - 0.5 + pad)
    ax.yaxis.set_major_formatter(FuncFormatter(formatter))
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    if len(series) > 1:
        top = max((v for s in series for v in s.values if v is not None), default=1.0)
        ax.set_ylim(0, top * 1.3)
        ax.legend(fontsize=7, frameon=False, loc="upper center", ncols=len(series))
    fig.tight_layout()
    return Chart(key, title, caption, _svg_from_figure(fig, key))


def year_charts(report: RunReport) -> list[Chart]:
    """Per-year results: headcount, hires and terminations, pay, participation, contributions and match."""
    ys = report.years
    years = [y.year for y in ys]
    specs: list[Chart | None] = [
        _year_chart(
            "headcount",
            "Active headcount",
            "Active employees at the end of each year.",
            years,
            [_YearSeries("actives", [y.actives for y in ys], "#0072B2")],
            _count,
            bars=False,
        ),
        _year_chart(
            "hires-terminations",
            "Hires and terminations",
            "Hires, experienced and new-hire terminations.",
            years,
            [
                _YearSeries("hires", [y.hires for y in ys], "#009E73"),
                _YearSeries("terminations", [y.terminations for y in ys], "#D55E00"),
                _YearSeries("new-hire terminations", [y.new_hire_terminations for y in ys], "#E69F00"),
            ],
            _count,
            bars=True,
        ),
        _year_chart(
            "avg-compensation",
            "Average compensation",
            "Mean compensation of active employees.",
            years,
            [_YearSeries("average compensation", [y.avg_compensation for y in ys], "#CC79A7")],
            _money,
            bars=False,
        ),
        _year_chart(
            "participation",
            "Participation rate",
            "Share of eligible employees enrolled in the plan.",
            years,
            [_YearSeries("participation", [y.participation_rate for y in ys], "#56B4E9")],
            _percent,
            bars=False,
        ),
        _year_chart(
            "employee-contributions",
            "Employee contributions",
            "Total employee deferrals per year.",
            years,
            [_YearSeries("employee contributions", [y.employee_contributions for y in ys], "#0072B2")],
            _money,
            bars=True,
        ),
        _year_chart(
            "employer-match",
            "Employer match",
            "Total employer matching contributions per year.",
            years,
            [_YearSeries("employer match", [y.employer_match for y in ys], "#009E73")],
            _money,
            bars=True,
        ),
    ]
    return [chart for chart in specs if chart is not None]


# ----------------------------------------------------------------------------------------------------------
# HTML
# ----------------------------------------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 0;
       color: #222; background: #fafafa; }
header { background: #1f2d3d; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 6px 0; font-size: 22px; }
header .meta { font-size: 13px; opacity: 0.9; }
main { padding: 10px 28px 40px 28px; max-width: 1400px; }
section { margin-top: 26px; }
h2 { font-size: 18px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
figure.chart { margin: 10px 0; background: #fff; border: 1px solid #e3e3e3; border-radius: 4px;
               padding: 8px; }
figure.chart svg { display: block; width: 100%; height: auto; }
figcaption { font-size: 12px; color: #555; margin-top: 4px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 12px; }
.pair { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 12px; }
table { border-collapse: collapse; font-size: 12px; background: #fff; margin: 8px 0; }
th, td { border: 1px solid #e0e0e0; padding: 3px 8px; text-align: right; }
th { background: #f0f0f0; }
td.text, th.text { text-align: left; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.status-success { background: #2e7d32; }
.status-failed { background: #c62828; }
.status-interrupted, .status-unknown { background: #ef6c00; }
.error { background: #fdecea; border: 1px solid #f5c2c0; padding: 8px 12px; white-space: pre-wrap;
         font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
.note { color: #666; font-style: italic; }
"""


def render_html(report: RunReport) -> str:
    """The report as one self-contained HTML document."""
    timeline = timeline_chart(report)
    speedup = speedup_chart(report)
    slowest = slowest_chart(report)
    per_year = year_charts(report)

    parts: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>planalign run {html.escape(report.run_id)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        _header(report),
        "<main>",
    ]
    if report.error:
        parts.append(
            f'<section id="run-error"><h2>Error</h2><div class="error">{html.escape(report.error)}</div>'
        )
        parts.append("</section>")

    parts.append('<section id="execution"><h2>Parallel execution</h2>')
    if timeline is not None:
        parts.append(_figure(timeline))
    elif report.engine_runs_missing:
        parts.append('<p class="note">This run directory has no engine_runs.json: no execution timeline.</p>')
    else:
        parts.append('<p class="note">No model executed in this run.</p>')
    parts.append("</section>")

    parts.append('<section id="planned-vs-achieved"><h2>Planned versus achieved</h2><div class="pair">')
    if speedup is not None:
        parts.append(_figure(speedup))
    if slowest is not None:
        parts.append(_figure(slowest))
    parts.append("</div>")
    if report.runs:
        parts.append(_stage_table(report))
        parts.append(_slowest_table(report))
    else:
        parts.append('<p class="note">No engine runs recorded.</p>')
    parts.append("</section>")

    parts.append('<section id="results"><h2>Simulation results</h2>')
    if per_year:
        parts.append('<div class="grid">')
        parts.extend(_figure(chart) for chart in per_year)
        parts.append("</div>")
        parts.append(_year_table(report))
    else:
        parts.append('<p class="note">No simulated year completed: no results to chart.</p>')
    parts.append("</section>")

    parts.extend(["</main>", "</body>", "</html>"])
    return "\n".join(parts) + "\n"


def _header(report: RunReport) -> str:
    status = report.status if report.status in {"success", "failed", "interrupted"} else "unknown"
    years = (
        f"{report.start_year}–{report.end_year}"
        if report.start_year is not None and report.end_year is not None
        else "?"
    )
    completed = ", ".join(str(y) for y in report.completed_years) or "none"
    par = report.parallelization
    if par:
        enabled = "on" if par.get("enabled") else "off"
        parallel = f"model parallelization {enabled}"
        if par.get("max_workers") is not None:
            parallel += f", max {par.get('max_workers')} workers"
    else:
        parallel = "parallelization settings not recorded"
    return (
        "<header>"
        f"<h1>planalign run {html.escape(report.run_id)} "
        f'<span class="badge status-{status}">{html.escape(report.status)}</span></h1>'
        f'<div class="meta">years {html.escape(years)} · completed: {html.escape(completed)} · '
        f"started {html.escape(report.started_at or '?')} · "
        f"finished {html.escape(report.completed_at or '?')} · "
        f"{html.escape(parallel)} · elapsed {html.escape(_fmt_seconds(report.duration_s))}</div>"
        "</header>"
    )


def _figure(chart: Chart) -> str:
    return (
        f'<figure class="chart" id="chart-{chart.key}" data-chart="{chart.key}">'
        f"{chart.svg}<figcaption><strong>{html.escape(chart.title)}.</strong> "
        f"{html.escape(chart.caption)}</figcaption></figure>"
    )


def _cell(value: float | None, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def _stage_table(report: RunReport) -> str:
    rows = [
        "<details open><summary>Every engine run</summary>",
        '<table id="stage-table"><thead><tr><th class="text">run</th><th>models</th><th>wall time</th>'
        "<th>model time</th><th>estimated speedup</th><th>achieved parallelism</th><th>limit changes</th>"
        '<th>pressure events</th><th class="text">result</th></tr></thead><tbody>',
    ]
    for run in report.runs:
        rows.append(
            f'<tr><td class="text">{html.escape(run.label)}</td><td>{len(run.executions)}</td>'
            f"<td>{run.wall_s:.2f} s</td><td>{run.busy_s:.2f} s</td>"
            f"<td>{_cell(run.estimated_speedup, '.2f')}</td><td>{_cell(run.achieved_speedup, '.2f')}</td>"
            f"<td>{len(run.limit_changes)}</td><td>{len(run.pressure_events)}</td>"
            f'<td class="text">{"ok" if run.success else "failed"}</td></tr>'
        )
    rows.append("</tbody></table></details>")
    return "".join(rows)


def _slowest_table(report: RunReport) -> str:
    rows = [
        '<details><summary>Slowest models</summary><table id="slowest-table"><thead><tr>'
        '<th class="text">model</th><th>year</th><th class="text">stage</th><th class="text">class</th>'
        '<th>lane</th><th>seconds</th><th>attempts</th><th class="text">status</th></tr></thead><tbody>'
    ]
    for e in slowest_models(report):
        rows.append(
            f'<tr><td class="text">{html.escape(e.model)}</td>'
            f"<td>{e.year if e.year is not None else '–'}</td>"
            f'<td class="text">{html.escape(e.stage)}</td>'
            f'<td class="text">{html.escape(e.execution_class)}</td>'
            f"<td>{html.escape(str(e.lane))}</td><td>{e.duration_s:.2f}</td>"
            f"<td>{html.escape(str(e.attempts))}</td>"
            f'<td class="text">{html.escape(e.status)}</td></tr>'
        )
    rows.append("</tbody></table></details>")
    return "".join(rows)


def _year_table(report: RunReport) -> str:
    rows = [
        '<table id="year-table"><thead><tr><th>year</th><th>actives</th><th>hires</th><th>terminations</th>'
        "<th>new-hire terminations</th><th>avg compensation</th><th>participation</th>"
        "<th>employee contributions</th><th>employer match</th></tr></thead><tbody>"
    ]
    for y in report.years:
        participation = "–" if y.participation_rate is None else _percent(y.participation_rate)
        rows.append(
            f"<tr><td>{y.year}</td><td>{_cell(y.actives, ',.0f')}</td><td>{_cell(y.hires, ',.0f')}</td>"
            f"<td>{_cell(y.terminations, ',.0f')}</td><td>{_cell(y.new_hire_terminations, ',.0f')}</td>"
            f"<td>{_cell(y.avg_compensation, ',.0f')}</td><td>{participation}</td>"
            f"<td>{_cell(y.employee_contributions, ',.0f')}</td>"
            f"<td>{_cell(y.employer_match, ',.0f')}</td></tr>"
        )
    rows.append("</tbody></table>")
    return "".join(rows)


# ----------------------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------------------


def write_report(run_dir: Path, out: Path) -> Path:
    """Write the HTML report of `run_dir` to `out` (creating its parent directories) and return `out`.

    The file is written to a temporary sibling and renamed, so a reader never sees half a report and a failed
    render leaves an earlier report in place. Raises `RunDirectoryError` for a missing or malformed run
    directory and `ReportOutputError` when `out` cannot be written; both are usage errors (exit status 2).
    """
    report = load_run(Path(run_dir))
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportOutputError(f"cannot write the report to {out}: {exc}") from exc
    document = render_html(report)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    except OSError as exc:
        raise ReportOutputError(f"cannot write the report to {out}: {exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(document)
        os.chmod(tmp_name, 0o644)  # mkstemp creates 0600; a report is meant to be shared
        os.replace(tmp_name, out)
    except OSError as exc:
        Path(tmp_name).unlink(missing_ok=True)
        raise ReportOutputError(f"cannot write the report to {out}: {exc}") from exc
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return out
