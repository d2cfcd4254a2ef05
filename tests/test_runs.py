"""`planalign runs` and the rule `planalign report` uses without a run directory: the newest complete full
run, never a one-stage debug run or a failed run (planalign.cli.runs, run_directory.run_kind)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from planalign.cli import main
from planalign.errors import RunDirectoryError
from planalign.simulation.config import SimulationConfig
from planalign.simulation.events import ProgressEvent
from planalign.simulation.run_directory import RunRecorder, SimulationSummary, run_kind
from planalign.simulation.run_history import latest_complete_run, list_runs
from planalign.simulation.stages import SimulationStage


def _summary(run_dir: Path, **changes: Any) -> dict[str, Any]:
    summary = SimulationSummary(
        run_id=run_dir.name,
        status="success",
        started_at="2026-12-01T10:00:00.000+00:00",
        completed_at="2026-12-01T10:01:00.000+00:00",
        start_year=2025,
        end_year=2027,
        completed_years=(2025, 2026, 2027),
        years={},
        stages=(),
        run_dir=run_dir,
        database_path=Path("/data/simulation.duckdb"),
        parallelization={},
        config_digest="abcd1234",
    ).to_dict()
    summary.update(changes)
    return summary


def _write(runs: Path, name: str, summary: dict[str, Any] | None = None, **files: Any) -> Path:
    run_dir = runs / name
    run_dir.mkdir(parents=True)
    if summary is not None:
        (run_dir / "summary.json").write_text(json.dumps(summary))
    for file_name, content in files.items():
        (run_dir / file_name.replace("_json", ".json")).write_text(
            content if isinstance(content, str) else json.dumps(content)
        )
    return run_dir


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    full = runs / "20261201T100000000000Z-abcd1234"
    _write(runs, full.name, _summary(full))
    stage = runs / "20261201T110000000000Z-abcd1234"
    _write(
        runs,
        stage.name,
        _summary(
            stage, kind="stage", stage="foundation", start_year=2026, end_year=2026, completed_years=[2025]
        ),
    )
    failed = runs / "20261201T120000000000Z-abcd1234"
    _write(runs, failed.name, _summary(failed, status="failed", kind=None, error="Stage failed\nmore"))
    interrupted = runs / "20261201T121000000000Z-abcd1234"
    _write(runs, interrupted.name, _summary(interrupted, status="interrupted", kind="years"))
    _write(runs, "20261201T130000000000Z-ffff0000", config_json={})  # stopped before summary.json
    sweep = {
        "schema_version": 1,
        "kind": "sweep",
        "status": "running",
        "name": "designs",
        "database": "/data/sweep.duckdb",
        "config_digest": "99998888",
        "years": [2025, 2026, 2027],
        "seeds": [1, 2],
        "scenarios": [{"name": "baseline"}, {"name": "match_4pct"}],
        "started_at": "2026-12-01T14:00:00Z",
        # This process: the sweep is still running (a dead one would be listed as interrupted).
        "pid": os.getpid(),
        "host": socket.gethostname(),
    }
    _write(runs, "20261201T140000Z-sweep-designs", sweep_json=sweep)
    (runs / "notes").mkdir()  # not a run: not listed
    return runs


def test_every_run_and_sweep_is_listed_with_kind_and_status(runs: Path) -> None:
    rows = [(e.kind, e.status, e.years) for e in list_runs(runs)]
    assert rows == [
        ("full run", "complete", "2025-2027"),
        ("one stage", "complete", "2026"),
        ("unknown", "failed", "2025-2027"),
        ("full run", "failed", "2025-2027"),
        ("unknown", "incomplete", "?"),
        ("sweep", "running", "2025-2027"),
    ]
    entries = list_runs(runs)
    assert entries[1].detail == "2026 up to foundation"
    assert entries[2].detail == "Stage failed"
    assert entries[3].detail == "status interrupted"
    assert entries[4].config_digest == "ffff0000" and entries[4].detail == "no summary.json"
    assert (entries[5].config_digest, entries[5].database) == ("99998888", "/data/sweep.duckdb")
    assert entries[5].detail == "2 scenario(s) x 2 seed(s)"
    assert entries[0].config_digest == "abcd1234" and entries[0].database == "/data/simulation.duckdb"


def test_the_report_takes_the_newest_complete_full_run(runs: Path) -> None:
    """Newer stage, failed, interrupted, incomplete and sweep directories are passed over."""
    assert latest_complete_run(runs).name == "20261201T100000000000Z-abcd1234"


def test_without_a_complete_full_run_the_error_says_what_is_there(runs: Path) -> None:
    (runs / "20261201T100000000000Z-abcd1234" / "summary.json").unlink()
    with pytest.raises(RunDirectoryError, match=r"no complete full run .* is a sweep, running"):
        latest_complete_run(runs)
    with pytest.raises(RunDirectoryError, match="no run directories"):
        latest_complete_run(runs / "absent")


def test_an_unreadable_summary_is_listed_as_incomplete(tmp_path: Path) -> None:
    _write(tmp_path, "20261201T100000000000Z-abcd1234", None, summary_json="{")
    (entry,) = list_runs(tmp_path)
    assert (entry.status, entry.kind) == ("incomplete", "unknown")
    assert entry.detail.startswith("summary.json unreadable")


@pytest.mark.parametrize(
    ("summary", "kind"),
    [
        (
            {"schema_version": 1, "status": "success", "start_year": 2026, "end_year": 2026, "years": {}},
            "stage",
        ),
        (
            {
                "schema_version": 1,
                "status": "success",
                "start_year": 2026,
                "end_year": 2026,
                "years": {"2026": {}},
            },
            "years",
        ),
        (
            {"schema_version": 1, "status": "success", "start_year": 2025, "end_year": 2027, "years": {}},
            "years",
        ),
        ({"schema_version": 1, "status": "failed", "start_year": 2026, "end_year": 2026, "years": {}}, None),
        ({"status": "failed", "start_year": 2025, "end_year": 2027, "years": {"2025": {}}}, "years"),
        ({"schema_version": 2, "kind": "stage"}, "stage"),
        ({"schema_version": 2, "kind": None, "status": "success", "years": {}}, None),
    ],
)
def test_run_kind_of_every_schema_version(summary: dict[str, Any], kind: str | None) -> None:
    """Version 1 had two writers: whole-year runs record every finished year's metrics, stage runs none."""
    assert run_kind(summary) == kind


def _recorder(tmp_path: Path, **kwargs: Any) -> RunRecorder:
    config = SimulationConfig.model_validate({"run": {"runs_dir": str(tmp_path)}})
    return RunRecorder(config, 2026, 2026, None, **kwargs)


def test_the_recorder_says_a_stage_run_is_one(tmp_path: Path) -> None:
    declared = _recorder(tmp_path, stage=SimulationStage.FOUNDATION).write("failed", "boom", (), [])
    assert (declared.kind, declared.stage) == ("stage", "foundation")
    # not declared: a successful run that started a year and never finished it
    undeclared = _recorder(tmp_path)
    undeclared.emit(ProgressEvent(kind="year_started", year=2026))
    assert undeclared.write("success", None, (), []).kind == "stage"
    whole = _recorder(tmp_path)
    whole.emit(ProgressEvent(kind="year_started", year=2026))
    whole.emit(ProgressEvent(kind="year_finished", year=2026))
    summary = whole.write("success", None, (), [2026])
    assert summary.kind == "years" and summary.to_dict()["kind"] == "years"
    assert summary.to_dict()["config_digest"] == summary.run_id.rsplit("-", 1)[1]


def test_runs_command_lists_and_names_what_report_takes(
    runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs", str(runs)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["RUN", "KIND", "STATUS", "YEARS", "DATABASE"]
    stage_row = next(i for i, line in enumerate(lines) if "one stage" in line)  # detail: on the next line
    assert "2026 up to foundation" in lines[stage_row + 1]
    assert out.rstrip().endswith("`planalign report` reports: 20261201T100000000000Z-abcd1234")
    assert main(["runs", str(runs), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["kind"] for d in data] == ["full run", "one stage", "unknown", "full run", "unknown", "sweep"]


def test_runs_command_refuses_a_missing_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", str(tmp_path / "absent")]) == 2
    assert "is not a directory" in capsys.readouterr().err
