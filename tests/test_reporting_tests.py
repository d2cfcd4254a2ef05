"""The tests of the reporting stage's models (the marts' rpt_* grain tests, issue #24 item 6) run right after
that stage, not with the validation stage's tests (which run before the reports are built), and a failure
fails the year. Pure functions and a fake invoker, no dbt."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from planalign.simulation.build import StageFailedError, Workspace, reporting_tests, year_tests
from planalign.simulation.stages import ModelScope, SimulationStage
from tests.fake_workspace import FakeInvoker, FakeRun, node, prepared, workspace


def _prepared() -> Any:
    nodes = [
        node("model.p.dim", "model", folder="marts"),
        node("model.p.events", "model", ["model.p.dim"], folder="marts"),
        node("model.p.rpt", "model", ["model.p.events"], folder="marts"),
        node("test.p.unique_dim", "test", ["model.p.dim"], folder="marts"),
        node("test.p.grain_events", "test", ["model.p.events"], folder="marts"),
        node("test.p.grain_rpt", "test", ["model.p.rpt"], folder="marts"),
        node("test.p.rpt_to_events", "test", ["model.p.rpt", "model.p.events"], folder="marts"),
    ]
    return prepared(
        nodes,
        {
            "model.p.dim": (SimulationStage.INITIALIZATION, ModelScope.SIMULATION),
            "model.p.events": (SimulationStage.EVENT_GENERATION, ModelScope.YEAR),
            "model.p.rpt": (SimulationStage.REPORTING, ModelScope.YEAR),
        },
    )


REPORTING = ["fqn:p.marts.grain_rpt", "fqn:p.marts.rpt_to_events"]


def test_tests_reading_a_reporting_model_run_after_the_reporting_stage_only() -> None:
    prepared = _prepared()
    assert reporting_tests(prepared) == REPORTING
    assert year_tests(prepared) == ["fqn:p.marts.grain_events"]


def _workspace(invoker: FakeInvoker) -> Workspace:
    return workspace(_prepared(), invoker)


def test_validation_tests_leave_the_reports_out_and_the_reporting_tests_follow_their_stage() -> None:
    invoker, run = FakeInvoker(), FakeRun()
    work = _workspace(invoker)

    async def main() -> None:
        for year in (2025, 2026):
            await work.tests(run, year)  # type: ignore[arg-type]
            await work.reporting_tests(run, year)  # type: ignore[arg-type]

    anyio.run(main)
    assert invoker.calls == [
        ["test", "--exclude", *REPORTING],
        ["test", "--select", *REPORTING],
        ["test", "--select", "fqn:p.marts.grain_events"],
        ["test", "--select", *REPORTING],
    ]
    assert run.steps == [
        (2025, True, "validation_tests"),
        (2025, True, "reporting_tests"),
        (2026, True, "validation_tests"),
        (2026, True, "reporting_tests"),
    ]
    # what the live display names while each step runs (and counts in its ETA)
    assert run.phases == [
        (2025, "tests"),
        (2025, "reporting_tests"),
        (2026, "tests"),
        (2026, "reporting_tests"),
    ]


def test_a_failed_reporting_test_fails_the_year() -> None:
    invoker, run = FakeInvoker(fail={1}, message="1 of 2 tests failed: grain_rpt"), FakeRun()
    work = _workspace(invoker)

    async def main() -> None:
        await work.reporting_tests(run, 2025)  # type: ignore[arg-type]

    with pytest.raises(StageFailedError, match="grain_rpt") as failed:
        anyio.run(main)
    assert (failed.value.year, failed.value.stage) == (2025, "reporting")
    assert run.steps == [(2025, False, "reporting_tests")]
