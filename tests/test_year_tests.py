"""The year's dbt tests (issue #25): every test the first time after the year-invariant models are built,
then only the tests that read something built every year. Pure functions and a fake invoker, no dbt."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import pytest

from planalign.engine.nodes import ManifestNode, ProjectManifest
from planalign.simulation.build import StageFailedError, Workspace, year_tests
from planalign.simulation.stages import ModelScope, SimulationStage, StageAssignment


def _node(uid: str, kind: str, parents: Sequence[str] = ()) -> ManifestNode:
    name = uid.split(".")[-1]
    return ManifestNode(
        unique_id=uid,
        name=name,
        resource_type=kind,
        package_name="p",
        depends_on=tuple(parents),
        fqn=("p", "models", name),
    )


def _prepared() -> Any:
    nodes = [
        _node("seed.p.config", "seed"),
        _node("source.p.sim.snapshot", "source"),
        _node("model.p.stg", "model", ["seed.p.config"]),
        _node("model.p.events", "model", ["model.p.stg"]),
        _node("test.p.not_null_stg", "test", ["model.p.stg"]),
        _node("test.p.seed_check", "test", ["seed.p.config", "model.p.stg"]),
        _node("test.p.not_null_events", "test", ["model.p.events"]),
        _node("test.p.events_to_stg", "test", ["model.p.events", "model.p.stg"]),
        _node("test.p.on_source", "test", ["source.p.sim.snapshot"]),
    ]
    manifest = ProjectManifest(project_dir=Path("."), nodes={n.unique_id: n for n in nodes})
    stages = StageAssignment(
        stage_of={
            "model.p.stg": SimulationStage.INITIALIZATION,
            "model.p.events": SimulationStage.EVENT_GENERATION,
        },
        scope_of={"model.p.stg": ModelScope.SIMULATION, "model.p.events": ModelScope.YEAR},
    )
    return SimpleNamespace(manifest=manifest, stages=stages)


def test_year_tests_leave_out_only_tests_of_year_invariant_models_and_seeds() -> None:
    assert year_tests(_prepared()) == [
        "fqn:p.models.events_to_stg",  # reads a year model too: kept
        "fqn:p.models.not_null_events",
        "fqn:p.models.on_source",  # a source is the simulation's own table read back: kept
    ]


class FakeInvoker:
    def __init__(self, fail_on: int | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail_on = fail_on

    def invoke(self, args: Sequence[str], *, vars: Mapping[str, Any]) -> Any:
        self.calls.append(list(args))
        ok = self.fail_on != len(self.calls)
        return SimpleNamespace(ok=ok, message="" if ok else "1 of 3 tests failed")


class FakeRun:
    def __init__(self) -> None:
        self.tests: list[tuple[int, bool]] = []

    def emit(self, event: Any) -> None:
        pass

    def record_tests(self, year: int, seconds: float, ok: bool) -> None:
        self.tests.append((year, ok))


def _workspace(invoker: FakeInvoker) -> Workspace:
    config = SimpleNamespace(dbt_vars=lambda year: {"simulation_year": year})
    return Workspace(
        prepared=_prepared(),
        invoker=invoker,  # type: ignore[arg-type]
        engine=None,  # type: ignore[arg-type]
        database=Path("sim.duckdb"),
        config=config,  # type: ignore[arg-type]
    )


def test_every_test_runs_the_first_year_then_only_the_year_tests() -> None:
    invoker, run = FakeInvoker(), FakeRun()
    work = _workspace(invoker)

    async def main() -> None:
        for year in (2025, 2026, 2027):
            await work.tests(run, year)  # type: ignore[arg-type]

    anyio.run(main)
    selected = ["fqn:p.models.events_to_stg", "fqn:p.models.not_null_events", "fqn:p.models.on_source"]
    assert invoker.calls == [["test"], ["test", "--select", *selected], ["test", "--select", *selected]]
    assert run.tests == [(2025, True), (2026, True), (2027, True)]


def test_a_failed_first_test_run_is_repeated_in_full_and_a_rebuild_tests_everything_again() -> None:
    invoker, run = FakeInvoker(fail_on=1), FakeRun()
    work = _workspace(invoker)

    async def main() -> None:
        with pytest.raises(StageFailedError, match="1 of 3 tests failed"):
            await work.tests(run, 2025)  # type: ignore[arg-type]
        await work.tests(run, 2025)  # type: ignore[arg-type]
        work.tests_done.year_invariant = False  # what setup() does when it builds them again
        await work.tests(run, 2026)  # type: ignore[arg-type]

    anyio.run(main)
    assert invoker.calls == [["test"], ["test"], ["test"]]
