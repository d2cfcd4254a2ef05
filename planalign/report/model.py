"""The report's data: a run directory read, validated and placed on one clock.

`load_run` turns `summary.json` and `engine_runs.json` into the frozen `RunReport` that the charts and the
HTML draw, so that a bad directory fails with `RunDirectoryError` (naming the file and the field) before
anything is drawn. A run directory may come from anywhere — another machine, an archive, an attacker — so
every value the report uses is checked here, and a value of the wrong type becomes a message, not a traceback
or markup in the page.

The report keeps no copy of the writers' types: `engine_runs.json` is read by the engine's own reader into
its `EngineRunResult` (with the engine's `LimitChange` and `PressureEvent`), and each year of `summary.json`
into the simulation's `YearMetrics`. What the report adds are the *placed* views the charts need and the files
do not hold: `ModelExecution` (a model result joined with its run's year and stage, on the run's clock, on
the critical path or not), `EngineRun` (an engine run on that clock, with the plan's speedup from the summary)
and `OtherStep` (the year's dbt tests, which are not engine runs).

Why it is long: about 480 lines, over the package's ~400, because reading and checking are one concern
here: each check sits next to the reading it guards (the error names the field the reader was about to
use), and splitting them would leave two modules that must change together whenever a file format does.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from planalign.engine.results import (
    EngineRunResult,
    LimitChange,
    ModelStatus,
    PressureEvent,
    load_run_results,
)
from planalign.errors import RunDirectoryError
from planalign.simulation.assumptions import Assumptions, AssumptionsError, assumptions_from_dict
from planalign.simulation.run_directory import (
    SUMMARY_SCHEMA_VERSION,
    NondiscriminationResults,
    RunFileError,
    RunKind,
    YearCost,
    YearMetrics,
    engine_runs_path,
    read_json_object,
    run_kind,
)
from planalign.simulation.run_directory import summary_path as run_summary_path
from planalign.simulation.run_labels import LabelError, ReportLabels, read_labels


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
class EngineRun:
    """One engine execution placed on the run's clock: one stage of one year (or a once-per-simulation
    stage when `year` is None).

    `limit_changes` and `pressure_events` are the engine's own records, their `offset_s` counted from this
    run's start (`at_s` places one on the run's clock); the engine records the starting limit as the first
    limit change, which is `initial_limit` here and not repeated in `limit_changes`.
    """

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

    def at_s(self, offset_s: float) -> float:
        """An engine offset (seconds since this run started) on the run's clock."""
        return self.start_s + offset_s


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
class RunReport:
    """Everything the report shows, validated and on one clock. `years` is keyed by year, as in the
    simulation's `SimulationSummary`, and in year order."""

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
    years: Mapping[int, YearMetrics]
    engine_runs_missing: bool
    other_steps: tuple[OtherStep, ...] = ()
    schema_version: int = SUMMARY_SCHEMA_VERSION
    kind: RunKind | None = "years"
    stage: str | None = None
    config_digest: str | None = None
    database_path: str | None = None
    assumptions: Assumptions | None = None
    assumptions_note: str | None = None
    """Why `assumptions` is None: the summary predates them, or the run could not read them."""
    labels: ReportLabels = dataclasses.field(default_factory=ReportLabels)
    """The run's name, and the title, client and preparer given to it (`labels.json`; none when absent)."""

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
    """Read and validate a run directory. Raises `RunDirectoryError` naming the file and what is wrong."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirectoryError(f"run directory {run_dir} does not exist or is not a directory")
    summary_path = run_summary_path(run_dir)
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
    engine_path = engine_runs_path(run_dir)
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
        return read_json_object(path)
    except RunFileError as exc:
        raise _malformed(exc.path, exc.problem) from None


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
    writes (the engine's reader, which trusts its own files, runs after this)."""
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

    years_value = summary.get("years") or {}
    if not isinstance(years_value, Mapping):
        raise ValueError("'years' must be an object keyed by year")
    years = sorted((_year_key(key), value) for key, value in years_value.items())
    parallelization = summary.get("parallelization") or {}
    if not isinstance(parallelization, Mapping):
        raise ValueError("'parallelization' must be an object")
    return RunReport(
        run_dir=run_dir,
        run_id=str(summary.get("run_id") or run_dir.name),
        status=str(summary.get("status") or "unknown"),
        started_at=_optional_str(summary.get("started_at")),
        completed_at=_optional_str(summary.get("completed_at")),
        start_year=_optional_year("start_year", summary.get("start_year")),
        end_year=_optional_year("end_year", summary.get("end_year")),
        completed_years=_years_list(summary.get("completed_years")),
        error=_optional_str(summary.get("error")),
        parallelization=parallelization,
        runs=tuple(runs),
        years={year: _year_metrics(year, value) for year, value in years},
        engine_runs_missing=engine_runs is None,
        other_steps=_other_steps(stage_rows, runs),
        schema_version=int(summary.get("schema_version", 0)),
        kind=run_kind(summary),
        stage=_optional_str(summary.get("stage")),
        config_digest=_optional_str(summary.get("config_digest")) or None,
        database_path=_optional_str(summary.get("database_path")),
        **_assumptions(summary),
        labels=_labels(run_dir),
    )


def _labels(run_dir: Path) -> ReportLabels:
    try:
        return read_labels(run_dir)
    except LabelError as exc:
        raise RunDirectoryError(str(exc)) from exc


def _assumptions(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The run's assumptions, or a note saying why there are none."""
    version = summary.get("schema_version", 0)
    value = summary.get("assumptions")
    if value is None:
        if version < 2:
            note = (
                f"This run directory was written with summary schema version {version}, before runs recorded "
                "their assumptions; rerun the simulation to see them here."
            )
        else:
            reason = summary.get("assumptions_error") or "no reason given"
            note = f"The run could not record its assumptions: {reason}"
        return {"assumptions": None, "assumptions_note": note}
    if not isinstance(value, Mapping):
        raise ValueError("'assumptions' must be an object")
    try:
        return {"assumptions": assumptions_from_dict(value), "assumptions_note": None}
    except AssumptionsError as exc:
        raise ValueError(str(exc)) from exc


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
    changes = list(result.limit_changes)
    if changes:
        initial_limit = changes[0].limit
        changes = changes[1:]
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
        limit_changes=tuple(sorted(changes, key=lambda c: c.offset_s)),
        pressure_events=tuple(sorted(result.pressure_events, key=lambda p: p.offset_s)),
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


def _year_metrics(year: int, value: Any) -> YearMetrics:
    """One year of summary.json, which the simulation writes as `dataclasses.asdict(YearMetrics)`, read
    back into `YearMetrics`: each field must be there and be what the simulation writes (a whole number for
    counts, a finite number for amounts and rates); `events_by_type` may be absent (it has a default)."""
    if not isinstance(value, Mapping):
        raise ValueError(f"years[{year}] must be an object")
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(YearMetrics):
        name = spec.name
        if name == "nondiscrimination":
            raw_nd = value.get(name)
            values[name] = None if raw_nd is None else _nondiscrimination(year, raw_nd)
            continue
        if name == "cost":
            raw_cost = value.get(name)
            values[name] = None if raw_cost is None else _year_cost(year, raw_cost)
            continue
        if name == "events_by_type":
            counts = value.get(name, {})
            if not (isinstance(counts, Mapping) and all(type(n) is int for n in counts.values())):
                raise ValueError(f"years[{year}].{name} must map event types to counts, got {counts!r}"[:200])
            values[name] = {str(kind): n for kind, n in counts.items()}
            continue
        raw: Any = value.get(name)
        whole = spec.type in {int, "int"}
        if not (type(raw) is int if whole else _is_number(raw)):
            expected = "a whole number" if whole else "a number"
            raise ValueError(f"years[{year}].{name} must be {expected}, got {raw!r}"[:200])
        values[name] = raw if whole else float(raw)
    return YearMetrics(**values)


def _year_cost(year: int, value: Any) -> YearCost:
    """years[Y].cost: a whole number of enrolled actives and finite amounts."""
    if not isinstance(value, Mapping):
        raise ValueError(f"years[{year}].cost must be an object")
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(YearCost):
        raw: Any = value.get(spec.name)
        where = f"years[{year}].cost.{spec.name}"
        if str(spec.type) == "int":
            if type(raw) is not int:
                raise ValueError(f"{where} must be a whole number, got {raw!r}"[:200])
            values[spec.name] = raw
        elif _is_number(raw):
            values[spec.name] = float(raw)
        else:
            raise ValueError(f"{where} must be a number, got {raw!r}"[:200])
    return YearCost(**values)


def _nondiscrimination(year: int, value: Any) -> NondiscriminationResults:
    """years[Y].nondiscrimination: every field present, booleans for the pass/fail flags, whole numbers for
    the counts, numbers (or null for an average of an empty group) for the rest."""
    if not isinstance(value, Mapping):
        raise ValueError(f"years[{year}].nondiscrimination must be an object")
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(NondiscriminationResults):
        raw: Any = value.get(spec.name)
        where = f"years[{year}].nondiscrimination.{spec.name}"
        kind = str(spec.type)
        if kind == "bool":
            if type(raw) is not bool:
                raise ValueError(f"{where} must be true or false, got {raw!r}"[:200])
            values[spec.name] = raw
        elif kind == "int":
            if type(raw) is not int:
                raise ValueError(f"{where} must be a whole number, got {raw!r}"[:200])
            values[spec.name] = raw
        elif raw is None and "None" in kind:
            values[spec.name] = None
        elif _is_number(raw):
            values[spec.name] = float(raw)
        else:
            raise ValueError(f"{where} must be a number, got {raw!r}"[:200])
    return NondiscriminationResults(**values)


def _years_list(value: Any) -> tuple[int, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(_is_year(y) for y in value):
        raise ValueError(f"'completed_years' must be a list of years, got {value!r}"[:200])
    return tuple(value)


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _is_year(value: Any) -> bool:
    """A year as the simulation writes it: a whole number of four digits (as `years` is keyed)."""
    return type(value) is int and 1000 <= value <= 9999


def _optional_year(key: str, value: Any) -> int | None:
    if value is None:
        return None
    if not _is_year(value):
        raise ValueError(f"'{key}' must be a four-digit year, got {value!r}"[:200])
    return int(value)
