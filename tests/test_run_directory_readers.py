"""The run directory's readers, all through one library module (issue #24 item 2): `run_history` lists the
runs (`planalign runs`), picks the one `planalign report` takes (the newest complete full run) and the one a
new run learns its durations and ETA from (the newest whole-years run). Small synthetic runs directories: a
complete full run, a corrupt summary, a one-stage debug run, a failed run, a sweep — each gets the message a
user should see, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from planalign.cli import main
from planalign.cli._common import ExitStatus
from planalign.engine.results import EngineRunResult, ModelResult, ModelStatus, write_run_results
from planalign.errors import RunDirectoryError
from planalign.simulation.run_directory import SimulationSummary
from planalign.simulation.run_history import (
    StepDurations,
    latest_complete_run,
    latest_years_run,
    list_runs,
    newest_readable_run,
    recorded_durations,
    recorded_step_durations,
)

FULL = "20261201T100000Z-aaaa1111"
FAILED = "20261201T110000Z-aaaa1111"
STAGE = "20261201T120000Z-aaaa1111"
CORRUPT = "20261201T130000Z-aaaa1111"
SWEEP = "20261201T140000Z-sweep-designs"


def _summary(name: str, **changes: Any) -> dict[str, Any]:
    summary = SimulationSummary(
        run_id=name,
        status="success",
        started_at="2026-12-01T10:00:00+00:00",
        completed_at="2026-12-01T10:01:00+00:00",
        start_year=2025,
        end_year=2026,
        completed_years=(2025, 2026),
        years={},
        stages=(),
        run_dir=Path(name),
        database_path=Path("/nowhere/simulation.duckdb"),
        parallelization={},
        config_digest="aaaa1111",
    ).to_dict()
    summary.update(changes)
    return summary


def _stages(seconds: float) -> list[dict[str, Any]]:
    return [
        {"year": None, "stage": "initialization", "wall_time_s": seconds},
        {"year": 2025, "stage": "foundation", "wall_time_s": seconds * 2},
    ]


def _engine_runs(run_dir: Path, model_seconds: float) -> None:
    """engine_runs.json as the recorder writes it: one successful model `m` that took `model_seconds`."""
    model = ModelResult("model.p.m", "m", ModelStatus.SUCCESS, "parallel_safe", 1, duration_s=model_seconds)
    write_run_results(run_dir / "engine_runs.json", [EngineRunResult((model,), 1.0, 1.0, 1.0, 1, 1.0, 1)])


def _run(runs: Path, name: str, summary: dict[str, Any] | str, engine: float | None = None) -> Path:
    run_dir = runs / name
    run_dir.mkdir(parents=True)
    text = summary if isinstance(summary, str) else json.dumps(summary)
    (run_dir / "summary.json").write_text(text)
    if engine is not None:
        _engine_runs(run_dir, engine)
    return run_dir


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """A complete full run, then (newer) a failed full run, a one-stage debug run, a corrupt summary and a
    sweep."""
    runs = tmp_path / "runs"
    _run(runs, FULL, _summary(FULL, kind="years", stages=_stages(1.0)), 1.0)
    _run(
        runs,
        FAILED,
        _summary(FAILED, kind="years", status="failed", error="Stage foundation failed", stages=_stages(3.0)),
        3.0,
    )
    _run(
        runs,
        STAGE,
        _summary(
            STAGE, kind="stage", stage="foundation", start_year=2025, end_year=2025, stages=_stages(99.0)
        ),
        99.0,
    )
    _run(runs, CORRUPT, "{not json")
    sweep = runs / SWEEP
    sweep.mkdir()
    (sweep / "sweep.json").write_text(
        json.dumps({"status": "failed", "years": [2025], "scenarios": [{}], "seeds": [1], "database": ""})
    )
    return runs


def test_the_listing_says_what_each_directory_is(runs: Path) -> None:
    entries = {e.name: e for e in list_runs(runs)}
    assert [e.name for e in list_runs(runs)] == [FULL, FAILED, STAGE, CORRUPT, SWEEP]  # oldest first
    assert (entries[FULL].kind, entries[FULL].status) == ("full run", "complete")
    assert (entries[FAILED].kind, entries[FAILED].status) == ("full run", "failed")
    assert entries[FAILED].detail == "Stage foundation failed"
    assert (entries[STAGE].kind, entries[STAGE].detail) == ("one stage", "2025 up to foundation")
    assert (entries[CORRUPT].kind, entries[CORRUPT].status) == ("unknown", "incomplete")
    assert entries[CORRUPT].detail.startswith("summary.json unreadable: not valid JSON")
    assert (entries[SWEEP].kind, entries[SWEEP].status) == ("sweep", "failed")


def test_the_report_takes_the_newest_complete_full_run(runs: Path) -> None:
    assert latest_complete_run(runs).name == FULL
    assert newest_readable_run(runs, lambda path: None).name == FULL


def test_a_complete_run_the_report_cannot_read_is_skipped_with_its_reason(runs: Path) -> None:
    newer = "20261201T150000Z-aaaa1111"
    _run(runs, newer, _summary(newer, kind="years"))
    skipped: list[tuple[str, str]] = []

    def readable(path: Path) -> None:
        if path.name == newer:
            raise RunDirectoryError(f"{path}/engine_runs.json: not valid JSON")

    entry = newest_readable_run(runs, readable, on_skip=lambda e, exc: skipped.append((e.name, str(exc))))
    assert entry.name == FULL
    assert skipped == [(newer, f"{runs / newer}/engine_runs.json: not valid JSON")]


def test_without_a_complete_full_run_the_error_says_what_is_there(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _run(runs, STAGE, _summary(STAGE, kind="stage", stage="foundation", start_year=2025, end_year=2025))
    with pytest.raises(RunDirectoryError, match=rf"the newest, {STAGE}, is a one stage, complete"):
        latest_complete_run(runs)
    with pytest.raises(RunDirectoryError, match="no run directories under"):
        latest_complete_run(tmp_path / "empty")


def test_a_new_run_learns_from_the_newest_whole_years_run_never_a_stage_run(runs: Path) -> None:
    """The failed full run is newer than the complete one and the stage run newer still: durations and the
    ETA's step times both come from the failed full run (one rule), not the stage run's 99 s."""
    assert latest_years_run(runs) == runs / FAILED
    assert recorded_durations(runs) == {"model.p.m": 3.0}
    assert recorded_step_durations(runs) == StepDurations(
        setup={"initialization": 3.0}, year={"foundation": 6.0}
    )


def test_a_corrupt_engine_results_file_plans_without_durations(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run_dir = _run(runs, FULL, _summary(FULL, kind="years", stages=[{"stage": "x"}]))
    (run_dir / "engine_runs.json").write_text('{"results": 3}')
    assert recorded_durations(runs) == {}
    assert recorded_step_durations(runs) == StepDurations()  # a stage row without its time: no history
    assert recorded_durations(tmp_path / "absent") is None
    assert recorded_step_durations(tmp_path / "absent") == StepDurations()


def test_planalign_runs_lists_every_directory_and_names_the_report_run(
    runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs", str(runs)]) == ExitStatus.OK
    out, err = capsys.readouterr()
    for name in (FULL, FAILED, STAGE, CORRUPT, SWEEP):
        assert name[:16] in out
    assert "not valid JSON" in out
    assert out.rstrip().endswith(f"`planalign report` reports: {FULL}")
    assert "Traceback" not in out + err


def test_planalign_report_without_a_full_run_says_what_is_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    _run(runs, STAGE, _summary(STAGE, kind="stage", stage="foundation", start_year=2025, end_year=2025))
    _run(runs, CORRUPT, "[]")
    config = tmp_path / "config.yaml"
    config.write_text(f"run:\n  runs_dir: {runs}\n")
    assert main(["report", "--config", str(config)]) == ExitStatus.USAGE
    out, err = capsys.readouterr()
    assert "error: no complete full run under" in err and "`planalign runs` lists them" in err
    assert "Traceback" not in out + err
