"""Simulation stages and which models belong to them — read from the dbt project's meta, never a Python list.

Every model of the simulation project declares `meta: {planalign: {stage: ..., scope: ...}}`. This module
turns
that into a `StageAssignment`: for each stage, the year-scoped models (built every simulated year) and the
simulation-scoped ones (year-invariant, built once per simulation). It checks the invariants the orchestrator
relies on, so a project that breaks them fails before anything runs:

- every model names a known stage and scope;
- no model depends on a model of a later stage (stages run in order, so such a model could never be built);
- a simulation-scoped model depends only on other simulation-scoped models, seeds and sources.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from planalign.engine.nodes import ManifestNode, ProjectManifest
from planalign.errors import PlanalignUsageError


class SimulationStage(StrEnum):
    """The stages of one simulated year, in run order."""

    INITIALIZATION = "initialization"
    """Staging of the census and parameters, and the prior year's state."""
    FOUNDATION = "foundation"
    """Parameters in force, hazards, workforce needs, starting compensation."""
    EVENT_GENERATION = "event_generation"
    """Terminations, hires, promotions, raises, enrollment and escalation events; fct_yearly_events."""
    STATE_ACCUMULATION = "state_accumulation"
    """Accumulators, contributions, match and the year-end fct_workforce_snapshot."""
    VALIDATION = "validation"
    """Data-quality models and the year's dbt tests; an error-severity failure stops the run."""
    REPORTING = "reporting"
    """The year's summary."""

    @property
    def order(self) -> int:
        return list(SimulationStage).index(self)

    @classmethod
    def parse(cls, value: str) -> SimulationStage:
        """Accept `event_generation`, `event-generation` or `EVENT_GENERATION`."""
        key = value.strip().lower().replace("-", "_")
        try:
            return cls(key)
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise PlanalignUsageError(f"unknown stage {value!r}; expected one of: {names}") from None


#: The steps of a year that are dbt tests rather than a stage's models, as summary.json's stage table names
#: them: the validation stage's tests, and the reporting stage's tests (the marts' grain tests), each run
#: right after its stage.
VALIDATION_TESTS_STEP = "validation_tests"
REPORTING_TESTS_STEP = "reporting_tests"


class ModelScope(StrEnum):
    """How often a model is built."""

    YEAR = "year"
    """Depends on the simulated year: built once per year."""
    SIMULATION = "simulation"
    """Year-invariant: built once per simulation, before the first year."""


class StageAssignmentError(PlanalignUsageError):
    """The dbt project's stage/scope meta is missing, unknown or inconsistent with its graph."""


@dataclass(frozen=True)
class StageAssignment:
    """Stage and scope of every model, validated against the dependency graph."""

    stage_of: Mapping[str, SimulationStage]
    scope_of: Mapping[str, ModelScope]

    def models(self, stage: SimulationStage, scope: ModelScope) -> list[str]:
        """unique_ids of the models of `stage` with `scope`, sorted for determinism."""
        return sorted(uid for uid, s in self.stage_of.items() if s is stage and self.scope_of[uid] is scope)

    def all_models(self, scope: ModelScope | None = None) -> list[str]:
        return sorted(uid for uid in self.stage_of if scope is None or self.scope_of[uid] is scope)

    @classmethod
    def from_manifest(cls, manifest: ProjectManifest) -> StageAssignment:
        problems: list[str] = []
        stage_of: dict[str, SimulationStage] = {}
        scope_of: dict[str, ModelScope] = {}
        models = manifest.models()
        for node in models:
            meta = node.planalign_meta
            stage_value, scope_value = meta.get("stage"), meta.get("scope", ModelScope.YEAR.value)
            try:
                stage_of[node.unique_id] = SimulationStage(str(stage_value))
            except ValueError:
                problems.append(
                    f"{node.name} ({node.original_file_path}): meta planalign.stage is {stage_value!r}; "
                    f"set it to one of {', '.join(s.value for s in SimulationStage)}"
                )
            try:
                scope_of[node.unique_id] = ModelScope(str(scope_value))
            except ValueError:
                problems.append(
                    f"{node.name}: meta planalign.scope is {scope_value!r}; set it to 'year' or 'simulation'"
                )
        if not problems:
            problems.extend(_graph_problems(models, stage_of, scope_of))
        if problems:
            raise StageAssignmentError(
                "the dbt project's stage metadata is inconsistent:\n  " + "\n  ".join(problems)
            )
        return cls(stage_of=stage_of, scope_of=scope_of)


def _graph_problems(
    models: Iterable[ManifestNode],
    stage_of: Mapping[str, SimulationStage],
    scope_of: Mapping[str, ModelScope],
) -> list[str]:
    problems = []
    for node in models:
        for parent in node.depends_on:
            if parent not in stage_of:
                continue  # seeds and sources are roots
            if stage_of[parent].order > stage_of[node.unique_id].order:
                problems.append(
                    f"{node.name} (stage {stage_of[node.unique_id]}) depends on {parent} of the later stage "
                    f"{stage_of[parent]}; move one of them so dependencies point to the same or earlier "
                    "stages"
                )
            if scope_of[node.unique_id] is ModelScope.SIMULATION and scope_of[parent] is ModelScope.YEAR:
                problems.append(
                    f"{node.name} is scope 'simulation' but depends on the year-scoped {parent}; "
                    "mark it scope 'year'"
                )
    return problems
