"""`DbtRunner`: the specification's direct API for running a set of simulation models with smart
parallelization, inspecting the parallelization capabilities, and validating a stage before running it.

It is a thin layer over the same pieces the orchestrator uses (one parse per runner, the classifier, the
dependency analyzer, the parallel execution engine and the isolated dbt invoker), configured from
`simulation_config.yaml` (when present in the working directory) and the environment, with the constructor's
arguments on top:

    runner = DbtRunner(enable_model_parallelization=True, model_parallelization_max_workers=4,
                       model_parallelization_memory_limit_mb=6000.0, verbose=True)
    result = runner.run_models_with_smart_parallelization(models=[...], stage_name="foundation",
                                                         simulation_year=2025)

Models are run against the configured database; the upstream models they read must already be built there
(safety validation says which are missing, and with `abort_on_dependency_conflict` nothing runs). Unlike
`simulate`, this writes the database in place (it is the specification's low-level API); when the models
include year-partitioned (incremental) ones, the year and every later year are marked incomplete afterwards,
so `validate` shows it and `simulate --resume` rebuilds them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from planalign.log import get_logger
from planalign.simulation.orchestrator import PipelineOrchestrator, _refuse_inside_event_loop
from planalign.simulation.project import built_models, parallelization_info
from planalign.simulation.run_history import recorded_durations
from planalign.simulation.state import SimulationState

if TYPE_CHECKING:
    from planalign.engine.results import EngineRunResult
    from planalign.simulation.config import SimulationConfig

log = get_logger("planalign.simulation.spec_api")

DEFAULT_CONFIG_FILE = Path("simulation_config.yaml")


@dataclass(frozen=True)
class ParallelRunResult:
    """What `run_models_with_smart_parallelization` returns.

    `parallelism_achieved` is the most models that were in flight at once (the specification prints it as
    "3x"); `parallelism_mean` is the time-weighted mean, the figure that explains the speedup.
    """

    success: bool
    stage_name: str
    simulation_year: int
    models_executed: int
    execution_time: float
    parallelism_achieved: int
    parallelism_mean: float
    failed_models: tuple[str, ...]
    engine_result: EngineRunResult


class DbtRunner:
    """Runs simulation models through planalign's parallel engine. Not thread-safe; one per caller."""

    def __init__(
        self,
        working_dir: str | Path | None = None,
        *,
        config: SimulationConfig | None = None,
        config_path: str | Path | None = None,
        enable_model_parallelization: bool | None = None,
        model_parallelization_max_workers: int | None = None,
        model_parallelization_memory_limit_mb: float | None = None,
        enable_conditional_parallelization: bool | None = None,
        database_path: str | Path | None = None,
        verbose: bool = False,
    ) -> None:
        from planalign.simulation.config_loading import load_simulation_config

        overrides: dict[str, Any] = {"run.verbose": verbose}
        prefix = "orchestrator.threading.model_parallelization."
        for key, value in (
            ("enabled", enable_model_parallelization),
            ("max_workers", model_parallelization_max_workers),
            ("memory_limit_mb", model_parallelization_memory_limit_mb),
            ("enable_conditional_parallelization", enable_conditional_parallelization),
        ):
            if value is not None:
                overrides[prefix + key] = value
        if working_dir is not None:
            overrides["dbt.project_dir"] = str(Path(working_dir).resolve())
        if database_path is not None:
            overrides["simulation.database_path"] = str(Path(database_path).resolve())
        if config is not None:
            from planalign.simulation.config_loading import apply_overrides

            self.config = apply_overrides(config, overrides)
        else:
            path = config_path if config_path is not None else _default_config_path()
            self.config = load_simulation_config(path, overrides=overrides)
        self.verbose = verbose
        if verbose:
            # The specification's verbose mode shows the engine's messages; a library otherwise leaves
            # logging to its host.
            from planalign.log import configure_logging

            configure_logging(verbose=True)
        self._orchestrator = PipelineOrchestrator(self.config)

    # ------------------------------------------------------------------ the specification's API

    def run_models_with_smart_parallelization(
        self,
        models: Sequence[str],
        stage_name: str,
        simulation_year: int,
        enable_conditional_parallelization: bool | None = None,
    ) -> ParallelRunResult:
        """Run `models` (names or unique_ids) for `simulation_year` with the engine; see the module doc."""
        _refuse_inside_event_loop("run_models_with_smart_parallelization")
        return anyio.run(
            functools.partial(
                self.run_models_with_smart_parallelization_async,
                models,
                stage_name,
                simulation_year,
                enable_conditional_parallelization,
            )
        )

    async def run_models_with_smart_parallelization_async(
        self,
        models: Sequence[str],
        stage_name: str,
        simulation_year: int,
        enable_conditional_parallelization: bool | None = None,
    ) -> ParallelRunResult:
        prepared = await anyio.to_thread.run_sync(self._orchestrator.describe)
        ids = [prepared.manifest.model_by_name(m).unique_id for m in models]
        state = SimulationState(Path(self.config.simulation.database_path))
        built = built_models(prepared.manifest, await anyio.to_thread.run_sync(state.existing_relations))
        engine = self._orchestrator.engine_in_place()
        if enable_conditional_parallelization is not None:
            # The same collaborators (durations, clock, listener included), one setting changed.
            engine = engine.replace(enable_conditional_parallelization=enable_conditional_parallelization)
        try:
            result = await engine.execute(
                ids,
                vars=self.config.dbt_vars(simulation_year),
                label=f"{simulation_year}:{stage_name}",
                already_built=tuple(built),
            )
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._orchestrator.release_database)
                if any(prepared.manifest.nodes[uid].materialized == "incremental" for uid in ids):
                    # Year-partitioned results of `simulation_year` were rebuilt in place, outside a run:
                    # that year and the years built on it are no longer a finished simulation.
                    await anyio.to_thread.run_sync(state.mark_incomplete, simulation_year)
        executed = sum(1 for r in result.results if r.status == "success")
        if self.verbose:
            log.info(
                "📊 Parallelization results:\n"
                f"   Success: {str(result.success).lower()}\n"
                f"   Models executed: {executed}\n"
                f"   Execution time: {result.wall_time_s:.1f}s\n"
                f"   Parallelism achieved: {result.parallelism_max}x",
                stage=stage_name,
                year=simulation_year,
            )
        return ParallelRunResult(
            success=result.success,
            stage_name=stage_name,
            simulation_year=simulation_year,
            models_executed=executed,
            execution_time=result.wall_time_s,
            parallelism_achieved=int(result.parallelism_max),
            parallelism_mean=float(result.parallelism_mean),
            failed_models=tuple(r.name for r in result.results if r.status == "error"),
            engine_result=result,
        )

    def get_parallelization_info(self) -> dict[str, Any]:
        """`{"available", "enabled", "isolation", "max_workers", "memory_limit_mb", "statistics": {...}}`."""
        return parallelization_info(self._orchestrator.describe(), self.config)

    def validate_stage_for_parallelization(self, models: Sequence[str]) -> dict[str, Any]:
        """Whether running `models` together can use parallelism, what it may gain, and what to change.

        Safety is judged as a run of `models` would be: each unselected parent must already exist in the
        configured database (before any simulation has built it, the report names what is missing)."""
        prepared = self._orchestrator.describe()
        ids = [prepared.manifest.model_by_name(m).unique_id for m in models]
        conditional = self.config.model_parallelization.enable_conditional_parallelization
        plan = prepared.plan(ids, self.config, durations=recorded_durations(Path(self.config.run.runs_dir)))
        # The models these read must exist in the database, as for a run of them: the selection itself
        # is not "built" (that would hide nothing and flag everything upstream), the database decides.
        state = SimulationState(Path(self.config.simulation.database_path))
        built = built_models(prepared.manifest, state.existing_relations())
        safety = prepared.analyzer.validate_safety(
            ids, already_built=tuple(built), enable_conditional_parallelization=conditional
        )
        by_class: dict[str, list[str]] = {"parallel_safe": [], "sequential": [], "conditional": []}
        for uid in plan.model_ids:
            by_class[plan.classes[uid].value].append(plan.names[uid])
        parallel_phases = [p for p in plan.phases if p.mode.value == "parallel" and len(p.models) > 1]
        recommendations: list[str] = []
        if not parallel_phases:
            recommendations.append(
                "no two of these models can run together: they form a chain or run alone by class"
            )
        if by_class["conditional"] and not conditional:
            recommendations.append(
                f"{len(by_class['conditional'])} conditional model(s) run alone; set "
                "enable_conditional_parallelization: true once results are verified identical"
            )
        if by_class["sequential"]:
            recommendations.append(
                f"{len(by_class['sequential'])} sequential model(s) always run alone (state-dependent)"
            )
        if not self.config.model_parallelization.enabled:
            recommendations.append("model parallelization is disabled; set enabled: true to use it")
        recommendations.extend(issue.message for issue in safety.issues)
        return {
            "parallelizable": bool(parallel_phases) and safety.safe,
            "estimated_speedup": plan.estimated_speedup,
            "max_theoretical_speedup": plan.max_theoretical_speedup,
            "critical_path": [plan.names[uid] for uid in plan.critical_path],
            "phases": [p.describe() for p in plan.phases],
            "parallel_safe_models": by_class["parallel_safe"],
            "sequential_models": by_class["sequential"],
            "conditional_models": by_class["conditional"],
            "safety_issues": [issue.message for issue in safety.issues],
            "recommendations": recommendations,
        }


def _default_config_path() -> Path | None:
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.exists() else None
