"""The run directory: what one simulation run leaves behind for the report, for comparisons, for services.

`<runs_dir>/<run_id>/` holds `config.json` (the configuration in force), `engine_runs.json` (every engine
execution, per model) and `summary.json` (`SimulationSummary.to_dict()`: status, the database's complete
years, per-year metrics, per-stage timing, what happened to the database). Each file is written atomically and
summary.json last, so a run directory with a summary is complete; summary.json carries a schema version.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from planalign.simulation.events import ProgressCallback, ProgressEvent
from planalign.simulation.stages import SimulationStage

if TYPE_CHECKING:
    from planalign.engine.results import EngineRunResult
    from planalign.simulation.config import SimulationConfig

RunStatus = Literal["success", "failed", "interrupted"]


@dataclass(frozen=True)
class StageSummary:
    """One engine run of a stage (or the year's dbt tests). The parallelism and the estimate are None for
    steps planalign did not schedule (the dbt tests run inside one dbt command, whose own threads it does
    not measure): a made-up 1.0 would read as a measurement."""

    year: int | None
    stage: str
    label: str
    wall_time_s: float
    models: int
    parallelism_mean: float | None
    parallelism_max: int | None
    estimated_speedup: float | None
    success: bool


@dataclass(frozen=True)
class YearMetrics:
    actives: int
    hires: int
    terminations: int
    new_hire_terminations: int
    promotions: int
    raises: int
    enrollments: int
    opt_outs: int
    escalations: int
    participation_rate: float
    employee_contributions: float
    employer_match: float
    avg_compensation: float
    events_by_type: Mapping[str, int] = field(default_factory=dict)


#: Version of summary.json's layout. 1: `schema_version` and `database_note` added (files without a version
#: are version 0 and are still read). The report refuses a newer version than it knows.
SUMMARY_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class SimulationSummary:
    """The outcome of one simulation run. `completed_years` lists the years complete in the database."""

    run_id: str
    status: RunStatus
    started_at: str
    completed_at: str
    start_year: int
    end_year: int
    completed_years: tuple[int, ...]
    years: Mapping[int, YearMetrics]
    stages: tuple[StageSummary, ...]
    run_dir: Path
    database_path: Path
    parallelization: Mapping[str, Any]
    error: str | None = None
    failed_models: tuple[str, ...] = ()
    database_note: str = ""
    """What the run did to the database, in words: saved, replaced, or left unchanged."""

    @property
    def success(self) -> bool:
        return self.status == "success"

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SUMMARY_SCHEMA_VERSION,
            "run_id": self.run_id,
            "status": self.status,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "start_year": self.start_year,
            "end_year": self.end_year,
            "completed_years": list(self.completed_years),
            "years": {str(y): dataclasses.asdict(m) for y, m in sorted(self.years.items())},
            "stages": [dataclasses.asdict(s) for s in self.stages],
            "parallelization": dict(self.parallelization),
            "database_path": str(self.database_path),
            "run_dir": str(self.run_dir),
            "error": self.error,
            "failed_models": list(self.failed_models),
            "database_note": self.database_note,
        }


class RunRecorder:
    """One run's state: its identity, what it recorded so far, where it stands (for tagging the engine's
    events with the year and stage), and its run directory, which `write` writes.

    One per run, so that two runs on one orchestrator (a service running requests side by side) never
    see each other's progress. Used from the run's task only.
    """

    def __init__(
        self,
        config: SimulationConfig,
        first: int,
        last: int,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.config = config
        self.first, self.last = first, last
        self.started_at = _now_iso()
        self.started_monotonic = time.monotonic()
        self.current: tuple[int | None, str] | None = None
        """(year, stage) running now; year None for the once-per-simulation setup."""
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        self.run_id = f"{stamp}-{config.digest()}"
        self.run_dir = Path(config.run.runs_dir) / self.run_id
        self.engine_runs: list[EngineRunResult] = []
        self.config_hash = ""  # set once the census has been checked (it hashes the census file)
        self.stages: list[StageSummary] = []
        self.years: dict[int, YearMetrics] = {}
        self.on_progress = on_progress

    def emit(self, event: ProgressEvent) -> None:
        if self.on_progress is not None:
            self.on_progress(dataclasses.replace(event, elapsed_s=time.monotonic() - self.started_monotonic))

    def record(
        self, year: int | None, stage: SimulationStage, result: EngineRunResult, estimated: float
    ) -> None:
        self.engine_runs.append(result)
        self.stages.append(
            StageSummary(
                year=year,
                stage=stage.value,
                label=str(result.label),
                wall_time_s=round(result.wall_time_s, 4),
                models=len(result.results),
                parallelism_mean=round(result.parallelism_mean, 3),
                parallelism_max=int(result.parallelism_max),
                estimated_speedup=round(estimated, 3),
                success=result.success,
            )
        )

    def record_tests(self, year: int, seconds: float, ok: bool) -> None:
        self.stages.append(
            StageSummary(
                year=year,
                stage="validation_tests",
                label=f"{year}:validation_tests",
                wall_time_s=round(seconds, 4),
                models=0,
                parallelism_mean=None,
                parallelism_max=None,
                estimated_speedup=None,
                success=ok,
            )
        )

    def write(
        self,
        status: RunStatus,
        error: str | None,
        failed_models: tuple[str, ...],
        completed_years: Sequence[int],
        database_note: str = "",
    ) -> SimulationSummary:
        from planalign.engine.results import write_json_atomic, write_run_results

        config = self.config
        mp = config.model_parallelization
        summary = SimulationSummary(
            run_id=self.run_id,
            status=status,
            started_at=self.started_at,
            completed_at=_now_iso(),
            start_year=self.first,
            end_year=self.last,
            completed_years=tuple(sorted(set(completed_years))),
            years=dict(self.years),
            stages=tuple(self.stages),
            run_dir=self.run_dir,
            database_path=Path(config.simulation.database_path),
            parallelization={
                "enabled": bool(mp.enabled),
                "max_workers": mp.effective_max_workers,
                "memory_limit_mb": mp.memory_limit_mb,
                "enable_conditional_parallelization": mp.enable_conditional_parallelization,
            },
            error=error,
            failed_models=failed_models,
            database_note=database_note,
        )
        write_json_atomic(self.run_dir / "config.json", config.snapshot())
        write_run_results(self.run_dir / "engine_runs.json", self.engine_runs)
        # Last: a run directory with a summary.json is complete.
        write_json_atomic(self.run_dir / "summary.json", summary.to_dict())
        return summary


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
