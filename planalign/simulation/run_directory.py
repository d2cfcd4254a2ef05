"""The run directory: what one simulation run leaves behind for the report, for comparisons, for services.

`<runs_dir>/<run_id>/` holds `config.json` (the configuration in force), `engine_runs.json` (every engine
execution, per model) and `summary.json` (`SimulationSummary.to_dict()`: status, the database's complete
years, per-year metrics, per-stage timing, what happened to the database). Each file is written atomically and
summary.json last, so a run directory with a summary is complete; summary.json carries a schema version.

From version 2 the summary also says what kind of run it was (whole years, or one stage of one year for
debugging: `kind`, `stage`), the configuration's digests, the assumptions in force
(`planalign.simulation.assumptions`) and each year's nondiscrimination results; `run_kind` reads the kind
from a summary of any version, so `planalign runs` and `planalign report` never take a stage run for a
simulation.

A run directory may come from anywhere — another machine, an archive, a hand edit — so its readers (all
through `run_history`: `planalign runs`, `planalign report`, the progress display's history, a new run's
durations; and the sweep and export readers) read its JSON files through `read_json_object` /
`read_summary`, which turn every way a file can be unreadable (missing, a folder, not UTF-8, not JSON,
nested too deep, not an object) into a `RunDirectoryError` naming the file.

Why it is long: a little over ~400 lines, because the summary's record types (`YearMetrics` with its
`NondiscriminationResults` and `YearCost`, `StageSummary`, `SimulationSummary`) and the recorder that
writes them are one format; split, a field added to one would have to be added to the other in step.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from planalign.errors import RunDirectoryError
from planalign.simulation.events import ProgressCallback, ProgressEvent
from planalign.simulation.stages import VALIDATION_TESTS_STEP, SimulationStage

if TYPE_CHECKING:
    from planalign.engine.results import EngineRunResult
    from planalign.simulation.config import SimulationConfig

RunStatus = Literal["success", "failed", "interrupted"]
SUMMARY_FILE = "summary.json"
ENGINE_RUNS_FILE = "engine_runs.json"
#: "years": whole simulated years (`simulate`); "stage": one year rebuilt up to one stage (`--stage`).
RunKind = Literal["years", "stage"]


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
class NondiscriminationResults:
    """The year's row of the dbt model `nondiscrimination_results`: the ADP and ACP tests (NHCE and HCE
    averages over eligible employees, the HCE limit, pass/fail, corrective refunds) and top-heavy status.
    The averages are None when a group has no eligible member (the test then passes, as the model says)."""

    hce_compensation_limit: float
    hces: int
    eligible_hces: int
    eligible_nhces: int
    nhce_adp: float | None
    hce_adp: float | None
    adp_hce_limit: float | None
    adp_passed: bool
    adp_refunds: float
    adp_refunded_hces: int
    nhce_acp: float | None
    hce_acp: float | None
    acp_hce_limit: float | None
    acp_passed: bool
    acp_refunds: float
    acp_refunded_hces: int
    key_employees: int
    key_employee_share: float | None
    is_top_heavy: bool


@dataclass(frozen=True)
class YearCost:
    """The year's row of the dbt model `rpt_yearly_summary` that the cost block of the run report shows, as
    the comparison of a sweep reads it: `enrolled` = active employees enrolled at year end, `payroll` =
    compensation paid in the year (`total_compensation_paid`), `employer_cost` = match + core − forfeitures
    used. Kept apart from the headline figures so a summary written before it (None) still reads."""

    enrolled: int
    payroll: float
    employer_core: float
    employer_cost: float


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
    nondiscrimination: NondiscriminationResults | None = None
    """None when the year's database has no `nondiscrimination_results` (an older project) or a file
    written before schema version 2."""
    cost: YearCost | None = None
    """None when the project has no `rpt_yearly_summary` or the file was written before it was recorded."""

    @property
    def experienced_terminations(self) -> int:
        """Terminations of employees who were there at the start of the year: `terminations` counts every
        termination event, new hires who left in their hire year included."""
        return self.terminations - self.new_hire_terminations


#: Version of summary.json's layout. 1: `schema_version` and `database_note` added (files without a version
#: are version 0 and are still read). 2: `kind`, `stage`, `config_digest`, `results_digest`, `assumptions`
#: (or `assumptions_error`) and each year's `nondiscrimination`. The report reads every version up to this one
#: and refuses a newer one.
SUMMARY_SCHEMA_VERSION = 2


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
    kind: RunKind | None = "years"
    """None: a failed run whose kind was not recorded (see `RunRecorder`)."""
    stage: str | None = None
    """For a stage run, the stage the year was rebuilt up to."""
    config_digest: str = ""
    """`SimulationConfig.digest()`: the whole configuration (also the run id's suffix)."""
    results_digest: str = ""
    """`SimulationConfig.results_digest()`: what determines the results (empty if the run stopped first)."""
    assumptions: Mapping[str, Any] | None = None
    """`Assumptions.to_dict()` of the run's configuration; None with `assumptions_error` saying why."""
    assumptions_error: str | None = None

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
            "kind": self.kind,
            "stage": self.stage,
            "config_digest": self.config_digest,
            "results_digest": self.results_digest,
            "assumptions": dict(self.assumptions) if self.assumptions is not None else None,
            "assumptions_error": self.assumptions_error,
        }


class RunFileError(RunDirectoryError):
    """A file of a run or sweep directory cannot be read as the JSON object it should hold; the message
    names the file and what is wrong."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def read_json_object(path: Path) -> Mapping[str, Any]:
    """The JSON object in `path`, or `RunFileError` naming the file and why it cannot be read.

    Why one function: a run directory's files are read by several commands, and each used to catch a
    different subset of what can go wrong (a folder where the file should be, a file nested too deep for the
    JSON parser, a list instead of an object), so one corrupt directory crashed some of them."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunFileError(path, "no such file") from None
    except IsADirectoryError:
        raise RunFileError(path, "is a directory, not a file") from None
    except UnicodeDecodeError as exc:
        raise RunFileError(path, f"not valid JSON (not UTF-8 text: {exc.reason})") from None
    except OSError as exc:
        raise RunFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        value = json.loads(text)
    except ValueError as exc:  # json.JSONDecodeError, and integers too long to convert
        raise RunFileError(path, f"not valid JSON ({str(exc)[:160]})") from None
    except RecursionError:
        raise RunFileError(path, "not valid JSON (nested too deeply to read)") from None
    if not isinstance(value, Mapping):
        raise RunFileError(path, f"must hold a JSON object, found {type(value).__name__}")
    return value


def summary_path(run_dir: Path) -> Path:
    """Where `run_dir`'s summary is (written last: a directory holding one is a complete run directory)."""
    return run_dir / SUMMARY_FILE


def engine_runs_path(run_dir: Path) -> Path:
    """Where `run_dir`'s engine results are (`planalign.engine.results.load_run_results` reads them)."""
    return run_dir / ENGINE_RUNS_FILE


def read_summary(run_dir: Path) -> Mapping[str, Any]:
    """`run_dir`'s summary.json as parsed JSON (any schema version; the fields are the caller's to check),
    or `RunFileError`."""
    return read_json_object(run_dir / SUMMARY_FILE)


def run_kind(summary: Mapping[str, Any]) -> RunKind | None:
    """The kind of run a summary.json (as parsed JSON, any schema version) describes, None if unknown.

    Version 2 says it (`kind`). Before it, only two writers existed — whole-year runs, which record every
    finished year's metrics, and stage runs, which record none and cover one year — so a successful run of
    one year without metrics was a stage run; a failed one cannot be told apart (None)."""
    kind = summary.get("kind")
    if kind in ("years", "stage"):
        return cast(RunKind, kind)
    version = summary.get("schema_version", 0)
    if not (type(version) is int and version < 2):
        return None  # version 2 or later without a known kind, or a version that is not a number
    years = summary.get("years")
    one_year = summary.get("start_year") is not None and summary.get("start_year") == summary.get("end_year")
    if summary.get("status") == "success":
        return "stage" if one_year and not years else "years"
    return "years" if years else None


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
        *,
        stage: SimulationStage | None = None,
    ) -> None:
        """`stage`: the stage a stage run rebuilds its year up to (None for whole years). When the caller
        does not say, a successful run is still recognised as a stage run by a year that started and never
        finished (a whole-year run finishes every year it starts, or fails)."""
        self.config = config
        self.stage = stage
        self._years_started: set[int] = set()
        self._years_finished: set[int] = set()
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
        self.assumptions: tuple[dict[str, Any] | None, str | None] | None = None
        """(assumptions, why not) as read from what dbt built (`record_assumptions`); None: not read."""
        self.unread_reason = (
            "not built: the run stopped before dbt built its first year's parameters "
            "(int_effective_parameter_values), so there is nothing to read them from"
        )
        """Why the summary records no assumptions when none were read (a sweep pass says its own)."""

    def emit(self, event: ProgressEvent) -> None:
        if event.year is not None and event.kind == "year_started":
            self._years_started.add(event.year)
        elif event.year is not None and event.kind == "year_finished":
            self._years_finished.add(event.year)
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

    def record_tests(self, year: int, seconds: float, ok: bool, step: str = VALIDATION_TESTS_STEP) -> None:
        self.stages.append(
            StageSummary(
                year=year,
                stage=step,
                label=f"{year}:{step}",
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
        assumptions, assumptions_error = self._assumptions()
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
                # The worker rule (planalign.dbt.workers): the configured bound, and why `max_workers` ran.
                "configured_max_workers": mp.max_workers,
                "workers_reason": mp.worker_choice.reason,
                "memory_limit_mb": mp.memory_limit_mb,
                "enable_conditional_parallelization": mp.enable_conditional_parallelization,
            },
            error=error,
            failed_models=failed_models,
            database_note=database_note,
            kind=self._kind(status),
            stage=self.stage.value if self.stage is not None else None,
            config_digest=config.digest(),
            results_digest=self.config_hash,
            assumptions=assumptions,
            assumptions_error=assumptions_error,
        )
        write_json_atomic(self.run_dir / "config.json", config.snapshot())
        write_run_results(self.run_dir / ENGINE_RUNS_FILE, self.engine_runs)
        # Last: a run directory with a summary.json is complete.
        write_json_atomic(self.run_dir / SUMMARY_FILE, summary.to_dict())
        return summary

    def _kind(self, status: RunStatus) -> RunKind | None:
        if self.stage is not None or (status == "success" and self._years_started - self._years_finished):
            return "stage"
        if status == "success" or self._years_finished:
            return "years"
        return None  # failed before finishing a year: a stage run not declared as one looks the same

    def record_assumptions(self, database: Path, scenario_id: str) -> None:
        """Read the assumptions `scenario_id` is built under from `database`, once (after the run's first
        year is built: the parameters are the same every year); a failure is recorded, not raised."""
        from planalign.simulation.assumptions import AssumptionsError
        from planalign.simulation.assumptions_resolve import read_assumptions

        if self.assumptions is None:
            try:
                self.assumptions = read_assumptions(self.config, database, scenario_id).to_dict(), None
            except AssumptionsError as exc:
                self.assumptions = None, str(exc)

    def _assumptions(self) -> tuple[dict[str, Any] | None, str | None]:
        """The assumptions read from the build (`record_assumptions`), or None and why not (a run directory
        is written whatever happened, so a failure is recorded, not raised): a run that stopped before
        building a year, a build of several scenarios (a sweep pass: sweep.json states each design's)."""
        if self.assumptions is not None:
            return self.assumptions
        return None, self.unread_reason


#: Why a build of several scenarios (a sweep pass) records no assumptions in its own summary.
SEVERAL_SCENARIOS = (
    "not recorded here: this run built several scenarios (a sweep pass); the sweep's sweep.json records each "
    "design's parameters, read from its database"
)


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
