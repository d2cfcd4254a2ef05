"""Building years into one database: the seeds and year-invariant models once, then each year's stages
through the parallel engine and the year's dbt tests. A stage whose models fail raises `StageFailedError`,
which the orchestrator turns into a failed run; nothing here decides what is saved (the orchestrator does).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import anyio

from planalign.errors import PlanalignError
from planalign.log import get_logger
from planalign.simulation.events import ProgressEvent, ProgressKind
from planalign.simulation.project import PreparedProject, format_plan
from planalign.simulation.run_directory import RunRecorder
from planalign.simulation.stages import REPORTING_TESTS_STEP, ModelScope, SimulationStage

if TYPE_CHECKING:
    from planalign.engine.events import EngineEvent
    from planalign.engine.invocation import InvocationOutcome
    from planalign.engine.nodes import ProjectManifest
    from planalign.engine.results import EngineRunResult
    from planalign.engine.runner import ParallelExecutionEngine
    from planalign.simulation.config import SimulationConfig

log = get_logger("planalign.simulation.orchestrator")

"""The step name of a year's reporting-stage tests in summary.json's stage table."""


class CommandInvoker(Protocol):
    """What the orchestrator needs beyond `ModelInvoker`: whole dbt commands (seed, test)."""

    def invoke(self, args: Sequence[str], *, vars: Mapping[str, Any]) -> InvocationOutcome: ...


class SimulationInvoker(CommandInvoker, Protocol):
    @property
    def supports_concurrency(self) -> bool: ...

    def run_model(self, node: Any, *, vars: Mapping[str, Any]) -> InvocationOutcome: ...


InvokerFactory = Callable[["ProjectManifest", "SimulationConfig"], SimulationInvoker]


class StageFailedError(PlanalignError):
    """A stage had failing models (or failing error-severity tests); the year is not complete."""

    def __init__(self, year: int | None, stage: str, failures: Sequence[str]) -> None:
        self.year, self.stage, self.failures = year, stage, tuple(failures)
        where = f"year {year}, stage {stage}" if year is not None else f"simulation setup, stage {stage}"
        super().__init__(f"{where} failed:\n  " + "\n  ".join(failures))


def default_invoker_factory(manifest: ProjectManifest, config: SimulationConfig) -> SimulationInvoker:
    """The real invoker; dbt writes its compiled SQL and logs into this process's private directory
    (`planalign.dbt.files`), never into the project, which two processes may be running at once."""
    from planalign.dbt.files import DbtFiles
    from planalign.dbt.invoker import DbtInvoker

    dbt_cfg = config.dbt
    return DbtInvoker(
        project_dir=Path(dbt_cfg.project_dir),
        profiles_dir=Path(dbt_cfg.profiles_dir),
        target=dbt_cfg.target,
        profile=dbt_cfg.profile,
        manifest=manifest,
        base_vars={},
        database_path=Path(config.simulation.database_path),
        # Bounds the whole-command calls too (dbt seed, dbt test), not only the engine's models.
        model_timeout_s=config.model_parallelization.safety.model_timeout_seconds,
        files=DbtFiles.private(),
    )


#: dbt_project.yml's default of the var `scenario_id`: the scenario a plain run builds.
DEFAULT_SCENARIO_ID = "baseline"


@dataclass(frozen=True)
class ExtraVars:
    """dbt vars a run adds to its configuration's (`SimulationConfig.dbt_vars`) for every dbt call — the
    parse, seeds, models and tests — such as the scenarios layer's `scenarios` var, which builds many
    scenarios into one database (`planalign.scenarios.sweep`). They may not repeat a var the configuration
    sets: one value per var, whoever passes it.

    The run summary records per-year figures (`planalign.simulation.metrics.year_metrics`, the row of
    `rpt_yearly_summary`) of the build's one scenario, `scenario_id`; a build of several scenarios (a sweep's
    `scenarios` var) has none to record in the summary's one figure per year, and the comparison reads the
    rows per scenario."""

    values: Mapping[str, Any]
    parse_values: Mapping[str, Any] | None = None
    """Values the dbt parse sees instead of `values` (a shard parses with its sweep's first shard's
    `scenarios`, so all shards share one cached parse); `parse_leaks`: texts of those values that the parsed
    manifest must not keep (else the parse is done again with `values`)."""
    parse_leaks: tuple[str, ...] = ()

    @property
    def scenario_id(self) -> str | None:
        """The scenario the build makes when it makes one (dbt_project.yml's var `scenario_id`, default
        "baseline"); None when `scenarios` asks for several."""
        if "scenarios" in self.values:
            return None
        return str(self.values.get("scenario_id", DEFAULT_SCENARIO_ID))

    def check_against(self, config: SimulationConfig) -> None:
        """Refuse vars the configuration already sets (a programming error, not the user's)."""
        clash = sorted(set(self.values) & set(config.dbt_vars(config.simulation.start_year)))
        if clash:
            raise ValueError(
                f"extra dbt vars repeat the configuration's vars {clash}; set those in the config"
            )


@dataclass(frozen=True)
class Workspace:
    """The invoker and engine that write one database file — a run's working copy, or the configured
    database itself for the specification's in-place API — and the building of years with them: every dbt
    call made through a workspace writes `database`. Used by one run at a time."""

    prepared: PreparedProject
    invoker: SimulationInvoker
    engine: ParallelExecutionEngine
    database: Path
    config: SimulationConfig
    extra_vars: Mapping[str, Any] = field(default_factory=dict)
    """`ExtraVars.values` of the run, added to every call's vars."""
    tests_done: TestsDone = field(default_factory=lambda: TestsDone())
    """Whether this workspace has run the tests of its year-invariant models since it last built them."""

    def vars(self, year: int) -> dict[str, Any]:
        return {**self.config.dbt_vars(year), **self.extra_vars}

    async def setup(self, run: RunRecorder, first_year: int) -> None:
        """Seeds and year-invariant models, once per simulation."""
        run.emit(ProgressEvent(kind="phase_started", stage="seed"))
        self.tests_done.year_invariant = False
        await self.command(["seed"], self.vars(first_year), "seed")
        built: set[str] = set()
        for stage in SimulationStage:
            built.update(await self.stage(run, None, stage, ModelScope.SIMULATION, already_built=built))

    async def year(
        self, run: RunRecorder, year: int, *, stages: Sequence[SimulationStage] | None = None
    ) -> None:
        run.emit(ProgressEvent(kind="year_started", year=year))
        if self.config.run.verbose:
            self._log_year_plan(year)
        built = set(self.prepared.stages.all_models(ModelScope.SIMULATION))
        for stage in SimulationStage if stages is None else stages:
            models = await self.stage(run, year, stage, ModelScope.YEAR, already_built=built)
            built.update(models)
            if stage is SimulationStage.VALIDATION:
                await self.tests(run, year)
            elif stage is SimulationStage.REPORTING and models:
                await self.reporting_tests(run, year)

    async def stage(
        self,
        run: RunRecorder,
        year: int | None,
        stage: SimulationStage,
        scope: ModelScope,
        *,
        already_built: Sequence[str] | set[str],
    ) -> list[str]:
        prepared = self.prepared
        models = prepared.stages.models(stage, scope)
        if not models:
            return []
        label = f"{year if year is not None else 'simulation'}:{stage.value}"
        vars_ = self.vars(year if year is not None else self.config.simulation.start_year)
        run.emit(ProgressEvent(kind="stage_started", year=year, stage=stage.value, total=len(models)))
        run.current = (year, stage.value)
        if self.config.run.verbose and self.config.model_parallelization.enabled:
            log.info(f"🚀 Using model-level parallelization for stage {stage.value}", year=year)
        result = await self.engine.execute(
            models,
            vars=vars_,
            label=label,
            already_built=tuple(already_built),
            listeners=[functools.partial(engine_progress, run)],
        )
        # The estimate of the plan the run followed (`engine.runner.plan_for`, as `planalign plan` shows it).
        run.record(year, stage, result, result.estimated_speedup)
        run.emit(ProgressEvent(kind="stage_finished", year=year, stage=stage.value, status=_status(result)))
        if self.config.run.verbose:
            log.info(
                "📊 Parallelization results:\n"
                f"   Success: {str(result.success).lower()}\n"
                f"   Models executed: {sum(1 for r in result.results if r.status == 'success')}\n"
                f"   Execution time: {result.wall_time_s:.1f}s\n"
                f"   Parallelism achieved: {result.parallelism_max}x",
                stage=stage.value,
                year=year,
            )
        if not result.success:
            raise StageFailedError(year, stage.value, _failure_lines(result))
        return models

    async def tests(self, run: RunRecorder, year: int) -> None:
        """The year's dbt tests; an error-severity failure stops the run (warnings only log).

        The first time after the year-invariant models were built, every test of the project (`dbt test`);
        later years only the tests that read a model built every year (`year_tests`): a test whose parents
        are all year-invariant models or seeds reads tables no later year changes, so running it again
        gives the result it gave (14 of the project's 75 tests; issue #25). Never the tests of the reporting
        stage's models, which are not built yet (`reporting_tests`)."""
        started = time.monotonic()
        run.emit(ProgressEvent(kind="phase_started", year=year, stage="tests"))  # the year's longest step
        selectors = year_tests(self.prepared) if self.tests_done.year_invariant else []
        if self.tests_done.year_invariant and not selectors:
            run.record_tests(year, time.monotonic() - started, True)
            return
        later = reporting_tests(self.prepared)
        if selectors:
            args = ["test", "--select", *selectors]
        else:
            args = ["test", "--exclude", *later] if later else ["test"]
        outcome = await self.command(args, self.vars(year), "test", raise_on_error=False)
        run.record_tests(year, time.monotonic() - started, outcome.ok)
        if not outcome.ok:
            raise StageFailedError(year, "validation", [f"dbt tests: {outcome.message}"])
        self.tests_done.year_invariant = True

    async def reporting_tests(self, run: RunRecorder, year: int) -> None:
        """The tests of the reporting stage's models (the marts' rpt_* grain tests), right after that stage
        built them: a failure stops the run like the validation stage's tests, so the year is not complete.
        Recorded as the year's `reporting_tests` step."""
        selectors = reporting_tests(self.prepared)
        if not selectors:
            return
        started = time.monotonic()
        run.emit(ProgressEvent(kind="phase_started", year=year, stage=REPORTING_TESTS_STEP))
        args = ["test", "--select", *selectors]
        outcome = await self.command(args, self.vars(year), "test", raise_on_error=False)
        run.record_tests(year, time.monotonic() - started, outcome.ok, step=REPORTING_TESTS_STEP)
        if not outcome.ok:
            raise StageFailedError(year, "reporting", [f"dbt tests: {outcome.message}"])

    async def command(
        self,
        args: list[str],
        vars_: Mapping[str, Any],
        what: str,
        *,
        raise_on_error: bool = True,
    ) -> InvocationOutcome:
        outcome = await anyio.to_thread.run_sync(functools.partial(self.invoker.invoke, args, vars=vars_))
        if raise_on_error and not outcome.ok:
            raise StageFailedError(None, what, [f"dbt {what}: {outcome.message}"])
        return outcome

    def _log_year_plan(self, year: int) -> None:
        models = self.prepared.stages.all_models(ModelScope.YEAR)
        plan = self.engine.plan(models)
        log.info(f"🔄 Starting simulation year {year}\n" + format_plan(plan, indent="   "))


@dataclass
class TestsDone:
    """Mutable progress of a (frozen) `Workspace`: see `Workspace.tests`."""

    year_invariant: bool = False


def year_tests(prepared: PreparedProject) -> list[str]:
    """`fqn:` selectors of the project's tests that read at least one node built every year (a year-scope
    model, a source — the simulation's own tables read back —, anything but a year-invariant model or a
    seed), sorted; `dbt test --select` of them is the year's test run after the first. It assumes a test
    of year-invariant models reads no `var('simulation_year')` (true of all 14 such tests of the project);
    a test that did would have to read a year model to mean anything different each year."""
    nodes = prepared.manifest.nodes
    invariant = set(prepared.stages.all_models(ModelScope.SIMULATION))
    invariant.update(uid for uid, node in nodes.items() if node.resource_type == "seed")
    later = set(reporting_tests(prepared))
    return sorted(
        selector
        for node in nodes.values()
        if node.resource_type == "test" and not set(node.depends_on) <= invariant
        for selector in ["fqn:" + ".".join(node.fqn)]
        if selector not in later
    )


def reporting_tests(prepared: PreparedProject) -> list[str]:
    """`fqn:` selectors of the tests that read a model of the reporting stage, sorted. They run after that
    stage (`Workspace.reporting_tests`), not with the validation stage's tests, which run before it: there
    they would find no table in the first year and last year's rows afterwards."""
    stage_of = prepared.stages.stage_of
    return sorted(
        "fqn:" + ".".join(node.fqn)
        for node in prepared.manifest.nodes.values()
        if node.resource_type == "test"
        and any(stage_of.get(parent) is SimulationStage.REPORTING for parent in node.depends_on)
    )


def _failure_lines(result: EngineRunResult) -> list[str]:
    lines = []
    for r in result.results:
        if r.status == "error":
            lines.append(f"{r.name}: {r.error}")
    skipped = [r.name for r in result.results if r.status == "skipped"]
    if skipped:
        lines.append(f"skipped because of the failures above: {', '.join(skipped)}")
    return lines or ["the stage did not succeed"]


def _status(result: EngineRunResult) -> str:
    return "success" if result.success else "error"


def engine_progress(run: RunRecorder, event: EngineEvent) -> None:
    """An engine event of one of `run`'s stages as the run's `ProgressEvent`, tagged with the year and stage
    the run is building (the listener `Workspace.stage` gives each engine call)."""
    if run.on_progress is None or run.current is None:
        return
    kinds: dict[str, ProgressKind] = {
        "model_started": "model_started",
        "model_finished": "model_finished",
        "model_skipped": "model_skipped",
        "limit_changed": "limit_changed",
    }
    kind = kinds.get(str(event.kind))
    if kind is None:
        return
    run.emit(
        ProgressEvent(
            kind=kind,
            year=run.current[0],
            stage=run.current[1],
            unique_id=event.unique_id,
            status=None if event.status is None else str(event.status),
            in_flight=event.in_flight,
            limit=event.limit,
            message=event.message,
        )
    )
