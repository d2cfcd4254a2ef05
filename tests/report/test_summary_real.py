"""summary.json from a real simulation (real dbt, 150 employees, 2 years): the year's nondiscrimination
results are the row of the dbt model `nondiscrimination_results`, terminations split as the events say, the
assumptions are those of the run's config and census, and a stage run is recorded as one; the report reads
both."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb
import pytest

from planalign.report import load_run
from planalign.simulation.census import generate_census, write_census
from planalign.simulation.orchestrator import create_orchestrator
from planalign.simulation.run_directory import NondiscriminationResults
from planalign.simulation.stages import SimulationStage
from tests.product.simulation_helpers import make_config

pytestmark = pytest.mark.slow


def test_summary_of_a_real_run_and_of_a_stage_run(tmp_path: Path) -> None:
    census = write_census(generate_census(150, seed=8), tmp_path / "census.parquet")
    config = make_config(tmp_path, census, "sim", workers=None, end_year=2026)
    orchestrator = create_orchestrator(config)
    summary = orchestrator.execute_multi_year_simulation()
    assert summary.success and summary.kind == "years"

    columns = [f.name for f in dataclasses.fields(NondiscriminationResults)]
    con = duckdb.connect(str(config.simulation.database_path), read_only=True)
    try:
        for year in (2025, 2026):
            (row,) = con.execute(
                f"select {', '.join(columns)} from nondiscrimination_results where simulation_year = ?",
                [year],
            ).fetchall()
            recorded = summary.years[year].nondiscrimination
            assert recorded is not None
            for name, value in zip(columns, row, strict=True):
                got = getattr(recorded, name)
                assert got == pytest.approx(float(value), abs=1e-6) if value is not None else got is None, (
                    name
                )
            ((all_terms, new_hire_terms),) = con.execute(
                "select count(*), count(*) filter (where employee_id in (select employee_id from "
                "fct_yearly_events where event_type = 'hire' and simulation_year = ?)) "
                "from fct_yearly_events where event_type = 'termination' and simulation_year = ?",
                [year, year],
            ).fetchall()
            metrics = summary.years[year]
            assert (metrics.terminations, metrics.new_hire_terminations) == (all_terms, new_hire_terms)
            assert metrics.experienced_terminations == all_terms - new_hire_terms
            # issue #22: the cost block's record is rpt_yearly_summary's row, as the sweep comparison reads it
            ((enrolled, payroll, core, cost),) = con.execute(
                "select enrolled_actives, total_compensation_paid, employer_core_contributions, "
                "employer_cost from rpt_yearly_summary where simulation_year = ?",
                [year],
            ).fetchall()
            assert metrics.cost is not None and metrics.cost.enrolled == enrolled
            assert metrics.cost.payroll == pytest.approx(float(payroll), abs=0.01) and payroll > 0
            assert metrics.cost.employer_core == pytest.approx(float(core), abs=0.01)
            assert metrics.cost.employer_cost == pytest.approx(float(cost), abs=0.01)
            assert enrolled == round(metrics.participation_rate * metrics.actives)
    finally:
        con.close()

    report = load_run(summary.run_dir)
    assert report.assumptions is not None and report.assumptions.census_employees == 150
    assert report.assumptions.census_path == str(census)
    assert report.config_digest == config.digest() and report.kind == "years"
    assert report.years[2026].nondiscrimination == summary.years[2026].nondiscrimination
    assert report.years[2026].cost == summary.years[2026].cost

    stage = orchestrator.run_stage(2026, SimulationStage.FOUNDATION)
    assert stage.success and stage.kind == "stage"
    assert load_run(stage.run_dir).kind == "stage"
