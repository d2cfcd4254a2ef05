"""A `planalign.simulation.build.Workspace` over a hand-made manifest, a fake invoker and a fake run
recorder: what the tests of the year's dbt test selection (tests/test_year_tests.py and
tests/test_reporting_tests.py) drive without dbt."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from planalign.engine.nodes import ManifestNode, ProjectManifest
from planalign.simulation.build import Workspace
from planalign.simulation.stages import ModelScope, SimulationStage, StageAssignment


def node(uid: str, kind: str, parents: Sequence[str] = (), *, folder: str = "models") -> ManifestNode:
    """A manifest node of package `p`, its fqn `p.<folder>.<name>` (what `fqn:` selectors name)."""
    name = uid.split(".")[-1]
    return ManifestNode(
        unique_id=uid,
        name=name,
        resource_type=kind,
        package_name="p",
        depends_on=tuple(parents),
        fqn=("p", folder, name),
    )


def prepared(
    nodes: Sequence[ManifestNode], stage_of: Mapping[str, tuple[SimulationStage, ModelScope]]
) -> Any:
    """What `Workspace` reads of a prepared project: the manifest and each model's stage and scope."""
    manifest = ProjectManifest(project_dir=Path("."), nodes={n.unique_id: n for n in nodes})
    stages = StageAssignment(
        stage_of={uid: stage for uid, (stage, _) in stage_of.items()},
        scope_of={uid: scope for uid, (_, scope) in stage_of.items()},
    )
    return SimpleNamespace(manifest=manifest, stages=stages)


class FakeInvoker:
    """Records each dbt command; the calls numbered in `fail` (from 1) fail with `message`."""

    def __init__(self, fail: set[int] | None = None, message: str = "1 of 3 tests failed") -> None:
        self.calls: list[list[str]] = []
        self.fail = fail or set()
        self.message = message

    def invoke(self, args: Sequence[str], *, vars: Mapping[str, Any]) -> Any:
        self.calls.append(list(args))
        ok = len(self.calls) not in self.fail
        return SimpleNamespace(ok=ok, message="" if ok else self.message)


class FakeRun:
    """Records each test step (`record_tests`) and each `phase_started` event the display would show."""

    def __init__(self) -> None:
        self.steps: list[tuple[int, bool, str]] = []
        self.phases: list[tuple[int, str]] = []

    def emit(self, event: Any) -> None:
        if event.kind == "phase_started":
            self.phases.append((event.year, event.stage))

    def record_tests(self, year: int, seconds: float, ok: bool, step: str = "validation_tests") -> None:
        self.steps.append((year, ok, step))


def workspace(project: Any, invoker: FakeInvoker) -> Workspace:
    config = SimpleNamespace(dbt_vars=lambda year: {"simulation_year": year})
    return Workspace(
        prepared=project,
        invoker=invoker,  # type: ignore[arg-type]
        engine=None,  # type: ignore[arg-type]
        database=Path("sim.duckdb"),
        config=config,  # type: ignore[arg-type]
    )
