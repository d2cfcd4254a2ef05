from pathlib import Path

import pytest

from planalign.engine.nodes import ManifestNode, ProjectManifest
from planalign.simulation.stages import ModelScope, SimulationStage, StageAssignment, StageAssignmentError


def _model(name: str, stage: str | None, scope: str = "year", deps: tuple[str, ...] = ()) -> ManifestNode:
    meta = {"planalign": {"stage": stage, "scope": scope}} if stage is not None else {}
    return ManifestNode(
        unique_id=f"model.p.{name}",
        name=name,
        resource_type="model",
        package_name="p",
        depends_on=tuple(f"model.p.{d}" if not d.startswith("seed.") else d for d in deps),
        meta=meta,
    )


def _manifest(*nodes: ManifestNode) -> ProjectManifest:
    return ProjectManifest(project_dir=Path("."), nodes={n.unique_id: n for n in nodes})


def test_models_are_grouped_by_stage_and_scope() -> None:
    manifest = _manifest(
        _model("dim_calendar", "foundation", "simulation", deps=("seed.p.calendar",)),
        _model("stg_census", "initialization"),
        _model("int_needs", "foundation", deps=("stg_census", "dim_calendar")),
        _model("fct_events", "event_generation", deps=("int_needs",)),
    )
    stages = StageAssignment.from_manifest(manifest)
    assert stages.models(SimulationStage.FOUNDATION, ModelScope.YEAR) == ["model.p.int_needs"]
    assert stages.models(SimulationStage.FOUNDATION, ModelScope.SIMULATION) == ["model.p.dim_calendar"]
    assert stages.all_models(ModelScope.YEAR) == [
        "model.p.fct_events",
        "model.p.int_needs",
        "model.p.stg_census",
    ]


def test_missing_or_unknown_stage_is_named() -> None:
    manifest = _manifest(_model("a", None), _model("b", "warmup"))
    with pytest.raises(StageAssignmentError) as exc:
        StageAssignment.from_manifest(manifest)
    assert "a (" in str(exc.value) and "'warmup'" in str(exc.value)


def test_dependency_on_a_later_stage_is_rejected() -> None:
    manifest = _manifest(_model("early", "foundation", deps=("late",)), _model("late", "reporting"))
    with pytest.raises(StageAssignmentError, match="later stage reporting"):
        StageAssignment.from_manifest(manifest)


def test_simulation_scope_cannot_read_year_scope() -> None:
    manifest = _manifest(
        _model("dim", "foundation", "simulation", deps=("stg",)), _model("stg", "initialization")
    )
    with pytest.raises(StageAssignmentError, match="scope 'simulation' but depends on the year-scoped"):
        StageAssignment.from_manifest(manifest)


@pytest.mark.parametrize("text", ["event-generation", "EVENT_GENERATION", "event_generation"])
def test_stage_names_parse_in_any_spelling(text: str) -> None:
    assert SimulationStage.parse(text) is SimulationStage.EVENT_GENERATION


def test_unknown_stage_name_lists_the_valid_ones() -> None:
    with pytest.raises(Exception, match="initialization, foundation"):
        SimulationStage.parse("launch")
