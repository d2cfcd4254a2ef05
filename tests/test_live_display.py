"""The live display as a user sees it: the screen of a terminal emulator fed what the display and the log
wrote (`tests.fixtures.terminal`), so a log line that overwrites the status line or leaves a stale copy of it
shows up here as it would on a terminal. No real terminal, no sleeps: the display's clock is a fake."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from planalign.cli.progress import ProgressDisplay, print_summary
from planalign.log import configure_logging, get_logger
from planalign.simulation.events import ProgressEvent
from planalign.simulation.run_directory import SimulationSummary, StageSummary, YearMetrics
from planalign.simulation.run_history import StepDurations
from planalign.simulation.run_history import recorded_step_durations as load_history
from tests.fixtures.terminal import lock_guard, screen

WIDTH = 80


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def terminal() -> tuple[io.StringIO, Console]:
    """One stream standing for the terminal, and a console on it that rich takes for a terminal."""
    stream = io.StringIO()
    return stream, Console(file=stream, force_terminal=True, width=WIDTH, color_system=None)


def display(console: Console, **kwargs: object) -> ProgressDisplay:
    return ProgressDisplay(console=console, auto_refresh=False, clock=FakeClock(), **kwargs)  # type: ignore[arg-type]


def ev(kind: str, **fields: object) -> ProgressEvent:
    return ProgressEvent(kind, **fields)  # type: ignore[arg-type]


def test_a_log_line_goes_above_the_live_line_and_leaves_no_stale_copy() -> None:
    stream, console = terminal()
    configure_logging(fmt="console", stream=stream)  # the log writes to the same terminal, as stderr does
    log = get_logger("planalign.test")
    with display(console) as progress:
        progress(ev("run_planned", total=2))
        progress(ev("stage_started", year=2025, stage="foundation", total=3))
        progress(ev("model_started", year=2025, stage="foundation", unique_id="model.p.a", limit=4))
        log.info("checkpoint written", rows=12)
        progress(ev("model_finished", year=2025, stage="foundation", unique_id="model.p.a", status="success"))
        log.warning("memory pressure", limit=1)
        live = screen(stream.getvalue(), width=WIDTH)
        assert any("1/3 models" in row for row in live), live  # the live line is on screen, up to date
    rows = screen(stream.getvalue(), width=WIDTH)
    logged = [row for row in rows if "checkpoint written" in row or "memory pressure" in row]
    assert len(logged) == 2, rows
    assert all("models" not in row for row in logged), rows  # no log line printed onto the status line
    assert not [row for row in rows if "models" in row or "year 2025" in row], rows  # no stale status line


def test_the_parse_seed_and_tests_show_as_what_they_are_not_idle() -> None:
    _, console = terminal()
    progress = display(console)
    progress(ev("run_planned", total=3))
    progress(ev("phase_started", stage="parse"))
    assert "parsing the dbt project" in progress.render_text()
    progress(ev("phase_started", stage="seed"))
    assert "loading the seeds" in progress.render_text()
    progress(ev("stage_started", year=2025, stage="validation", total=2))
    progress(ev("stage_finished", year=2025, stage="validation", status="success"))
    progress(ev("phase_started", year=2025, stage="tests"))
    text = progress.render_text()
    assert "dbt tests of 2025" in text
    assert "idle" not in text


def test_n_of_m_models_and_years_done_of_total() -> None:
    _, console = terminal()
    progress = display(console)
    progress(ev("run_planned", total=3))
    progress(ev("stage_started", year=2025, stage="foundation", total=40))
    for uid in ("model.p.a", "model.p.b"):
        progress(ev("model_started", year=2025, stage="foundation", unique_id=uid, limit=4))
    progress(ev("model_finished", year=2025, stage="foundation", unique_id="model.p.a", status="success"))
    text = progress.render_text()
    assert "1/40 models" in text
    assert "year 2025 (0 of 3 done)" in text
    assert "b" in text and "1 running" in text
    progress(ev("year_finished", year=2025))
    progress(ev("stage_started", year=2026, stage="initialization", total=5))
    text = progress.render_text()
    assert "year 2026 (1 of 3 done)" in text and "0/5 models" in text


def test_a_batch_bigger_than_the_worker_limit_reads_as_a_batch() -> None:
    _, console = terminal()
    progress = display(console)
    progress(ev("stage_started", year=2025, stage="state_accumulation", total=8))
    for i in range(8):
        progress(
            ev("model_started", year=2025, stage="state_accumulation", unique_id=f"model.p.m{i}", limit=1)
        )
    text = progress.render_text()
    assert "batch of 8" in text
    assert "in flight" not in text and "8 running" not in text


def test_every_line_of_the_live_display_fits_the_terminal() -> None:
    stream, console = terminal()
    with display(console) as progress:
        progress(ev("run_planned", total=10))
        progress(ev("stage_started", year=2025, stage="event_generation", total=120))
        for i in range(30):
            uid = f"model.p.int_a_rather_long_model_name_number_{i}"
            progress(ev("model_started", year=2025, stage="event_generation", unique_id=uid, limit=4))
        rows = screen(stream.getvalue(), width=WIDTH)
        assert all(len(row) <= WIDTH for row in rows)
        assert any("0/120 models" in row for row in rows)  # wrapped away it would not be found whole


def _summary_file(run_dir: Path, stages: list[dict[str, object]]) -> None:
    run_dir.mkdir(parents=True)
    (run_dir / "summary.json").write_text(json.dumps({"status": "success", "stages": stages}))


def test_eta_comes_from_the_previous_run_in_the_runs_directory(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _summary_file(
        runs / "20250101T000000000000Z-old",
        [{"year": 2025, "stage": "foundation", "wall_time_s": 99.0}],  # older: not used
    )
    _summary_file(
        runs / "20250102T000000000000Z-new",
        [
            {"year": None, "stage": "initialization", "wall_time_s": 4.0},
            {"year": 2025, "stage": "foundation", "wall_time_s": 10.0},
            {"year": 2025, "stage": "validation_tests", "wall_time_s": 20.0},
            {"year": 2026, "stage": "foundation", "wall_time_s": 12.0},
            {"year": 2026, "stage": "validation_tests", "wall_time_s": 18.0},
        ],
    )
    history = load_history(runs)
    assert history == StepDurations(
        setup={"initialization": 4.0}, year={"foundation": 11.0, "validation_tests": 19.0}
    )

    _, console = terminal()
    progress = display(console, history=history)
    progress(ev("run_planned", total=2))
    progress(ev("stage_started", year=2025, stage="foundation", total=3, elapsed_s=5.0))
    # the rest of 2025 (11 s of foundation, 19 s of tests) and all of 2026 (30 s)
    assert progress.eta_s() == pytest.approx(60.0)
    assert "ETA 1:00" in progress.render_text()


def test_without_history_the_eta_comes_from_the_years_completed_so_far() -> None:
    _, console = terminal()
    progress = display(console, history=StepDurations())
    progress(ev("run_planned", total=3))
    progress(ev("stage_started", year=2025, stage="foundation", total=3, elapsed_s=0.0))
    assert progress.eta_s() is None  # nothing measured yet: no guess
    progress(ev("stage_finished", year=2025, stage="foundation", status="success", elapsed_s=10.0))
    progress(ev("phase_started", year=2025, stage="tests", elapsed_s=10.0))
    progress(ev("year_finished", year=2025, elapsed_s=30.0))
    progress(ev("stage_started", year=2026, stage="foundation", total=3, elapsed_s=30.0))
    assert progress.eta_s() == pytest.approx(60.0)  # 2026 and 2027, 30 s each


def test_no_history_is_no_history(tmp_path: Path) -> None:
    assert load_history(tmp_path / "absent") == StepDurations()
    (tmp_path / "runs" / "20250101T000000000000Z-broken").mkdir(parents=True)
    (tmp_path / "runs" / "20250101T000000000000Z-broken" / "summary.json").write_text("{not json")
    assert load_history(tmp_path / "runs") == StepDurations()


def _summary(years: int = 3) -> SimulationSummary:
    metrics = YearMetrics(
        actives=123_456,
        hires=12_345,
        terminations=11_234,
        new_hire_terminations=2_345,
        promotions=9_876,
        raises=100_000,
        enrollments=45_678,
        opt_outs=1_234,
        escalations=5_678,
        participation_rate=0.87,
        employee_contributions=987_654_321.0,
        employer_match=123_456_789.0,
        avg_compensation=88_000.0,
        events_by_type={},
    )
    setup = StageSummary(
        year=None,
        stage="initialization",
        label="simulation:initialization",
        wall_time_s=0.6,
        models=10,
        parallelism_mean=1.76,
        parallelism_max=2,
        estimated_speedup=5.0,
        success=True,
    )
    stages = (
        setup,
        *(
            StageSummary(
                year=2025 + y,
                stage=stage,
                label=f"{2025 + y}:{stage}",
                wall_time_s=12.3456,
                models=42,
                parallelism_mean=2.345,
                parallelism_max=4,
                estimated_speedup=2.5,
                success=True,
            )
            for y in range(years)
            for stage in ("initialization", "event_generation", "state_accumulation", "validation_tests")
        ),
    )
    return SimulationSummary(
        run_id="20250101T000000000000Z-abcdef12",
        status="success",
        started_at="2025-01-01T00:00:00Z",
        completed_at="2025-01-01T00:05:00Z",
        start_year=2025,
        end_year=2024 + years,
        completed_years=tuple(range(2025, 2025 + years)),
        years={2025 + y: metrics for y in range(years)},
        stages=stages,
        run_dir=Path("/tmp/runs/20250101T000000000000Z-abcdef12"),
        database_path=Path("/tmp/simulation.duckdb"),
        parallelization={},
        error=None,
        failed_models=(),
        database_note="",
    )


def test_summary_tables_fit_80_columns_with_the_business_results_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", str(WIDTH))  # what a terminal of 80 columns tells rich
    out = io.StringIO()
    print_summary(_summary(), out)
    lines = out.getvalue().splitlines()
    assert lines and max(len(line) for line in lines) <= WIDTH, "\n".join(lines)
    text = out.getvalue()
    for value in ("123,456", "12,345", "87.0%", "$987,654,321", "$123,456,789"):
        assert value in text  # whole on one line, not wrapped or cut
    assert "validation_tests" not in text and "--verbose" in text  # the engine's table: behind --verbose
    verbose = io.StringIO()
    print_summary(_summary(), verbose, verbose=True)
    lines = verbose.getvalue().splitlines()
    assert lines and max(len(line) for line in lines) <= WIDTH, "\n".join(lines)
    text = verbose.getvalue()
    for stage in ("setup", "event_generation", "state_accumulation", "validation_tests"):
        assert stage in text  # stage names whole too
    # results last (issue #22): the engine's table above the years', which is what stays on the screen
    assert text.index("validation_tests") < text.index("$987,654,321")


def test_the_summary_uses_a_wide_terminal_too() -> None:
    out = io.StringIO()
    print_summary(_summary(), out, console=Console(file=out, width=160))
    assert "employee contrib." in out.getvalue()  # full headers when there is room


def test_json_logging_gets_no_live_display_and_stays_one_object_per_line() -> None:
    stream, console = terminal()
    configure_logging(fmt="json", stream=stream)
    with display(console, structured=True) as progress:
        progress(ev("run_planned", total=1))
        progress(ev("phase_started", stage="parse"))
        progress(ev("stage_started", year=2025, stage="foundation", total=1))
        get_logger("planalign.test").info("between")
        progress(ev("stage_finished", year=2025, stage="foundation", status="success"))
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [r["event"] for r in records] == [
        "run_planned",
        "phase_started",
        "stage_started",
        "between",
        "stage_finished",
    ]
    assert "\x1b" not in stream.getvalue()


def test_the_display_never_draws_while_holding_its_own_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    """rich's refresh thread holds the live display's lock (and the console's) while it asks for the
    renderable, which takes the display's lock. An event handler that draws while holding the display's lock
    takes them the other way round: the two threads deadlock and the status line freezes (seen in a real
    run). So every draw — the event's plain line, log lines, the refresh — happens outside that lock."""
    _, console = terminal()
    progress = display(console)
    held: list[str] = []

    guard = lock_guard(progress, held)

    monkeypatch.setattr(console, "print", guard("print", console.print))
    with progress:
        assert progress._live is not None
        monkeypatch.setattr(progress._live, "refresh", guard("refresh", progress._live.refresh))
        progress(ev("run_planned", total=1))
        progress(ev("stage_started", year=2025, stage="foundation", total=1))
        progress(ev("model_started", year=2025, stage="foundation", unique_id="model.p.a", limit=1))
        progress(ev("stage_finished", year=2025, stage="foundation", status="success"))
        progress(ev("year_finished", year=2025))
    assert held == []


def test_the_reporting_tests_are_a_step_of_the_year_in_the_eta_and_on_screen() -> None:
    """The reporting stage's tests (the marts' grain tests, `Workspace.reporting_tests`) run after the
    reporting stage: while they run the display names them (not "between steps") and the ETA counts only
    what is left of them and the later years — not the current year again, as when the step was unknown."""
    _, console = terminal()
    history = StepDurations(year={"reporting": 2.0, "reporting_tests": 3.0, "foundation": 5.0})
    progress = display(console, history=history)
    progress(ev("run_planned", total=2))
    progress(ev("year_started", year=2025, elapsed_s=0.0))
    progress(ev("stage_started", year=2025, stage="reporting", total=1, elapsed_s=5.0))
    progress(ev("stage_finished", year=2025, stage="reporting", status="success", elapsed_s=7.0))
    progress(ev("phase_started", year=2025, stage="reporting_tests", elapsed_s=7.0))
    assert progress.eta_s() == pytest.approx(3.0 + 10.0)  # the rest of the step, then all of 2026
    assert "running the reporting tests of 2025" in progress.render_text()
    progress(ev("year_finished", year=2025, elapsed_s=10.0))
    progress(ev("stage_started", year=2026, stage="foundation", total=1, elapsed_s=10.0))
    assert progress.eta_s() == pytest.approx(10.0)  # measured: 2 + 3 (reporting, its tests); history: 5
