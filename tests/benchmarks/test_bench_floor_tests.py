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
