"""The orchestrator end to end on real dbt and a small generated census: parallel and serial runs agree,
the run directory is complete, failures roll back the incomplete year and `resume` finishes the job with
results identical to an uninterrupted run; the async API never blocks the loop and can be cancelled.

Two simulated years (2025–2026) prove each of these: the second year reads the first's state, and it is the
year that fails, is cancelled and is resumed. The serial run is the reliability tests' reference run
(`serial_reference`, built once per test run for both packages); the 4-worker run here is also the
determinism tests' 4-worker case (tests/reliability/test_determinism.py runs 8 workers,
tests/reliability/test_concurrent_simulations.py 2).

Every run here writes a database of the same file name, each in its own directory (`_config`): the catalog
name is part of dbt's parse vars, so the runs after the first start from its cached parse instead of
parsing in full (planalign.dbt.parse_vars). The transient-failure run is also the run whose completed year
another process reads (`transient_run`): two properties of one one-year run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from planalign.engine.results import load_run_results
from planalign.simulation.config import SimulationConfig
from planalign.simulation.events import ProgressEvent
from planalign.simulation.orchestrator import PipelineOrchestrator, create_orchestrator
from planalign.simulation.run_directory import SimulationSummary
from planalign.simulation.state import SimulationState
from tests.fixtures.faults import Fault, faulty_factory
from tests.product.loop_stalls import LoopStalls
from tests.product.simulation_helpers import (
    REFERENCE_END_YEAR,
    make_config,
    output_checksums,
    peak_parallelism,
    serial_reference,
    years_in,
)

pytestmark = pytest.mark.slow

END_YEAR = REFERENCE_END_YEAR
YEARS = (2025, 2026)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("simulation")


def _config(workdir: Path, census: Path, name: str, **options: Any) -> SimulationConfig:
    """`make_config` for the run `name`, its database `<workdir>/<name>/simulation.duckdb`: one file name
    (one catalog) for every run of this module, so they share one cached dbt parse."""
    (workdir / name).mkdir(exist_ok=True)
    database = str(workdir / name / "simulation.duckdb")
    settings: dict[str, Any] = {**options, "simulation.database_path": database}
    return make_config(workdir, census, name, **settings)


@pytest.fixture(scope="module")
def parallel_run(workdir: Path, small_census: Path) -> SimulationSummary:
    config = _config(workdir, small_census, "parallel", workers=4, end_year=END_YEAR)
    return create_orchestrator(config).execute_multi_year_simulation()


@pytest.fixture(scope="module")
def reference(parallel_run: SimulationSummary) -> dict[str, tuple[int, str]]:
    return output_checksums(parallel_run.database_path)


def test_parallel_run_completes_every_year(parallel_run: SimulationSummary) -> None:
    assert parallel_run.success, parallel_run.error
    assert parallel_run.completed_years == YEARS
    assert sorted(parallel_run.years) == list(YEARS)
    assert all(m.actives > 250 for m in parallel_run.years.values())
    assert parallel_run.parallelization["max_workers"] == 4
    assert parallel_run.parallelization["configured_max_workers"] == 4  # worker_rule: fixed (the helper)
    assert peak_parallelism(parallel_run) > 1, "nothing ran in parallel"
    states = SimulationState(parallel_run.database_path).completed_years()
    assert [c.simulation_year for c in states] == list(YEARS)


def test_run_directory_holds_config_engine_results_and_summary(parallel_run: SimulationSummary) -> None:
    run_dir = parallel_run.run_dir
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "success" and summary["completed_years"] == list(YEARS)
    assert set(summary["years"]) == {str(year) for year in YEARS}
    assert "orchestrator" in json.loads((run_dir / "config.json").read_text())
    labels = {run.label for run in load_run_results(run_dir / "engine_runs.json")}
    for year in YEARS:
        for stage in ("initialization", "foundation", "event_generation", "state_accumulation", "validation"):
            assert f"{year}:{stage}" in labels


def test_serial_run_gives_identical_tables(
    tmp_path_factory: pytest.TempPathFactory, small_census: Path, reference: dict[str, tuple[int, str]]
) -> None:
    """The one-worker run (the reliability tests' reference, seed 42 as here) and the 4-worker run agree."""
    serial, serial_peak = serial_reference(tmp_path_factory, small_census, 42)
    assert serial_peak == 1
    assert serial == reference


def test_failure_rolls_back_the_year_and_resume_completes_identically(
    workdir: Path, small_census: Path, reference: dict[str, tuple[int, str]]
) -> None:
    config = _config(workdir, small_census, "failing", workers=4, end_year=END_YEAR)
    broken = PipelineOrchestrator(
        config, invoker_factory=faulty_factory(Fault("int_hiring_events", year=2026, retryable=False))
    )
    summary = broken.execute_multi_year_simulation()
    assert summary.status == "failed"
    assert summary.completed_years == (2025,)
    assert any("int_hiring_events" in line for line in summary.failed_models)
    assert years_in(summary.database_path) == [2025], "the failed year's partial rows were not rolled back"
    assert years_in(summary.database_path, "fct_workforce_snapshot") == [2025]

    resumed = create_orchestrator(config).execute_multi_year_simulation(resume=True)
    assert resumed.success, resumed.error
    assert resumed.completed_years == YEARS
    assert sorted(resumed.years) == [2026], "resume re-ran a completed year"
    assert output_checksums(resumed.database_path) == reference


@dataclass(frozen=True)
class TransientRun:
    summary: SimulationSummary
    fault: Fault
    seen: list[subprocess.CompletedProcess[str]]
    """What another process read of the database each time a year finished, during the run."""


@pytest.fixture(scope="module")
def transient_run(workdir: Path, small_census: Path) -> TransientRun:
    """One year (2025) with a retryable failure of one model, and another process reading the database each
    time a year finishes (still inside the run: the end-of-run release has not happened yet)."""
    config = _config(workdir, small_census, "transient", workers=4, end_year=2025)
    database = Path(config.simulation.database_path)
    fault = Fault("int_hazard_termination", failures=1, retryable=True)
    seen: list[subprocess.CompletedProcess[str]] = []
    reader = (
        "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
        "sql = 'select count(*) from fct_yearly_events where simulation_year = 2025'; "
        "print(con.execute(sql).fetchone()[0])"
    )

    def on_progress(event: ProgressEvent) -> None:
        if event.kind == "year_finished":
            seen.append(
                subprocess.run(
                    [sys.executable, "-c", reader, str(database)], capture_output=True, text=True, timeout=60
                )
            )

    summary = PipelineOrchestrator(
        config, invoker_factory=faulty_factory(fault)
    ).execute_multi_year_simulation(on_progress=on_progress)
    return TransientRun(summary, fault, seen)


def test_transient_failure_is_retried_and_the_run_succeeds(transient_run: TransientRun) -> None:
    summary, fault = transient_run.summary, transient_run.fault
    assert summary.success, summary.error
    assert fault.seen == 2
    runs = load_run_results(summary.run_dir / "engine_runs.json")
    attempts = [m.attempts for r in runs for m in r.results if m.name == "int_hazard_termination"]
    assert attempts == [2]


async def test_async_run_never_blocks_the_loop_and_cancel_then_resume_is_identical(
    workdir: Path, small_census: Path, reference: dict[str, tuple[int, str]]
) -> None:
    config = _config(workdir, small_census, "async", workers=4, end_year=END_YEAR)
    reached_2026 = anyio.Event()
    events: list[ProgressEvent] = []

    def on_progress(event: ProgressEvent) -> None:
        events.append(event)
        if event.kind == "stage_started" and event.year == 2026 and event.stage == "event_generation":
            reached_2026.set()

    # The loop's own stalls, net of those of the whole process (a worker thread holding the GIL through a
    # full garbage collection, a loaded machine not scheduling the process): see tests/product/loop_stalls.
    stalls = LoopStalls()

    orchestrator = create_orchestrator(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(stalls.heartbeat)
        with anyio.CancelScope() as run_scope:

            async def cancel_when_2026_is_midway() -> None:
                await reached_2026.wait()
                run_scope.cancel()

            tg.start_soon(cancel_when_2026_is_midway)
            await orchestrator.execute_multi_year_simulation_async(on_progress=on_progress)
        assert run_scope.cancelled_caught, "the run finished before it could be cancelled"
        tg.cancel_scope.cancel()

    assert stalls.worst_unexplained() < 0.1, stalls.describe()
    assert any(e.kind == "model_finished" for e in events)
    database = Path(config.simulation.database_path)
    assert years_in(database) == [2025]
    summaries = sorted((Path(config.run.runs_dir)).glob("*/summary.json"))
    assert any(json.loads(p.read_text())["status"] == "interrupted" for p in summaries)

    resumed = await create_orchestrator(config).execute_multi_year_simulation_async(resume=True)
    assert resumed.success, resumed.error
    assert output_checksums(database) == reference


def test_sync_api_refuses_to_run_inside_an_event_loop(workdir: Path, small_census: Path) -> None:
    orchestrator = create_orchestrator(make_config(workdir, small_census, "loop", workers=4))

    async def call_sync() -> None:
        orchestrator.execute_multi_year_simulation()

    with pytest.raises(RuntimeError, match="execute_multi_year_simulation_async"):
        anyio.run(call_sync)


def test_each_completed_year_is_released_to_other_processes_before_the_next(
    transient_run: TransientRun,
) -> None:
    """After a year completes, the orchestrator closes the database (checkpointing the year and freeing
    DuckDB's buffers) before the next year reopens it; another process can read the year at that moment
    (the transient-failure run's: a retried model changes nothing of how a year ends)."""
    summary, seen = transient_run.summary, transient_run.seen
    assert summary.success, summary.error
    assert len(seen) == 1
    assert seen[0].returncode == 0, f"another process could not open the database:\n{seen[0].stderr}"
    assert int(seen[0].stdout) > 0
