"""issue #24 item 3: what a run records as its assumptions — read from its build once the parameters are
built (`RunRecorder.record_assumptions`), the reason when they cannot be read, when nothing was built (the run
stopped before its first year) and for a sweep pass (several scenarios: sweep.json records each design's)."""

from __future__ import annotations

from pathlib import Path

from planalign.simulation.census import generate_census, write_census
from planalign.simulation.config_loading import load_simulation_config
from planalign.simulation.run_directory import RunRecorder

REPO = Path(__file__).resolve().parents[1]


def _recorder(tmp_path: Path) -> RunRecorder:
    census = write_census(generate_census(12, seed=3), tmp_path / "census.parquet")
    config = load_simulation_config(
        REPO / "simulation_config.yaml",
        overrides={"simulation.census_path": str(census), "run.runs_dir": str(tmp_path / "runs")},
    )
    return RunRecorder(config, 2025, 2025, None)


def test_a_build_without_parameters_is_recorded_as_the_reason(tmp_path: Path) -> None:
    recorder = _recorder(tmp_path)
    recorder.record_assumptions(tmp_path / "never-built.duckdb", "baseline")
    assert not (tmp_path / "never-built.duckdb").exists()  # reading creates no file
    assumptions, why = recorder._assumptions()
    assert assumptions is None
    assert why is not None and "baseline" in why and "the run stopped before dbt built them" in why
    recorder.record_assumptions(tmp_path / "another.duckdb", "other")  # read once: the first answer stays
    assert recorder._assumptions() == (None, why)


def test_a_run_that_read_nothing_records_that_nothing_was_built(tmp_path: Path) -> None:
    """A run stopped before its first year: no assumptions, the reason, and a report that says it."""
    from planalign.report.model import _assumptions as report_assumptions
    from planalign.simulation.run_directory import SUMMARY_SCHEMA_VERSION

    assumptions, why = _recorder(tmp_path)._assumptions()
    assert assumptions is None
    assert why is not None and why.startswith("not built: the run stopped before dbt built")
    shown = report_assumptions(
        {"schema_version": SUMMARY_SCHEMA_VERSION, "assumptions": None, "assumptions_error": why}
    )
    assert shown["assumptions"] is None and why in shown["assumptions_note"]


def test_a_sweep_pass_says_where_each_designs_assumptions_are(tmp_path: Path) -> None:
    from planalign.simulation.run_directory import SEVERAL_SCENARIOS

    recorder = _recorder(tmp_path)
    recorder.unread_reason = SEVERAL_SCENARIOS  # what the orchestrator sets for a build of several scenarios
    assert recorder._assumptions() == (None, SEVERAL_SCENARIOS)
    assert "sweep.json" in SEVERAL_SCENARIOS


def test_a_database_without_the_parameter_tables_is_a_reason_not_a_crash(tmp_path: Path) -> None:
    import duckdb

    database = tmp_path / "other.duckdb"
    duckdb.connect(str(database)).close()
    recorder = _recorder(tmp_path)
    recorder.record_assumptions(database, "baseline")
    assumptions, why = recorder._assumptions()
    assert assumptions is None and why is not None
    assert "int_effective_parameter_values" in why and "the run stopped before dbt built them" in why
