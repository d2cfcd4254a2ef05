"""ModelClassifier: meta first, then the project's names and prefixes (the simulation's: the specification's
table), then the default class."""

from __future__ import annotations

import pytest

from planalign.engine.classification import ModelClassifier, ModelExecutionType
from planalign.engine.nodes import ManifestNode
from planalign.errors import ClassificationError
from planalign.simulation.execution_defaults import SIMULATION_EXECUTION_DEFAULTS

from .fakes import PKG

SEQ = ModelExecutionType.SEQUENTIAL
PAR = ModelExecutionType.PARALLEL_SAFE
COND = ModelExecutionType.CONDITIONAL


def simulation_classifier(default: ModelExecutionType = COND) -> ModelClassifier:
    return ModelClassifier(default, defaults=SIMULATION_EXECUTION_DEFAULTS)


def model(name: str, execution: object | None = None) -> ManifestNode:
    meta = {"planalign": {"execution": execution}} if execution is not None else {}
    return ManifestNode(f"model.{PKG}.{name}", name, "model", PKG, meta=meta)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("int_hazard_termination", PAR),
        ("stg_census_data", PAR),
        ("dim_payroll_calendar", PAR),
        ("int_enrollment_state_accumulator", SEQ),
        ("fct_yearly_events", SEQ),
        ("int_workforce_previous_year", SEQ),
        ("int_hiring_events", COND),
        ("int_employee_compensation_by_year", COND),
    ],
)
def test_specification_names(name: str, expected: ModelExecutionType) -> None:
    classifier = simulation_classifier()
    assert classifier.classify(name) is expected
    assert classifier.explain(model(name)) == (expected, "name")


@pytest.mark.parametrize("name", ["stg_config_plan_design", "dq_employee_id_validation"])
def test_specification_prefixes(name: str) -> None:
    assert simulation_classifier().explain(name) == (PAR, "prefix")


def test_meta_wins_over_names() -> None:
    classifier = simulation_classifier()
    assert classifier.classify(model("fct_yearly_events", "parallel_safe")) is PAR
    assert classifier.explain(model("stg_census_data", " Sequential ")) == (SEQ, "meta")


@pytest.mark.parametrize("default", list(ModelExecutionType))
def test_unknown_names_get_the_default(default: ModelExecutionType) -> None:
    assert simulation_classifier(default).explain("my_custom_model") == (default, "default")


def test_default_is_conditional() -> None:
    assert ModelClassifier().classify("anything") is COND


def test_the_engine_knows_no_model_names_by_default() -> None:
    classifier = ModelClassifier(PAR)
    assert classifier.classify("fct_yearly_events") is PAR
    assert classifier.classify(model("fct_yearly_events", "sequential")) is SEQ


def test_invalid_meta_names_the_model() -> None:
    with pytest.raises(ClassificationError, match=r"stg_x.*'fast'"):
        ModelClassifier().classify(model("stg_x", "fast"))


def test_statistics_count_classes_and_sources() -> None:
    nodes = [
        model("int_hazard_merit"),
        model("dq_a"),
        model("fct_workforce_snapshot"),
        model("custom", "sequential"),
        model("unknown"),
    ]
    stats = simulation_classifier().get_statistics(nodes)
    assert stats == {
        "total_models": 5,
        "sequential": 2,
        "parallel_safe": 2,
        "conditional": 1,
        "from_meta": 1,
        "from_name": 2,
        "from_prefix": 1,
        "from_default": 1,
    }


def test_runs_alone() -> None:
    assert SEQ.runs_alone(enable_conditional_parallelization=True)
    assert not PAR.runs_alone(enable_conditional_parallelization=False)
    assert COND.runs_alone(enable_conditional_parallelization=False)
    assert not COND.runs_alone(enable_conditional_parallelization=True)
