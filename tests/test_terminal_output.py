"""Terminal output for people (issue #22 item 5): `planalign runs` fits a 100-column terminal and shows a
run's name; info lines show paths relative to the working directory (or under ~), not the machine's absolute
path; `simulate --resume` of a database that holds every year says "nothing to do" and exits 0 before the
dbt parse; the years table counts enrolled people under "enrolled", not the year's new enrollments.

All fast: no dbt. The simulate test fails before the parse would start (a database with no year complete would
reach it, which is why the test builds one with every year recorded complete).
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from planalign.cli import main
from planalign.cli.progress import enrolled_people, print_summary
from planalign.log import configure_logging, get_logger, shown_path
from planalign.simulation.config_loading import load_simulation_config
from planalign.simulation.run_directory import YearCost
from planalign.simulation.run_labels import ReportLabels, write_labels
from planalign.simulation.state import SimulationState
from tests.fixtures.terminal import screen

REPO = Path(__file__).resolve().parents[1]
WIDTH = 100


def _summary(run_id: str, **changes: object) -> dict[str, object]:
    summary: dict[str, object] = {
        "schema_version": 2,
        "run_id": run_id,
        "kind": "years",
        "status": "success",
        "started_at": "2026-12-07T16:53:35Z",
        "completed_at": "2026-12-07T16:55:35Z",
        "start_year": 2025,
        "end_year": 2029,
        "completed_years": [2025, 2026, 2027, 2028, 2029],
        "years": {},
        "config_digest": run_id.rsplit("-", 1)[1],
        "database_path": "/srv/planalign/projects/acme-corporation-retirement-plan/simulation-2026.duckdb",
    }
    summary.update(changes)
    return summary


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    named = runs / "20261207T165335123456Z-5a5a5a5a"
    named.mkdir(parents=True)
    (named / "summary.json").write_text(json.dumps(_summary(named.name)))
    write_labels(named, ReportLabels(name="Acme: today's plan against a 4% match, 20 seeds, for the board"))
    failed = runs / "20261207T170000654321Z-6b6b6b6b"
    failed.mkdir()
    error = "Failure in model int_hiring_events: " + "a very long dbt error message " * 8
    (failed / "summary.json").write_text(json.dumps(_summary(failed.name, status="failed", error=error)))
    return runs


def test_runs_fits_a_100_column_terminal_and_shows_the_run_name(
    runs: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: one line per run with the start time, the digest, the database's absolute path and the whole
    error, 250 columns — every row wrapped on a 100-column terminal."""
    monkeypatch.setenv("COLUMNS", str(WIDTH))  # what a 100-column terminal tells the program
    assert main(["runs", str(runs)]) == 0
    out = capsys.readouterr().out
    rows = screen(out, width=WIDTH)
    assert len(rows) == len(out.rstrip("\n").splitlines()), "a line wrapped on the terminal:\n" + out
    assert max(len(row) for row in rows) <= WIDTH
    text = "\n".join(rows)
    assert "“Acme: today's plan against a 4% match, 20 seeds, for the board”" in text
    assert "20261207T165335123456Z-5a5a5a5a" in text and "20261207T170000654321Z-6b6b6b6b" in text
    named_row = next(row for row in rows if row.startswith("20261207T165335123456Z-5a5a5a5a"))
    assert named_row.endswith("simulation-2026.duckdb") and "/srv" not in named_row  # the file name
    assert "Failure in model int_hiring_events" in text and "…" in text  # the long error, cut


def test_runs_json_keeps_every_field_and_the_name(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", str(runs), "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert entries[0]["run_name"].startswith("Acme:") and entries[0]["database"].startswith("/srv/")
    assert entries[0]["started_at"] == "2026-12-07T16:53:35Z"


def test_paths_are_shown_relative_to_the_working_directory_or_home(tmp_path: Path) -> None:
    assert shown_path(tmp_path / "runs" / "x", cwd=tmp_path, home=Path("/nowhere")) == "runs/x"
    assert shown_path(tmp_path, cwd=tmp_path, home=Path("/nowhere")) == "."
    assert shown_path(tmp_path / "a.duckdb", cwd=Path("/elsewhere"), home=tmp_path) == "~/a.duckdb"
    assert shown_path("/srv/x.duckdb", cwd=tmp_path, home=Path("/nowhere")) == "/srv/x.duckdb"


def test_console_log_lines_carry_no_absolute_path_inside_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    stream = io.StringIO()
    configure_logging(fmt="console", stream=stream)
    try:
        get_logger("planalign.test").info("simulation_started", database=str(tmp_path / "simulation.duckdb"))
    finally:
        configure_logging(fmt="console")
    line = stream.getvalue()
    assert "database=simulation.duckdb" in line and str(tmp_path) not in line
    json_stream = io.StringIO()
    configure_logging(fmt="json", stream=json_stream)
    try:  # a program reads JSON logs: the full path stays
        get_logger("planalign.test").info("simulation_started", database=str(tmp_path / "simulation.duckdb"))
    finally:
        configure_logging(fmt="console")
    assert json.loads(json_stream.getvalue())["database"] == str(tmp_path / "simulation.duckdb")


def test_resume_of_a_complete_database_says_nothing_to_do_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: it parsed the dbt project (~35 s), ran nothing, and printed an empty results table."""
    import planalign.simulation.orchestrator as orchestrator_module

    def no_orchestrator(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("simulate --resume built an orchestrator (and so parsed dbt) with nothing to do")

    monkeypatch.setattr(orchestrator_module, "create_orchestrator", no_orchestrator)
    monkeypatch.chdir(tmp_path)
    database = tmp_path / "simulation.duckdb"
    census = REPO / "dbt_project" / "data" / "census.parquet"
    config = load_simulation_config(
        REPO / "simulation_config.yaml", overrides={"simulation.census_path": str(census)}
    )
    state = SimulationState(database)
    for year in range(config.simulation.start_year, config.simulation.end_year + 1):
        state.mark_complete(year, run_id="r", config_hash=config.results_digest())
    before = database.read_bytes()
    args = [
        "simulate",
        "--config",
        str(REPO / "simulation_config.yaml"),
        "--resume",
        "--database",
        str(database),
    ]
    args += ["--census", str(census), "--runs-dir", str(tmp_path / "runs")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("nothing to do: simulation.duckdb already holds 2025–2029 complete"), out
    assert "--end-year 2030" in out and "--replace-years" in out
    assert database.read_bytes() == before and not (tmp_path / "runs").exists()


def test_the_years_table_counts_enrolled_people_not_new_enrollments() -> None:
    from tests.test_live_display import _summary as live_summary

    summary = live_summary(years=1)
    metrics = summary.years[2025]
    assert enrolled_people(metrics) == round(0.87 * 123_456)  # not the 45,678 enrollment events
    with_cost = dataclasses.replace(metrics, cost=YearCost(107_000, 1.0e10, 0.0, 1.0e8))
    assert enrolled_people(with_cost) == 107_000
    out = io.StringIO()
    print_summary(summary, out, console=Console(file=out, width=160))
    text = out.getvalue()
    assert "enrolled" in text and f"{round(0.87 * 123_456):,}" in text and "45,678" not in text
    assert text.rstrip().splitlines()[-1].startswith("└")  # the results table is the last thing printed
