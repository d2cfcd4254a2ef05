"""`planalign simulate` through the real CLI: usage errors answer at once, a run prints its summary, JSON
logging keeps stderr machine-readable, and one stage of one year can be re-run in place.

The refusals of contradictory flags call the CLI's `main` in this process (what the process boundary would
add — starting Python and importing planalign, ~2-4 s of CPU each — is proved once, by the unknown-stage
refusal and the real runs, which go through `python -m planalign`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def _in_process(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """(exit status, stderr) of `planalign ARGS` run by the CLI's `main` here (argparse's own refusals
    raise SystemExit, as they end the process)."""
    from planalign.cli import main

    capsys.readouterr()
    try:
        status = main(list(args))
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    return status, capsys.readouterr().err


def _planalign(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "planalign", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "2", "--no-parallel"], "contradict"),
        (["--stage", "foundation"], "--stage and --year go together"),
        (["--stage", "foundation", "--year", "2025", "--resume"], "cannot be combined"),
    ],
)
def test_contradictory_flags_are_usage_errors(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    status, err = _in_process("simulate", *args, capsys=capsys)  # an exception would fail the test here
    assert status == 2
    assert message in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


def test_unknown_stage_is_a_usage_error(tmp_path: Path, small_census: Path) -> None:
    proc = _planalign(
        "simulate", "--census", str(small_census), "--stage", "launch", "--year", "2025", cwd=tmp_path
    )
    assert proc.returncode == 2
    assert "unknown stage 'launch'" in proc.stderr


@pytest.mark.slow
def test_simulate_prints_summary_logs_json_and_reruns_one_stage(tmp_path: Path, small_census: Path) -> None:
    config = {
        "simulation": {
            "start_year": 2025,
            "end_year": 2025,  # one year: a run's summary and one stage re-run need no second one
            "census_path": str(small_census),
            "database_path": "sim.duckdb",
        },
        "dbt": {"project_dir": str(REPO / "dbt_project")},
        "orchestrator": {"threading": {"model_parallelization": {"enabled": True, "max_workers": 2}}},
    }
    (tmp_path / "simulation_config.yaml").write_text(yaml.safe_dump(config))

    proc = _planalign("simulate", "--log-format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # Not a terminal: rich lays the summary out at 80 columns, where the years table takes short headers.
    assert "partic." in proc.stdout and "2025" in proc.stdout
    for line in proc.stderr.splitlines():
        record = json.loads(line)  # every stderr line is one JSON object
        assert "event" in record
    events = [json.loads(line)["event"] for line in proc.stderr.splitlines()]
    assert "stage_finished" in events and "year_finished" in events
    assert (tmp_path / "sim.duckdb").exists()
    assert len(list((tmp_path / "runs").glob("*/summary.json"))) == 1

    # the stage table is engine detail, shown with --verbose (issue #22: results last, for people)
    stage = _planalign("simulate", "--stage", "event-generation", "--year", "2025", "--verbose", cwd=tmp_path)
    assert stage.returncode == 0, stage.stderr[-3000:]
    assert "event_generation" in stage.stdout


@pytest.mark.slow
def test_plan_needs_no_census(tmp_path: Path) -> None:
    """`plan` runs nothing and loads the config without checking files; it used to die with a
    FileNotFoundError traceback because preparing the plan hashed the census."""
    config = {
        "simulation": {
            "census_path": str(tmp_path / "missing.parquet"),
            "database_path": str(tmp_path / "x.duckdb"),
        },
        "dbt": {"project_dir": str(REPO / "dbt_project")},
        "orchestrator": {"threading": {"model_parallelization": {"enabled": True, "max_workers": 4}}},
    }
    (tmp_path / "simulation_config.yaml").write_text(yaml.safe_dump(config))
    proc = _planalign("plan", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Execution plan" in proc.stdout
    # The worker rule (issue #21): both numbers and why, whatever this machine's cores.
    from planalign.dbt.workers import choose_workers

    choice = choose_workers(4, adapter_type="duckdb")
    assert f"workers {choice.effective} of max_workers 4" in proc.stdout
    assert f"Workers: {choice.reason}" in proc.stdout
    assert not (tmp_path / "x.duckdb").exists()
