"""The tests of the reporting stage's models (the marts' rpt_* grain tests, issue #24 item 6) run right after
that stage, not with the validation stage's tests (which run before the reports are built), and a failure
fails the year. Pure functions and a fake invoker, no dbt."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import pytest

from planalign.engine.nodes import ManifestNode, ProjectManifest
from planalign.simulation.build import StageFailedError, Workspace, reporting_tests, year_tests
from planalign.simulation.stages import ModelScope, SimulationStage, StageAssignment


def _node(uid: str, kind: str, parents: Sequence[str] = ()) -> ManifestNode:
    name = uid.split(".")[-1]
    return ManifestNode(
        unique_id=uid,
        name=name,
        resource_type=kind,
        package_name="p",
        depends_on=tuple(parents),
        fqn=("p", "marts", name),
    )


def _prepared() -> Any:
    nodes = [
        _node("model.p.dim", "model"),
        _node("model.p.events", "model", ["model.p.dim"]),
        _node("model.p.rpt", "model", ["model.p.events"]),
        _node("test.p.unique_dim", "test", ["model.p.dim"]),
        _node("test.p.grain_events", "test", ["model.p.events"]),
        _node("test.p.grain_rpt", "test", ["model.p.rpt"]),
        _node("test.p.rpt_to_events", "test", ["model.p.rpt", "model.p.events"]),
    ]
    manifest = ProjectManifest(project_dir=Path("."), nodes={n.unique_id: n for n in nodes})
    stages = StageAssignment(
        stage_of={
            "model.p.dim": SimulationStage.INITIALIZATION,
            "model.p.events": SimulationStage.EVENT_GENERATION,
            "model.p.rpt": SimulationStage.REPORTING,
        },
        scope_of={
            "model.p.dim": ModelScope.SIMULATION,
            "model.p.events": ModelScope.YEAR,
            "model.p.rpt": ModelScope.YEAR,
        },
    )
    return SimpleNamespace(manifest=manifest, stages=stages)


REPORTING = ["fqn:p.marts.grain_rpt", "fqn:p.marts.rpt_to_events"]


def test_tests_reading_a_reporting_model_run_after_the_reporting_stage_only() -> None:
    prepared = _prepared()
    assert reporting_tests(prepared) == REPORTING
    assert year_tests(prepared) == ["fqn:p.marts.grain_events"]


class FakeInvoker:
    def __init__(self, fail: set[int] | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail = fail or set()

    def invoke(self, args: Sequence[str], *, vars: Mapping[str, Any]) -> Any:
        self.calls.append(list(args))
        ok = len(self.calls) not in self.fail
        return SimpleNamespace(ok=ok, message="" if ok else "1 of 2 tests failed: grain_rpt")


class FakeRun:
    def __init__(self) -> None:
        self.steps: list[tuple[int, bool, str]] = []
        self.phases: list[tuple[int, str]] = []

    def emit(self, event: Any) -> None:
        if event.kind == "phase_started":
            self.phases.append((event.year, event.stage))

    def record_tests(self, year: int, seconds: float, ok: bool, step: str = "validation_tests") -> None:
        self.steps.append((year, ok, step))


def _workspace(invoker: FakeInvoker) -> Workspace:
    config = SimpleNamespace(dbt_vars=lambda year: {"simulation_year": year})
    return Workspace(
        prepared=_prepared(),
        invoker=invoker,  # type: ignore[arg-type]
        engine=None,  # type: ignore[arg-type]
        database=Path("sim.duckdb"),
        config=config,  # type: ignore[arg-type]
    )


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
    invoker, run = FakeInvoker(fail={1}), FakeRun()
    work = _workspace(invoker)

    async def main() -> None:
        await work.reporting_tests(run, 2025)  # type: ignore[arg-type]

    with pytest.raises(StageFailedError, match="grain_rpt") as failed:
        anyio.run(main)
    assert (failed.value.year, failed.value.stage) == (2025, "reporting")
    assert run.steps == [(2025, False, "reporting_tests")]
