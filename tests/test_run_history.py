"""The runs directory's history (`planalign.simulation.run_history`, issue #24 item 2): the per-model
durations a run plans with — and the plan views show — come from the newest whole-years run,
never from a one-stage debug run (which the
orchestrator's glob of `*/engine_runs.json` used to pick when it was the newest)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from planalign.engine.results import EngineRunResult, ModelResult, ModelStatus, write_run_results
from planalign.simulation.config_loading import load_simulation_config
from planalign.simulation.orchestrator import create_orchestrator
from planalign.simulation.run_history import recorded_durations
from tests.engine.fakes import FakeInvoker, make_analyzer


def _run_dir(runs: Path, name: str, *, kind: str | None, seconds: float, readable: bool = True) -> Path:
    """A run directory as the recorder writes one: summary.json (of `kind`) and engine_runs.json with one
    successful model `m` that took `seconds`."""
    path = runs / name
    path.mkdir(parents=True)
    summary: dict[str, Any] = {"schema_version": 2, "status": "success", "start_year": 2025, "end_year": 2025}
    summary.update({"kind": kind, "stage": "foundation" if kind == "stage" else None, "years": {}})
    (path / "summary.json").write_text(json.dumps(summary) if readable else "{not json")
    model = ModelResult("model.p.m", "m", ModelStatus.SUCCESS, "parallel_safe", 1, duration_s=seconds)
    result = EngineRunResult((model,), 1.0, seconds, 1.0, 1, 1.0, 1)
    write_run_results(path / "engine_runs.json", [result])
    return path


def test_a_stage_run_newer_than_the_last_full_run_does_not_give_the_durations(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _run_dir(runs, "20260101T000000Z-aaaaaaaa", kind="years", seconds=7.0)
    _run_dir(runs, "20260102T000000Z-aaaaaaaa", kind="stage", seconds=99.0)
    assert recorded_durations(runs) == {"model.p.m": 7.0}


def test_the_newest_full_run_wins_and_an_unreadable_summary_is_skipped(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _run_dir(runs, "20260101T000000Z-aaaaaaaa", kind="years", seconds=7.0)
    _run_dir(runs, "20260102T000000Z-aaaaaaaa", kind="years", seconds=8.0)
    _run_dir(runs, "20260103T000000Z-aaaaaaaa", kind="years", seconds=9.0, readable=False)
    assert recorded_durations(runs) == {"model.p.m": 8.0}


def test_no_full_run_means_no_durations(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    assert recorded_durations(runs) is None
    _run_dir(runs, "20260102T000000Z-aaaaaaaa", kind="stage", seconds=99.0)
    assert recorded_durations(runs) is None


def test_the_orchestrators_engine_plans_with_the_full_runs_durations(tmp_path: Path) -> None:
    """The engine a simulation runs with: before the fix it took the stage run's 99 s."""
    runs = tmp_path / "runs"
    _run_dir(runs, "20260101T000000Z-aaaaaaaa", kind="years", seconds=7.0)
    _run_dir(runs, "20260102T000000Z-aaaaaaaa", kind="stage", seconds=99.0)
    config = load_simulation_config(None, overrides={"run.runs_dir": str(runs)})
    orchestrator = create_orchestrator(config)
    engine = orchestrator._make_engine(make_analyzer({"m": []}), FakeInvoker())
    assert engine.durations == {"model.p.m": 7.0}


@pytest.mark.parametrize("name", ["not-a-run", "20260103T000000Z-aaaaaaaa"])
def test_directories_without_a_summary_are_not_runs(tmp_path: Path, name: str) -> None:
    runs = tmp_path / "runs"
    _run_dir(runs, "20260101T000000Z-aaaaaaaa", kind="years", seconds=7.0)
    (runs / name).mkdir()
    (runs / name / "engine_runs.json").write_text("{}")
    assert recorded_durations(runs) == {"model.p.m": 7.0}
