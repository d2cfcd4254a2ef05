"""The simulation's dbt project, prepared for planning and running: parsed once into the engine's nodes,
with its stage assignment, its dependency analysis and its year-partitioned relations — and the plan views
the CLI and the specification's API print from it. Preparing touches nothing but the project.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planalign.simulation.stages import StageAssignment

if TYPE_CHECKING:
    from planalign.dbt.files import DbtFiles
    from planalign.engine.graph import ModelDependencyAnalyzer
    from planalign.engine.nodes import ProjectManifest
    from planalign.engine.plan import ExecutionPlan
    from planalign.simulation.config import SimulationConfig


@dataclass(frozen=True)
class PreparedProject:
    """The parsed project as the orchestrator uses it: nodes, stage assignment, dependency analysis, and the
    year-partitioned (incremental) relations. What `describe()` returns to `plan`, `info`, `validate` and the
    specification's `DbtRunner`; preparing it parses the project and touches nothing else (no database, no
    census, no dbt patches)."""

    manifest: ProjectManifest
    stages: StageAssignment
    analyzer: ModelDependencyAnalyzer
    year_partitioned_relations: tuple[str, ...]

    def plan(
        self,
        models: Sequence[str],
        config: SimulationConfig,
        *,
        label: str | None = None,
        durations: Mapping[str, float] | None = None,
    ) -> ExecutionPlan:
        """The plan the engine will follow for `models` under `config`, for the views that show a plan
        without running (`plan`, `validate`, `info`, the specification's API): `engine.runner.plan_for` —
        the function a run's engine plans with — with the configuration's engine settings, the capabilities
        the invoker will have (`dbt.isolation.probe`: decided without installing any dbt patch) and the
        recorded `durations` a run would use (`run_history.recorded_durations` of the runs directory)."""
        from planalign.dbt.isolation import probe
        from planalign.dbt.workers import capabilities
        from planalign.engine.runner import plan_for

        settings = config.engine_settings()
        return plan_for(self.analyzer, models, settings, capabilities(probe()), durations, label=label)


def prepare_project(
    project_dir: Path,
    *,
    profiles_dir: Path | None,
    target: str | None,
    vars: Mapping[str, Any],
    profile: str | None = None,
    files: DbtFiles | None = None,
    path_vars: Collection[str] = (),
    parse_values: Mapping[str, Any] | None = None,
    parse_leaks: Collection[str] = (),
) -> PreparedProject:
    """Parse the project and analyse it; fails on a project that does not parse, whose stage meta is
    inconsistent, or whose graph has a cycle — before anything runs.

    `files`: where dbt's parse writes (`planalign.dbt.files`); the orchestrator passes this process's
    private directory, so that the project directory is only read. `path_vars`: the vars naming files the
    project reads only when its models run, parsed with stand-ins (`parse_project`); `parse_values`,
    `parse_leaks`: vars the parse sees instead of the run's (`ExtraVars.parse_values`)."""
    from planalign.dbt.manifest import parse_project
    from planalign.engine.classification import ModelClassifier
    from planalign.engine.graph import ModelDependencyAnalyzer
    from planalign.simulation.execution_defaults import SIMULATION_EXECUTION_DEFAULTS

    manifest = parse_project(
        project_dir,
        profiles_dir=profiles_dir,
        target=target,
        vars=vars,
        profile=profile,
        files=files,
        path_vars=path_vars,
        parse_values=parse_values,
        parse_leaks=parse_leaks,
    )
    stages = StageAssignment.from_manifest(manifest)
    analyzer = ModelDependencyAnalyzer(manifest, ModelClassifier(defaults=SIMULATION_EXECUTION_DEFAULTS))
    # dbt itself reports a cycle only when a command runs; a cycle is bad input and must stop us before
    # anything is written.
    analyzer.check_acyclic()
    relations = tuple(
        sorted(
            n.relation_name for n in manifest.models() if n.materialized == "incremental" and n.relation_name
        )
    )
    return PreparedProject(
        manifest=manifest, stages=stages, analyzer=analyzer, year_partitioned_relations=relations
    )


def format_plan(plan: ExecutionPlan, *, indent: str = "") -> str:
    """The specification's "📋 Execution plan" block (phases indented under the totals)."""
    lines = ["📋 Execution plan:"]
    for line in plan.describe_lines():
        lines.append(("      " if line.startswith("Phase ") else "   ") + line)
    return "\n".join(indent + line for line in lines)


def parallelization_info(prepared: PreparedProject, config: SimulationConfig) -> dict[str, Any]:
    """`get_parallelization_info()`'s shape, shared by `DbtRunner` and `planalign info`."""
    from planalign.dbt.invoker import batch_limit
    from planalign.dbt.isolation import probe
    from planalign.simulation.run_history import recorded_durations

    models = [n.unique_id for n in prepared.manifest.models()]
    stats = prepared.analyzer.classifier.get_statistics(prepared.manifest.models())
    plan = prepared.plan(models, config, durations=recorded_durations(Path(config.run.runs_dir)))
    isolation = probe()
    mp = config.model_parallelization
    return {
        "available": bool(isolation.available),
        "enabled": bool(mp.enabled),
        # available, reason, batch_stop (+ its reason), the four dbt versions, each speed-up and why skipped
        "isolation": isolation.describe(),
        "max_workers": mp.max_workers,
        # The worker rule (planalign.dbt.workers): the workers that run, and why.
        "effective_workers": mp.effective_max_workers if isolation.available else 1,
        "workers_reason": mp.worker_choice.reason,
        "models_per_invocation": min(mp.models_per_invocation, batch_limit(isolation)),
        "memory_limit_mb": mp.memory_limit_mb,
        "statistics": {
            "total_models": len(models),
            "parallel_safe": int(stats.get("parallel_safe", 0)),
            "sequential": int(stats.get("sequential", 0)),
            "conditional": int(stats.get("conditional", 0)),
            "max_theoretical_speedup": float(plan.max_theoretical_speedup),
        },
    }


def built_models(manifest: ProjectManifest, existing: set[tuple[str, str]]) -> set[str]:
    """The models whose relation exists among `existing` (schema, table) pairs, lower-cased."""
    built = set()
    for node in manifest.models():
        if node.relation_name:
            parts = [p.strip('"').lower() for p in node.relation_name.split(".")]
            if (parts[-2], parts[-1]) in existing:
                built.add(node.unique_id)
    return built
