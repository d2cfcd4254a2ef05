"""SIGINT and SIGTERM in the middle of a real `planalign simulate`: dispatch stops, running queries end, the
process exits 130, the database opens with every completed year intact and nothing of the interrupted one,
and `simulate --resume` finishes with tables identical to an uninterrupted run.

SIGINT interrupts a run from an empty database, so the year kept is one the interrupted run completed itself.
SIGTERM — the same cancellation path (`planalign.cli._cancel`), another signal — interrupts a `--resume` of a
database holding 2025 (a copy of `first_and_complete`'s), which simulates only 2026: a year less of CPU, the
same checks (2025 kept, nothing of 2026, the resume identical to the uninterrupted reference)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from planalign.simulation.state import SimulationState
from tests.product.simulation_helpers import output_checksums
from tests.reliability.conftest import END_YEAR, Checksums
from tests.reliability.helpers import (
    base_settings,
    clean_env,
    first_and_complete,
    planalign_here,
    write_config,
)

pytestmark = pytest.mark.slow

#: The issue asks for dispatch to stop within 2 s; this generous bound keeps a loaded 2-core CI machine from
#: flaking, and the measured figure is printed (run with -s) and recorded in the README (Reliability).
EXIT_BOUND_S = 10.0


def _start(
    workdir: Path, census: Path, first_year: Path | None
) -> tuple[subprocess.Popen[str], list[str], threading.Event]:
    """Start the simulation (with `first_year`: a copy of it, resumed); collect its stderr lines, and set
    the event once year 2026 is under way."""
    database = workdir / "simulation.duckdb"
    if first_year is not None:
        shutil.copyfile(first_year, database)
    settings = base_settings(census, database, end_year=END_YEAR)
    settings["orchestrator"] = {"threading": {"model_parallelization": {"enabled": True, "max_workers": 4}}}
    write_config(workdir / "simulation_config.yaml", settings)
    proc = subprocess.Popen(
        [sys.executable, "-m", "planalign", "simulate", *(["--resume"] if first_year else [])],
        cwd=workdir,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    midway = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            # "[   17.3s] 2026 initialization  success": the next stage of 2026 is running now.
            if "2026 initialization" in line:
                midway.set()

    threading.Thread(target=read, daemon=True).start()
    return proc, lines, midway


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_run_exits_130_keeps_completed_years_and_resume_is_identical(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    small_census: Path,
    reference: Checksums,
    signum: signal.Signals,
) -> None:
    first_year = first_and_complete(tmp_path_factory, small_census)[0] if signum == signal.SIGTERM else None
    proc, lines, midway = _start(tmp_path, small_census, first_year)
    try:
        assert midway.wait(timeout=240), "the run never reached 2026:\n" + "".join(lines)
        time.sleep(0.5)  # into the foundation stage of 2026, with models in flight
        assert proc.poll() is None, "the run ended before it could be interrupted"
        sent = time.monotonic()
        proc.send_signal(signum)
        returncode = proc.wait(timeout=120)
        exit_s = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = "".join(lines)
    print(f"\n{signum.name}: exited {returncode} {exit_s:.2f} s after the signal")
    assert returncode == 130, stderr
    assert exit_s < EXIT_BOUND_S, f"took {exit_s:.1f} s to stop"
    assert "Traceback" not in stderr, stderr
    assert "simulate --resume" in stderr

    database = tmp_path / "simulation.duckdb"
    con = duckdb.connect(str(database), read_only=True)
    try:
        years = con.execute("select distinct simulation_year from fct_yearly_events order by 1").fetchall()
        snapshot_years = con.execute(
            "select distinct simulation_year from fct_workforce_snapshot order by 1"
        ).fetchall()
    finally:
        con.close()
    assert years == [(2025,)] and snapshot_years == [(2025,)], "the interrupted year left rows behind"
    assert [c.simulation_year for c in SimulationState(database).completed_years()] == [2025]
    summaries = [json.loads(p.read_text()) for p in (tmp_path / "runs").glob("*/summary.json")]
    assert [s["status"] for s in summaries] == ["interrupted"]
    assert summaries[0]["completed_years"] == [2025]

    # In-process: what is tested is the resumed tables, not a process boundary (saves a dbt import).
    resumed = planalign_here("simulate", "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "2025 initialization" not in resumed.stderr, "resume re-ran the completed year"
    assert output_checksums(database) == reference
