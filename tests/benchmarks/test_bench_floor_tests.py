"""The SQL floor runs the tests planalign runs in each year (issue #25): all in the first year, afterwards
only those that read a node other than a year-invariant model or a seed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from bench_project import project_tests


def _model(scope: str) -> dict[str, Any]:
    return {"resource_type": "model", "config": {"meta": {"planalign": {"scope": scope}}}}


def _test(*parents: str, enabled: bool = True) -> dict[str, Any]:
    return {"resource_type": "test", "depends_on": {"nodes": list(parents)}, "config": {"enabled": enabled}}


MANIFEST = {
    "nodes": {
        "seed.p.s": {"resource_type": "seed"},
        "model.p.stg": _model("simulation"),
        "model.p.events": _model("year"),
        "test.p.on_stg": _test("model.p.stg"),
        "test.p.on_seed_and_stg": _test("seed.p.s", "model.p.stg"),
        "test.p.on_events": _test("model.p.events"),
        "test.p.events_to_stg": _test("model.p.events", "model.p.stg"),
        "test.p.on_source": _test("source.p.sim.t"),
        "test.p.disabled": _test("model.p.events", enabled=False),
    }
}


def test_first_year_runs_every_enabled_test() -> None:
    assert project_tests(MANIFEST) == [
        "test.p.events_to_stg",
        "test.p.on_events",
        "test.p.on_seed_and_stg",
        "test.p.on_source",
        "test.p.on_stg",
    ]


def test_later_years_leave_out_the_tests_of_year_invariant_models_and_seeds() -> None:
    assert project_tests(MANIFEST, first_year=False) == [
        "test.p.events_to_stg",
        "test.p.on_events",
        "test.p.on_source",
    ]


def test_configuration_c_runs_the_reporting_stage_tests_after_that_stage() -> None:
    """`make bench-quick` failed in configuration C ("Table with name rpt_yearly_summary does not exist"):
    its `dbt test` after the validation stage ran the marts' grain tests of reporting models that planalign
    runs after the reporting stage (`planalign.simulation.build.reporting_tests`)."""
    from bench_project import reporting_stage_tests

    def staged(stage: str) -> dict[str, Any]:
        return {"resource_type": "model", "config": {"meta": {"planalign": {"stage": stage}}}}

    manifest = {
        "nodes": {
            "model.p.events": staged("event_generation"),
            "model.p.rpt": staged("reporting"),
            "test.p.on_events": {**_test("model.p.events"), "name": "on_events"},
            "test.p.rpt_grain": {**_test("model.p.rpt"), "name": "rpt_grain"},
            "test.p.rpt_to_events": {**_test("model.p.events", "model.p.rpt"), "name": "rpt_to_events"},
            "test.p.rpt_off": {**_test("model.p.rpt", enabled=False), "name": "rpt_off"},
        }
    }
    assert reporting_stage_tests(manifest) == ["rpt_grain", "rpt_to_events"]
