"""Data safety: what a user runs *after* a first simulation never loses, mixes or silently corrupts what the
database holds (issue #11, cases 1–4 and 6). Every check compares fingerprints of the database — every table
of every schema, the year-status table included — not just exit codes.

The starting point of most tests is a complete 2025–2027 simulation (seed 42), copied per test; tests about a
run that continues after 2025 start from a copy of the same simulation's database after its first year
(`first_and_complete`, built once per test run). Refusals and runs whose process boundary is not the point
run the command line in-process (`planalign_here`); the signal tests run it as a separate process.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

from planalign.engine.invocation import InvocationOutcome, OutcomeStatus
from planalign.simulation.events import ProgressEvent
from planalign.simulation.orchestrator import PipelineOrchestrator, create_orchestrator
from planalign.simulation.stages import SimulationStage
from tests.fixtures.faults import faulty_factory
from tests.product.simulation_helpers import make_config, output_checksums
from tests.reliability.helpers import (
    base_settings,
    clean_env,
    complete_years,
    file_digest,
    fingerprint,
    first_and_complete,
    planalign_here,
    write_config,
    year_fingerprint,
)

pytestmark = pytest.mark.slow

#: The issue asks for an exit within 2 s of a signal on an idle machine; this bound keeps a loaded 2-core CI
#: machine from flaking (the parse alone, which a signal used to wait for, takes 15–70 s under load there).
EXIT_BOUND_S = 10.0
YEARS = (2025, 2026, 2027)


@pytest.fixture(scope="module")
def complete(tmp_path_factory: pytest.TempPathFactory, small_census: Path) -> Path:
    """A complete 2025–2027 simulation, seed 42 (never modified: tests copy it)."""
    return first_and_complete(tmp_path_factory, small_census)[1]


@pytest.fixture(scope="module")
def first_year(tmp_path_factory: pytest.TempPathFactory, small_census: Path) -> Path:
    """The same simulation's database when 2025 was complete and 2026 not begun (never modified)."""
    return first_and_complete(tmp_path_factory, small_census)[0]


def workspace(tmp_path: Path, census: Path, complete: Path | None, **simulation: Any) -> Path:
    """tmp_path with simulation_config.yaml (2025–2027 unless overridden) and, when given, a copy of the
    database `complete` as simulation.duckdb."""
    database = tmp_path / "simulation.duckdb"
    if complete is not None:
        shutil.copyfile(complete, database)
    settings = base_settings(census, database, end_year=2027)
    settings["simulation"].update(simulation)
    write_config(tmp_path / "simulation_config.yaml", settings)
    return database


def summaries(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((tmp_path / "runs").glob("*/summary.json"))]


# ------------------------------------------------------------ 1 and 3: ranges that would delete or mix


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--end-year", "2025"], ["would delete 2026–2027", "--end-year 2027", "--replace-years"]),
        (["--start-year", "2020", "--end-year", "2021"], ["would delete 2025–2027", "--replace-years"]),
        (["--start-year", "2026"], ["starts in 2025", "mixed", "--replace-years", "--database"]),
        (["--seed", "43", "--resume"], ["cannot resume", "different configuration"]),
    ],
    ids=["shrink-end-year", "earlier-range", "later-census-start", "resume-other-config"],
)
def test_a_range_that_would_delete_or_mix_years_is_refused_before_any_work(
    tmp_path: Path, small_census: Path, complete: Path, args: list[str], fragments: list[str]
) -> None:
    database = workspace(tmp_path, small_census, complete)
    before, digest = fingerprint(database), file_digest(database)
    result = planalign_here("simulate", *args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    assert fingerprint(database) == before
    assert file_digest(database) == digest
    assert not (tmp_path / "runs").exists(), "a refused run wrote a run directory"


def test_replace_years_replaces_the_database_in_one_step(
    tmp_path: Path, small_census: Path, complete: Path, year_tables: tuple[str, ...]
) -> None:
    database = workspace(tmp_path, small_census, complete)
    result = planalign_here(
        "simulate", "--start-year", "2026", "--end-year", "2026", "--replace-years", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert complete_years(database) == [2026]
    for year in (2025, 2027):
        rows = {t: n for t, (n, _) in year_fingerprint(database, year, year_tables).items()}
        assert set(rows.values()) == {0}, f"{year} of the discarded simulation is left: {rows}"
    assert "replacing 2025–2027" in result.stdout + result.stderr


# ------------------------------------------------------------ 2: a database path that is not a database


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_csv_or_parquet_file_as_the_database_is_refused_and_left_untouched(
    tmp_path: Path, small_census: Path, kind: str
) -> None:
    workspace(tmp_path, small_census, None)
    target = tmp_path / f"results.{kind}"
    if kind == "csv":
        target.write_text("employee_id,annual_compensation\nE1,50000\n")
    else:
        shutil.copyfile(small_census, target)
    digest = file_digest(target)
    result = planalign_here("simulate", "--database", str(target), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "not a DuckDB database" in result.stderr and str(target) in result.stderr
    assert file_digest(target) == digest
    assert not (tmp_path / "runs").exists()


# ------------------------------------------------------------ 1: a re-run that fails or is interrupted


def test_a_rerun_that_fails_leaves_every_previous_year_exactly_as_it_was(
    tmp_path: Path, small_census: Path, complete: Path
) -> None:
    from tests.fixtures.faults import Fault

    database = workspace(tmp_path, small_census, complete)
    before = fingerprint(database)
    config = make_config(tmp_path, small_census, "simulation", workers=4, **{"simulation.random_seed": 43})
    # In 2026: the re-run has completed a year of its own (2025, in its working copy) when it fails.
    summary = PipelineOrchestrator(
        config, invoker_factory=faulty_factory(Fault("fct_workforce_snapshot", year=2026, retryable=False))
    ).execute_multi_year_simulation()
    assert summary.status == "failed"
    assert fingerprint(database) == before, "a failed re-run changed the database"
    assert summary.completed_years == YEARS
    assert "was not changed" in summary.database_note


def _start_cli(cwd: Path, *args: str) -> tuple[subprocess.Popen[str], list[str], threading.Event]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "planalign", "simulate", *args],
        cwd=cwd,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    new_line = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            new_line.set()

    threading.Thread(target=read, daemon=True).start()
    return proc, lines, new_line


def _wait_for(lines: list[str], text: str, proc: subprocess.Popen[str], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in line for line in lines):
        assert proc.poll() is None, f"the run ended before {text!r}:\n" + "".join(lines)
        assert time.monotonic() < deadline, f"{text!r} never appeared:\n" + "".join(lines)
        time.sleep(0.02)


def _signal_and_wait(proc: subprocess.Popen[str], signals: Sequence[tuple[float, signal.Signals]]) -> float:
    """Send each signal after its delay; return seconds from the first signal to the exit."""
    try:
        sent = time.monotonic()
        for delay, signum in signals:
            time.sleep(delay)
            if proc.poll() is None:
                proc.send_signal(signum)
        proc.wait(timeout=120)
        return time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigint_in_the_first_year_of_a_rerun_keeps_the_previous_simulation(
    tmp_path: Path, small_census: Path, complete: Path
) -> None:
    """Was: the re-run deleted 2025–2027 before it started, so the interruption left `year_status` empty."""
    database = workspace(tmp_path, small_census, complete, random_seed=43)
    before = fingerprint(database)
    proc, lines, _ = _start_cli(tmp_path)
    _wait_for(lines, "2025 initialization", proc)
    exit_s = _signal_and_wait(proc, [(0.3, signal.SIGINT)])
    stderr = "".join(lines)
    assert proc.returncode == 130, stderr
    assert exit_s < EXIT_BOUND_S, f"{exit_s:.1f} s to stop"
    assert "Traceback" not in stderr
    assert "was not changed" in stderr and "2025–2027" in stderr, stderr
    assert fingerprint(database) == before
    assert [s["status"] for s in summaries(tmp_path)] == ["interrupted"]
    assert summaries(tmp_path)[0]["completed_years"] == list(YEARS)


# ---------------------------------------------------------------------- 6: signals at any moment


def test_a_second_sigterm_during_the_clean_up_neither_kills_the_run_nor_skips_its_summary(
    tmp_path: Path, small_census: Path, first_year: Path, year_tables: tuple[str, ...]
) -> None:
    """A run resuming a database that holds 2025 (so that it simulates only 2026), signalled in 2026."""
    database = workspace(tmp_path, small_census, first_year, end_year=2026)
    proc, lines, _ = _start_cli(tmp_path, "--resume")
    _wait_for(lines, "2026 initialization", proc)
    exit_s = _signal_and_wait(proc, [(0.3, signal.SIGTERM), (0.05, signal.SIGTERM), (0.05, signal.SIGINT)])
    stderr = "".join(lines)
    assert proc.returncode == 130, stderr
    assert exit_s < EXIT_BOUND_S
    assert "Traceback" not in stderr, stderr
    assert "already stopping" in stderr
    assert complete_years(database) == [2025]
    rows = {t: n for t, (n, _) in year_fingerprint(database, 2026, year_tables).items()}
    assert set(rows.values()) == {0}, f"the interrupted year left rows: {rows}"
    assert [s["status"] for s in summaries(tmp_path)] == ["interrupted"]


def test_sigint_during_the_parse_stops_at_once_and_says_nothing_changed(
    tmp_path: Path, small_census: Path, complete: Path
) -> None:
    """Was: the signal waited for the whole parse (~70 s under load), then claimed a rollback."""
    database = workspace(tmp_path, small_census, complete)
    before = fingerprint(database)
    proc, lines, _ = _start_cli(tmp_path)
    _wait_for(lines, "dbt invocation isolation active", proc)
    exit_s = _signal_and_wait(proc, [(0.0, signal.SIGINT)])
    stderr = "".join(lines)
    print(f"\nSIGINT during the parse: exit {proc.returncode} after {exit_s:.2f} s")
    assert proc.returncode == 130, stderr
    assert exit_s < EXIT_BOUND_S, f"{exit_s:.1f} s to stop"
    assert "rolled back" not in stderr
    assert "was not changed" in stderr, stderr
    assert fingerprint(database) == before
    [summary] = summaries(tmp_path)
    assert summary["status"] == "interrupted" and summary["stages"] == []


async def test_cancellation_between_years_keeps_exactly_the_completed_years(
    tmp_path: Path, small_census: Path, first_year: Path, complete: Path, year_tables: tuple[str, ...]
) -> None:
    """A 2025–2027 run resuming a database that holds 2025, cancelled once 2026 is finished: the year it
    found and the year it completed are kept, 2027 never starts (one simulated year, not two)."""
    config = make_config(tmp_path, small_census, "between", workers=4)
    database = Path(config.simulation.database_path)
    shutil.copyfile(first_year, database)
    with anyio.CancelScope() as scope:

        def on_progress(event: ProgressEvent) -> None:
            if event.kind == "year_finished" and event.year == 2026:
                scope.cancel()

        await create_orchestrator(config).execute_multi_year_simulation_async(
            resume=True, on_progress=on_progress
        )
    assert scope.cancelled_caught
    assert complete_years(database) == [2025, 2026]
    for year in (2025, 2026):
        assert year_fingerprint(database, year, year_tables) == year_fingerprint(complete, year, year_tables)


# ---------------------------------------------------------------------- 4: stage mode


class _TestsFail:
    """An invoker wrapper whose `dbt test` fails, to prove the validation stage runs the year's tests."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def invoke(self, args: Sequence[str], *, vars: Mapping[str, Any]) -> InvocationOutcome:
        if args and args[0] == "test":
            return InvocationOutcome(OutcomeStatus.ERROR, "1 of 60 tests failed: dq_contribution_limits")
        return self.inner.invoke(args, vars=vars)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_stage_mode_rebuilds_one_year_from_its_inputs_and_touches_no_other_year(
    tmp_path: Path, small_census: Path, complete: Path, year_tables: tuple[str, ...]
) -> None:
    """Was: `make foundation YEAR=2026` on a finished run rebuilt 2026 from 2027's prior-year state
    (start headcount 496→511); `make event-generation YEAR=2026` then replaced 2026's events with a partial
    set and rewrote 2027's events; every year stayed marked complete."""
    database = workspace(tmp_path, small_census, complete)
    years_before = {y: year_fingerprint(database, y, year_tables) for y in YEARS}

    result = planalign_here("simulate", "--stage", "foundation", "--year", "2026", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert complete_years(database) == [2025], "the rebuilt year and the years after it must be incomplete"
    after = {y: year_fingerprint(database, y, year_tables) for y in YEARS}
    assert after[2025] == years_before[2025]
    assert after[2027] == years_before[2027], "stage mode changed another year"
    needs = "int_workforce_needs"
    assert after[2026][needs] == years_before[2026][needs], "foundation was not rebuilt from 2026's inputs"

    config = make_config(tmp_path, small_census, "simulation", workers=4)
    orchestrator = create_orchestrator(config)
    summary = orchestrator.run_stage(2026, SimulationStage.EVENT_GENERATION)
    assert summary.success, summary.error
    after = {y: year_fingerprint(database, y, year_tables) for y in YEARS}
    events = "fct_yearly_events"
    assert after[2026][events] == years_before[2026][events], "2026's events are not the full set"
    assert after[2027] == years_before[2027], "stage mode changed another year"

    summary = orchestrator.run_stage(2026, SimulationStage.VALIDATION)
    assert summary.success, summary.error
    assert [s.stage for s in summary.stages if s.year == 2026][-1] == "validation_tests"

    resumed = orchestrator.execute_multi_year_simulation(resume=True)
    assert resumed.success, resumed.error
    assert sorted(resumed.years) == [2026, 2027]
    assert output_checksums(database) == output_checksums(complete)


def test_stage_mode_validation_fails_when_the_years_tests_fail_and_saves_nothing(
    tmp_path: Path, small_census: Path, complete: Path
) -> None:
    """Was: `--stage validation` reported success while dq tables held violations (no dbt tests ran)."""
    database = workspace(tmp_path, small_census, complete)
    before = fingerprint(database)
    config = make_config(tmp_path, small_census, "simulation", workers=4)

    def factory(manifest: Any, cfg: Any) -> Any:
        from planalign.simulation.build import default_invoker_factory

        return _TestsFail(default_invoker_factory(manifest, cfg))

    summary = PipelineOrchestrator(config, invoker_factory=factory).run_stage(
        2026, SimulationStage.VALIDATION
    )
    assert summary.status == "failed"
    assert "dq_contribution_limits" in (summary.error or "")
    assert fingerprint(database) == before
    # a failed stage run is still recorded as one, so `planalign runs` and `make report` can tell it apart
    assert (summary.kind, summary.stage) == ("stage", "validation")


def test_stage_mode_refuses_a_year_whose_previous_year_is_missing(tmp_path: Path, small_census: Path) -> None:
    database = workspace(tmp_path, small_census, None)
    result = planalign_here("simulate", "--stage", "foundation", "--year", "2026", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "does not hold 2025 complete" in result.stderr and "--end-year 2025" in result.stderr
    assert not database.exists()
