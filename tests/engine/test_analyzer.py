"""ModelDependencyAnalyzer and ExecutionPlan: graph, cycles, phases, critical path, safety."""

from __future__ import annotations

import pytest

from planalign.engine.classification import ModelClassifier, ModelExecutionType
from planalign.engine.graph import ModelDependencyAnalyzer
from planalign.engine.safety import IssueSeverity
from planalign.errors import DependencyCycleError, SelectionError
from planalign.simulation.execution_defaults import SIMULATION_EXECUTION_DEFAULTS

from .fakes import PKG, make_analyzer, make_manifest, uid

# raw → stg_a, stg_b;  int_c ← stg_a, stg_b;  fct_d ← int_c;  lone (independent)
DIAMOND = {
    "stg_a": ["raw"],
    "stg_b": ["raw"],
    "int_c": ["stg_a", "stg_b"],
    "fct_d": ["int_c"],
    "lone": [],
}


def diamond() -> ModelDependencyAnalyzer:
    return make_analyzer(DIAMOND, seeds=["raw"])


def test_direct_and_transitive_dependencies() -> None:
    a = diamond()
    seed = f"seed.{PKG}.raw"
    assert a.dependencies(uid("int_c")) == {uid("stg_a"), uid("stg_b")}
    assert a.dependencies(uid("fct_d"), transitive=True) == {uid("int_c"), uid("stg_a"), uid("stg_b"), seed}
    assert a.dependents(seed) == {uid("stg_a"), uid("stg_b")}
    assert a.dependents(uid("stg_a"), transitive=True) == {uid("int_c"), uid("fct_d")}
    assert a.dependencies(uid("lone"), transitive=True) == frozenset()
    assert a.dependencies(seed) == frozenset()  # a seed is a root


def test_unknown_node_is_a_selection_error() -> None:
    with pytest.raises(SelectionError):
        diamond().dependencies("model.proj.nope")
    with pytest.raises(SelectionError, match="int_cc"):
        diamond().plan(["int_cc"])


def test_cycle_is_found_and_named() -> None:
    # data flows a → b → c → a; x hangs off the cycle; self-loop s
    a = make_analyzer({"a": ["c"], "b": ["a"], "c": ["b"], "x": ["a"], "s": ["s"], "ok": []})
    cycles = a.find_cycles()
    assert (uid("a"), uid("b"), uid("c"), uid("a")) in cycles
    assert (uid("s"), uid("s")) in cycles
    assert len(cycles) == 2
    with pytest.raises(DependencyCycleError, match="a → b → c → a"):
        a.check_acyclic()
    with pytest.raises(DependencyCycleError):
        a.plan([uid("ok")])


def test_dag_has_no_cycles() -> None:
    assert diamond().find_cycles() == []


def test_phases_of_parallel_models_are_topological_levels() -> None:
    sets = [set(phase.models) for phase in diamond().plan([uid(n) for n in DIAMOND]).phases]
    assert sets == [
        {uid("stg_a"), uid("stg_b"), uid("lone")},
        {uid("int_c")},
        {uid("fct_d")},
    ]


def test_selection_orders_through_unselected_models() -> None:
    a = make_analyzer({"a": [], "b": ["a"], "c": ["b"]})
    assert a.selection_dependencies(["a", "c"]) == {uid("a"): (), uid("c"): (uid("a"),)}
    assert a.topological_order(["c", "a"]) == (uid("a"), uid("c"))


def test_unit_critical_path_and_speedup() -> None:
    plan = diamond().plan([uid(n) for n in DIAMOND])
    assert plan.critical_path == (uid("stg_b"), uid("int_c"), uid("fct_d"))  # ties: larger unique_id
    assert plan.critical_path_weight == 3
    assert plan.total_work == 5
    assert plan.max_theoretical_speedup == pytest.approx(5 / 3)
    assert plan.estimated_speedup == pytest.approx(5 / 3)
    assert not plan.weighted
    assert plan.remaining_path[uid("stg_a")] == 3
    assert plan.remaining_path[uid("lone")] == 1


def test_weighted_critical_path_uses_recorded_durations() -> None:
    durations = {uid("stg_a"): 10.0, "stg_b": 1.0, "int_c": 2.0, "fct_d": 1.0, "lone": 30.0}
    plan = diamond().plan([uid(n) for n in DIAMOND], durations=durations)
    assert plan.weighted
    assert plan.critical_path == (uid("lone"),)
    assert plan.critical_path_weight == 30.0
    assert plan.max_theoretical_speedup == pytest.approx(44 / 30)


def test_missing_durations_weigh_the_mean_of_known_ones() -> None:
    plan = diamond().plan([uid(n) for n in DIAMOND], durations={"stg_a": 2.0, "stg_b": 4.0})
    assert plan.weights[uid("lone")] == 3.0


def test_estimated_speedup_honours_workers_and_classes() -> None:
    graph: dict[str, list[str]] = {f"m{i}": [] for i in range(8)}
    wide = make_analyzer(graph)
    ids = [uid(n) for n in graph]
    assert wide.plan(ids).max_theoretical_speedup == 8
    assert wide.plan(ids, max_workers=4).estimated_speedup == 4
    serial = make_analyzer(graph, default_class=ModelExecutionType.SEQUENTIAL)
    assert serial.plan(ids).estimated_speedup == 1
    conditional = make_analyzer(graph, default_class=ModelExecutionType.CONDITIONAL)
    assert (
        conditional.plan(ids, enable_conditional_parallelization=True, max_workers=2).estimated_speedup == 2
    )


def test_phases_split_parallel_and_sequential_and_carry_labels() -> None:
    graph = {
        "int_hazard_termination": [],
        "int_hazard_promotion": [],
        "int_hazard_merit": [],
        "stg_census_data": [],
        "stg_comp_levers": ["stg_census_data"],
        "int_enrollment_state_accumulator": ["int_hazard_merit"],
        "fct_yearly_events": ["int_enrollment_state_accumulator", "stg_comp_levers"],
    }
    classifier = ModelClassifier(defaults=SIMULATION_EXECUTION_DEFAULTS)
    analyzer = ModelDependencyAnalyzer(make_manifest(graph), classifier)
    plan = analyzer.plan(list(graph))
    lines = [p.describe() for p in plan.phases]
    assert lines == [
        "Phase 1 (Parallel): 4 models",
        "Phase 2 (Parallel): 1 model, staging group",
        "Phase 3 (Sequential): 2 models",
    ]
    assert plan.phases[2].models == (uid("int_enrollment_state_accumulator"), uid("fct_yearly_events"))
    hazards = analyzer.plan(["int_hazard_termination", "int_hazard_promotion", "int_hazard_merit"])
    assert hazards.phases[0].describe() == "Phase 1 (Parallel): 3 models, hazard_calculations group"
    assert hazards.describe_lines()[:4] == [
        "Total models: 3",
        "Parallelizable: 3",
        "Estimated speedup: 3.0x",
        "Phases: 1",
    ]
    assert plan.parallelizable_count == 5
    assert plan.to_dict()["phases"][2]["mode"] == "sequential"


def test_every_phase_model_appears_once_and_after_its_dependencies() -> None:
    plan = diamond().plan([uid(n) for n in DIAMOND])
    flat = [m for p in plan.phases for m in p.models]
    assert sorted(flat) == sorted(plan.model_ids)
    for position, model in enumerate(flat):
        assert all(flat.index(d) < position for d in plan.dependencies[model])


def test_safety_flags_unbuilt_dependency_unless_already_built() -> None:
    a = diamond()
    report = a.validate_safety([uid("int_c")])
    assert not report.safe
    assert {i.kind for i in report.errors} == {"unbuilt_dependency"}
    assert {i.models[1] for i in report.errors} == {uid("stg_a"), uid("stg_b")}
    assert a.validate_safety([uid("int_c")], already_built=[uid("stg_a"), "stg_b"]).safe
    assert a.validate_safety([uid(n) for n in DIAMOND]).safe  # seeds are roots, never "unbuilt"


def test_safety_looks_through_ephemeral_models() -> None:
    a = make_analyzer({"base": [], "eph": ["base"], "top": ["eph"]}, materialized={"eph": "ephemeral"})
    report = a.validate_safety(["top"])
    assert [i.models for i in report.errors] == [(uid("top"), uid("base"))]
    assert a.validate_safety(["top"], already_built=["base"]).safe


def test_safety_reports_cycles_and_dangling_references() -> None:
    cyclic = make_analyzer({"a": ["b"], "b": ["a"]})
    assert [i.kind for i in cyclic.validate_safety(["a", "b"]).errors] == ["cycle"]
    manifest = make_manifest({"a": []})
    node = manifest.nodes[uid("a")]
    broken = make_manifest({})
    dangling = type(manifest)(
        broken.project_dir,
        {uid("a"): type(node)(uid("a"), "a", "model", PKG, depends_on=("model.proj.ghost",))},
    )
    report = ModelDependencyAnalyzer(dangling, ModelClassifier()).validate_safety(["a"])
    assert [i.kind for i in report.errors] == ["missing_node"]


def test_safety_warns_about_unordered_models_that_run_alone() -> None:
    a = make_analyzer(
        {"s1": [], "s2": [], "s3": ["s1"]},
        default_class=ModelExecutionType.SEQUENTIAL,
    )
    report = a.validate_safety(["s1", "s2", "s3"])
    assert report.safe
    assert [i.kind for i in report.warnings] == ["unordered_sequential"]
    assert report.warnings[0].severity is IssueSeverity.WARNING
    assert "2 pair(s)" in report.warnings[0].message  # s1/s2 and s2/s3; s1 → s3 is declared
    assert not a.validate_safety(["s1", "s3"]).issues


def test_without_a_project_s_conventions_phases_are_named_by_their_common_prefix() -> None:
    hazards = ["int_hazard_termination", "int_hazard_promotion", "int_hazard_merit"]
    analyzer = ModelDependencyAnalyzer(make_manifest({name: [] for name in hazards}), ModelClassifier())
    plan = analyzer.plan(hazards)
    # Unknown to the engine, the models are conditional and so run alone.
    assert plan.phases[0].describe() == "Phase 1 (Sequential): 3 models, int_hazard group"
