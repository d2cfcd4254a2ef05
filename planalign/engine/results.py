"""Run results as data: what each model did and how the run went, plus their JSON file.

The engine returns an `EngineRunResult`; the orchestrator stores it in its run directory; the generic `run`
command writes it as `target/planalign_run_results.json` next to dbt's artifacts; the HTML report draws its
timeline (one row per worker lane, the concurrency limit over time) from it. So each `ModelResult` carries
its start and end both as ISO-8601 timestamps and as offsets from the run start, its lane and its class.

File layout: `{"results": [<model result>...], "summary": {"runs": [<run summary>...], <totals>}}`. Each model
result names its run by `run_index` (position in `summary.runs`) and `run_label`, so one file can hold the
several engine runs of a multi-stage simulation.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

from planalign import __version__
from planalign.log import get_logger

RUN_RESULTS_FILENAME = "planalign_run_results.json"
SCHEMA_VERSION = 1


class ModelStatus(StrEnum):
    """SUCCESS/ERROR: the model ran (after retries). SKIPPED: a dependency failed, so it never started.
    CANCELLED: the run was cancelled before the model started, or its running query was interrupted."""

    SUCCESS = "success"
    ERROR = "error"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class ModelResult:
    """The outcome of one model in one engine run.

    `started_at`/`completed_at` (ISO-8601, UTC) and `start_offset_s`/`end_offset_s` (seconds since the run
    started) span all attempts; `duration_s` is their difference. `worker` is the lane (0-based) the model ran
    on — a lane is a slot of the concurrency limit, not an OS thread id. `skipped_because` names the failed
    ancestor (unique_id) for SKIPPED models.
    """

    unique_id: str
    name: str
    status: ModelStatus
    execution_class: str
    attempts: int = 0
    started_at: str | None = None
    completed_at: str | None = None
    start_offset_s: float | None = None
    end_offset_s: float | None = None
    duration_s: float = 0.0
    worker: int | None = None
    error: str | None = None
    skipped_because: str | None = None
    label: str | None = None
    #: dbt's timing steps of the last attempt (name, started_at, completed_at ISO-8601): compile, execute.
    timing: tuple[tuple[str, str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        data["timing"] = [list(step) for step in self.timing]  # as JSON holds it
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelResult:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["status"] = ModelStatus(values["status"])
        values["timing"] = tuple(tuple(step) for step in values.get("timing") or ())
        return cls(**values)


@dataclass(frozen=True)
class PressureEvent:
    """One memory-watchdog transition. `kind` is "pressure" (limit dropped) or "relieved" (limit restored).

    `acted` is False when the watchdog only observed (fallback_on_resource_pressure off): the limit stayed.
    """

    kind: str
    at: str
    offset_s: float
    rss_mb: float
    available_mb: float
    limit_before: int
    limit_after: int
    reason: str
    acted: bool = True

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PressureEvent:
        return cls(**{k: v for k, v in data.items() if k in {f.name for f in fields(cls)}})


@dataclass(frozen=True)
class LimitChange:
    """The concurrency limit took value `limit` at `offset_s` (the first entry is the starting limit)."""

    at: str
    offset_s: float
    limit: int
    reason: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LimitChange:
        return cls(**{k: v for k, v in data.items() if k in {f.name for f in fields(cls)}})


@dataclass(frozen=True)
class EngineRunResult:
    """The outcome of one `ParallelExecutionEngine.execute` call.

    `parallelism_mean` is the time-weighted mean number of models executing from the first model start to
    the last model end; `parallelism_max` the peak. Each model's executing span is dbt's own timing of the
    node when the invoker reports it, else the span of its invocation. `summed_model_time_s` sums those
    spans over all attempts. `invocations` counts dbt invocations (one runs one model or a batch).
    `theoretical_speedup` is the plan's graph bound (total work ÷ critical path) and `estimated_speedup`
    the plan's class- and worker-aware estimate. `max_workers` is what the settings asked for,
    `effective_max_workers` what the run started with after fallbacks.
    `wall_time_s` spans the whole `execute` call, validation and planning included. `failed_fast` names the
    model whose failure stopped a fail-fast run (its other unfinished models are CANCELLED).
    """

    results: tuple[ModelResult, ...]
    wall_time_s: float
    summed_model_time_s: float
    parallelism_mean: float
    parallelism_max: int
    theoretical_speedup: float
    max_workers: int
    estimated_speedup: float = 1.0
    effective_max_workers: int | None = None
    pressure_events: tuple[PressureEvent, ...] = ()
    limit_changes: tuple[LimitChange, ...] = ()
    fallbacks: tuple[str, ...] = ()
    safety_warnings: tuple[str, ...] = ()
    cancelled: bool = False
    label: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    invocations: int = 0
    failed_fast: str | None = None

    @property
    def success(self) -> bool:
        """True when the run was not cancelled and every model succeeded."""
        return not self.cancelled and all(r.status is ModelStatus.SUCCESS for r in self.results)

    @property
    def failed(self) -> tuple[ModelResult, ...]:
        """Models that ran and failed (after retries)."""
        return self.with_status(ModelStatus.ERROR)

    @property
    def skipped(self) -> tuple[ModelResult, ...]:
        return self.with_status(ModelStatus.SKIPPED)

    def with_status(self, status: ModelStatus) -> tuple[ModelResult, ...]:
        return tuple(r for r in self.results if r.status is status)

    def counts(self) -> dict[str, int]:
        """Number of models per status (every status present, zero included)."""
        counts = {s.value: 0 for s in ModelStatus}
        for r in self.results:
            counts[r.status.value] += 1
        return counts

    def result_for(self, unique_id_or_name: str) -> ModelResult:
        for r in self.results:
            if unique_id_or_name in (r.unique_id, r.name):
                return r
        raise KeyError(unique_id_or_name)

    def summary_dict(self) -> dict[str, Any]:
        """Everything but the per-model results."""
        return {
            "label": self.label,
            "success": self.success,
            "cancelled": self.cancelled,
            "failed_fast": self.failed_fast,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "wall_time_s": self.wall_time_s,
            "summed_model_time_s": self.summed_model_time_s,
            "parallelism_mean": self.parallelism_mean,
            "parallelism_max": self.parallelism_max,
            "invocations": self.invocations,
            "theoretical_speedup": self.theoretical_speedup,
            "estimated_speedup": self.estimated_speedup,
            "max_workers": self.max_workers,
            "effective_max_workers": self.effective_max_workers,
            "counts": self.counts(),
            "pressure_events": [asdict(e) for e in self.pressure_events],
            "limit_changes": [asdict(c) for c in self.limit_changes],
            "fallbacks": list(self.fallbacks),
            "safety_warnings": list(self.safety_warnings),
        }

    def to_dict(self) -> dict[str, Any]:
        """The single-run file form: `{"results": [...], "summary": {...}}`."""
        return _document([self])

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any], results: Iterable[ModelResult]) -> EngineRunResult:
        return cls(
            results=tuple(results),
            wall_time_s=summary["wall_time_s"],
            summed_model_time_s=summary["summed_model_time_s"],
            parallelism_mean=summary["parallelism_mean"],
            parallelism_max=summary["parallelism_max"],
            theoretical_speedup=summary["theoretical_speedup"],
            estimated_speedup=summary.get("estimated_speedup", 1.0),
            max_workers=summary["max_workers"],
            effective_max_workers=summary.get("effective_max_workers"),
            pressure_events=tuple(PressureEvent.from_dict(e) for e in summary.get("pressure_events", [])),
            limit_changes=tuple(LimitChange.from_dict(c) for c in summary.get("limit_changes", [])),
            fallbacks=tuple(summary.get("fallbacks", [])),
            safety_warnings=tuple(summary.get("safety_warnings", [])),
            cancelled=summary.get("cancelled", False),
            label=summary.get("label"),
            started_at=summary.get("started_at"),
            completed_at=summary.get("completed_at"),
            invocations=summary.get("invocations", 0),
            failed_fast=summary.get("failed_fast"),
        )


def _document(runs: Sequence[EngineRunResult]) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for index, run in enumerate(runs):
        for model in run.results:
            results.append({**model.to_dict(), "run_index": index, "run_label": run.label})
    statuses = {s.value: 0 for s in ModelStatus}
    for run in runs:
        for status, count in run.counts().items():
            statuses[status] += count
    return {
        "results": results,
        "summary": {
            "schema_version": SCHEMA_VERSION,
            "planalign_version": __version__,
            "success": all(run.success for run in runs),
            "cancelled": any(run.cancelled for run in runs),
            "wall_time_s": sum(run.wall_time_s for run in runs),
            "summed_model_time_s": sum(run.summed_model_time_s for run in runs),
            "parallelism_max": max((run.parallelism_max for run in runs), default=0),
            "counts": statuses,
            "runs": [run.summary_dict() for run in runs],
        },
    }


def write_run_results(
    path: Path,
    result: EngineRunResult | Sequence[EngineRunResult],
    *,
    args: Mapping[str, Any] | None = None,
) -> None:
    """Write one run or several as JSON, atomically (a reader never sees half a file). `args`: the command's
    own flags, kept under `args` (`planalign run`: what dbt's run_results.json has no key for)."""
    runs = [result] if isinstance(result, EngineRunResult) else list(result)
    document = _document(runs)
    if args is not None:
        document["args"] = dict(args)
    write_json_atomic(Path(path), document)


def write_json_atomic(path: Path, document: Any) -> None:
    """Write `document` as JSON to `path` through a temporary file and a rename: a reader (the report, a
    service polling the run directory) or a crash never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=2, sort_keys=False, default=str) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_run_results(path: Path) -> list[EngineRunResult]:
    """Read a file written by `write_run_results`: the runs in the order they were written."""
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    summaries = document["summary"]["runs"]
    per_run: list[list[ModelResult]] = [[] for _ in summaries]
    for item in document["results"]:
        per_run[item.get("run_index", 0)].append(ModelResult.from_dict(item))
    return [EngineRunResult.from_summary(s, per_run[i]) for i, s in enumerate(summaries)]


def concurrency_steps(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, int]]:
    """How many of the (start, end) intervals are open, as a step function: (instant, count from that
    instant until the next one), one step per distinct start or end, in time order.

    The one sweep over execution spans: the engine's `parallelism_mean`/`parallelism_max` and the report's
    "models running" line both come from it. An interval ending at the instant another starts is not
    overlapping it, so a model that starts as another finishes does not count twice.
    """
    deltas: dict[float, int] = {}
    for start, end in intervals:
        deltas[start] = deltas.get(start, 0) + 1
        deltas[end] = deltas.get(end, 0) - 1
    steps: list[tuple[float, int]] = []
    running = 0
    for at in sorted(deltas):
        running += deltas[at]
        steps.append((at, running))
    return steps


def durations_from_results(runs: Iterable[EngineRunResult]) -> dict[str, float]:
    """unique_id → seconds of the latest successful run of each model: the weights that
    `plan(durations=...)` wants."""
    durations: dict[str, float] = {}
    for run in runs:
        for model in run.results:
            if model.status is ModelStatus.SUCCESS:
                durations[model.unique_id] = model.duration_s
    return durations


def load_durations(path: Path) -> dict[str, float]:
    """The per-model durations recorded in a results file of an earlier run (`write_run_results`: the
    orchestrator's `engine_runs.json`, `planalign run`'s `target/planalign_run_results.json`): what
    `ParallelExecutionEngine(durations=...)` wants, so that priorities and estimates follow the critical path
    in seconds rather than in model counts.

    A missing file gives `{}` (a first run has no history), and so does one that cannot be read, with a
    warning: a plan without recorded durations is still correct, only its priorities are coarser, so a
    damaged history must not stop a run.
    """
    path = Path(path)
    if not path.exists():
        return {}
    try:
        return durations_from_results(load_run_results(path))
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        get_logger("planalign.engine").warning(
            "recorded model durations not read; planning without them", path=str(path), error=str(exc)
        )
        return {}
