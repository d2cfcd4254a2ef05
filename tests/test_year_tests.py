"""The year's dbt tests (issue #25): every test the first time after the year-invariant models are built,
then only the tests that read something built every year. Pure functions and a fake invoker, no dbt."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from planalign.simulation.build import StageFailedError, Workspace, year_tests
from planalign.simulation.stages import ModelScope, SimulationStage
from tests.fake_workspace import FakeInvoker, FakeRun, node, prepared, workspace


def _prepared() -> Any:
    nodes = [
        node("seed.p.config", "seed"),
        node("source.p.sim.snapshot", "source"),
        node("model.p.stg", "model", ["seed.p.config"]),
        node("model.p.events", "model", ["model.p.stg"]),
        node("test.p.not_null_stg", "test", ["model.p.stg"]),
        node("test.p.seed_check", "test", ["seed.p.config", "model.p.stg"]),
        node("test.p.not_null_events", "test", ["model.p.events"]),
        node("test.p.events_to_stg", "test", ["model.p.events", "model.p.stg"]),
        node("test.p.on_source", "test", ["source.p.sim.snapshot"]),
    ]
    return prepared(
        nodes,
        {
            "model.p.stg": (SimulationStage.INITIALIZATION, ModelScope.SIMULATION),
            "model.p.events": (SimulationStage.EVENT_GENERATION, ModelScope.YEAR),
        },
    )


def test_year_tests_leave_out_only_tests_of_year_invariant_models_and_seeds() -> None:
    assert year_tests(_prepared()) == [
        "fqn:p.models.events_to_stg",  # reads a year model too: kept
        "fqn:p.models.not_null_events",
        "fqn:p.models.on_source",  # a source is the simulation's own table read back: kept
    ]


def _workspace(invoker: FakeInvoker) -> Workspace:
    return workspace(_prepared(), invoker)


def test_every_test_runs_the_first_year_then_only_the_year_tests() -> None:
    invoker, run = FakeInvoker(), FakeRun()
    work = _workspace(invoker)

    async def main() -> None:
        for year in (2025, 2026, 2027):
            await work.tests(run, year)  # type: ignore[arg-type]

    anyio.run(main)
    selected = ["fqn:p.models.events_to_stg", "fqn:p.models.not_null_events", "fqn:p.models.on_source"]
    assert invoker.calls == [["test"], ["test", "--select", *selected], ["test", "--select", *selected]]
    assert run.steps == [
        (2025, True, "validation_tests"),
        (2026, True, "validation_tests"),
        (2027, True, "validation_tests"),
    ]


def test_a_failed_first_test_run_is_repeated_in_full_and_a_rebuild_tests_everything_again() -> None:
    invoker, run = FakeInvoker(fail={1}), FakeRun()
    work = _workspace(invoker)

    async def main() -> None:
        with pytest.raises(StageFailedError, match="1 of 3 tests failed"):
            await work.tests(run, 2025)  # type: ignore[arg-type]
        await work.tests(run, 2025)  # type: ignore[arg-type]
        work.tests_done.year_invariant = False  # what setup() does when it builds them again
        await work.tests(run, 2026)  # type: ignore[arg-type]

    anyio.run(main)
    assert invoker.calls == [["test"], ["test"], ["test"]]
