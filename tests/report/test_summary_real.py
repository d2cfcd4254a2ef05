"""summary.json from a real simulation (real dbt, 150 employees, 2 years): the year's nondiscrimination
results are the row of the dbt model `nondiscrimination_results`, terminations split as the events say, the
assumptions are those of the run's config and census, and a stage run is recorded as one; the report reads
both."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from planalign.report import load_run
from planalign.report.balances import COLUMNS as BALANCE_COLUMNS
from planalign.report.balances import load_plan_assets
from planalign.report.html import render_html
from planalign.simulation.census import generate_census, write_census
from planalign.simulation.config import SimulationConfig
from planalign.simulation.orchestrator import PipelineOrchestrator, create_orchestrator
from planalign.simulation.run_directory import NondiscriminationResults, SimulationSummary
from planalign.simulation.stages import SimulationStage
from tests.product.simulation_helpers import make_config

pytestmark = pytest.mark.slow


#: Configured values the report's behaviour sentences must carry (none is a default).
CONFIGURED = {
    "enrollment.deferral_match_threshold_share": 0.25,
    "escalation.opt_out_rate": 0.21,
    "account_balances.expected_return": 0.055,
    "account_balances.cash_out_share": 0.15,
}


@dataclasses.dataclass(frozen=True)
class RealRun:
    census: Path
    config: SimulationConfig
    orchestrator: PipelineOrchestrator
    summary: SimulationSummary


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> RealRun:
    """One real run for this module's tests (the run report's balances test, then the summary and stage
    run test, which rebuilds part of 2026 and so comes last)."""
    tmp_path = tmp_path_factory.mktemp("real-run")
    census = write_census(generate_census(150, seed=8, opening_balances=True), tmp_path / "census.parquet")
    config = make_config(tmp_path, census, "sim", workers=None, end_year=2026, **CONFIGURED)
    orchestrator = create_orchestrator(config)
    summary = orchestrator.execute_multi_year_simulation()
    return RealRun(census, config, orchestrator, summary)


def test_the_run_report_shows_the_databases_balances_and_the_configured_behaviour(real_run: RealRun) -> None:
    """The balances table's numbers are the database's (rpt_account_balances, and the sums of
    fct_account_balances recomputed here); the behaviour sentences carry the configured values."""
    summary = real_run.summary
    assert summary.success
    report = load_run(summary.run_dir)
    assets = load_plan_assets(report)
    assert assets.note is None and [y.year for y in assets.years] == [2025, 2026]
    page = render_html(report)
    columns = [column for column, _ in BALANCE_COLUMNS]
    con = duckdb.connect(str(real_run.config.simulation.database_path), read_only=True)
    try:
        for year in assets.years:
            (row,) = con.execute(
                f"select {', '.join(columns)} from rpt_account_balances where simulation_year = ?",
                [year.year],
            ).fetchall()
            (sums,) = con.execute(
                f"select {', '.join(f'sum({c})' for c in columns)} from fct_account_balances "
                "where simulation_year = ?",
                [year.year],
            ).fetchall()
            for column, in_rpt, in_fct in zip(columns, row, sums, strict=True):
                assert year.amounts[column] == in_rpt == in_fct, (year.year, column)
                cell = f'<td data-column="{column}">{in_rpt:,.0f}</td>'
                balances = page.split('id="balances"')[1]  # the cost block has year rows too
                assert cell in balances.split(f'<tr data-year="{year.year}">')[1].split("</tr>")[0], cell
            assert year.reconciles
    finally:
        con.close()
    assert assets.years[0].amounts["opening_balance"] > 0  # the census's opening_balance column
    behaviour = page.split('id="behaviour-run"')[1].split("</ul>")[0]
    for sentence in (
        "25% elect exactly the rate that earns the full match",
        "each year 21% of those due an increase opt out of escalation",
        "lognormal with mean 5.5% and volatility 10%",
        "above it 15% take cash, 45% roll over and 40% stay",
    ):
        assert sentence in behaviour, sentence
    assert "What the model leaves out" in page


def test_balances_the_database_cannot_give_are_a_note_not_a_traceback(
    real_run: RealRun, tmp_path: Path
) -> None:
    """A copy of the run whose rpt_account_balances lacks a column (an older build) or whose database is
    gone: the section says why, and the report still renders."""
    run_dir = shutil.copytree(real_run.summary.run_dir, tmp_path / real_run.summary.run_dir.name)
    database = Path(shutil.copyfile(real_run.config.simulation.database_path, tmp_path / "copy.duckdb"))
    summary = json.loads((run_dir / "summary.json").read_text())
    (run_dir / "summary.json").write_text(json.dumps({**summary, "database_path": str(database)}))
    assert load_plan_assets(load_run(run_dir)).note is None  # the copy is still this run's
    con = duckdb.connect(str(database))
    try:
        con.execute(
            "create or replace table rpt_account_balances as "
            "select * exclude (cash_outs) from rpt_account_balances"
        )
    finally:
        con.close()
    note = load_plan_assets(load_run(run_dir)).note
    assert note is not None and "cash_outs" in note and "rerun the simulation" in note
    database.unlink()
    report = load_run(run_dir)
    note = load_plan_assets(report).note
    assert note is not None and "does not exist" in note
    assert 'id="balances-note"' in render_html(report)


def test_summary_of_a_real_run_and_of_a_stage_run(real_run: RealRun) -> None:
    census, config, orchestrator, summary = (
        real_run.census,
        real_run.config,
        real_run.orchestrator,
        real_run.summary,
    )
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


def _recomputed_from_events_and_snapshot(con: duckdb.DuckDBPyConnection, year: int) -> dict[str, Any]:
    """The run summary's per-year figures recomputed from fct_yearly_events and fct_workforce_snapshot, the
    way `planalign.simulation.metrics` computed them before it read rpt_yearly_summary (issue #24 item 3):
    an independent check of the model's aggregation."""
    by_type = dict(
        con.execute(
            "select event_type, count(*) from fct_yearly_events where simulation_year = ? group by 1", [year]
        ).fetchall()
    )
    ((new_hire_terms,),) = con.execute(
        "select count(*) from fct_yearly_events t "
        "join fct_yearly_events h using (employee_id, simulation_year) "
        "where t.simulation_year = ? and t.event_type = 'termination' and h.event_type = 'hire'",
        [year],
    ).fetchall()
    ((actives, enrolled, employee, match, average),) = con.execute(
        "select count(*) filter (where employment_status = 'active'), "
        "count(*) filter (where employment_status = 'active' and is_enrolled), "
        "coalesce(sum(employee_contribution), 0), coalesce(sum(employer_match), 0), "
        "coalesce(avg(annual_compensation) filter (where employment_status = 'active'), 0) "
        "from fct_workforce_snapshot where simulation_year = ?",
        [year],
    ).fetchall()
    return {
        "actives": actives,
        "hires": by_type.get("hire", 0),
        "terminations": by_type.get("termination", 0),
        "new_hire_terminations": new_hire_terms,
        "promotions": by_type.get("promotion", 0),
        "raises": by_type.get("raise", 0),
        "enrollments": by_type.get("enrollment", 0),
        "opt_outs": by_type.get("enrollment_opt_out", 0),
        "escalations": by_type.get("deferral_escalation", 0),
        "participation_rate": round(enrolled / actives, 6) if actives else 0.0,
        "employee_contributions": round(float(employee), 2),
        "employer_match": round(float(match), 2),
        "avg_compensation": round(float(average), 2),
        "events_by_type": by_type,
    }


def test_the_summarys_year_figures_are_rpt_yearly_summarys_rows(real_run: RealRun) -> None:
    """issue #24 item 3: summary.json's per-year figures are the year's row of rpt_yearly_summary, exactly,
    and exactly what the Python recomputation from events and snapshot (the old path) gave; every event
    type of the year has its column in the model."""
    from planalign.simulation.metrics import EVENT_COLUMNS

    written = json.loads((real_run.summary.run_dir / "summary.json").read_text())["years"]
    assert sorted(written) == ["2025", "2026"]
    con = duckdb.connect(str(real_run.config.simulation.database_path), read_only=True)
    try:
        for year in (2025, 2026):
            figures = written[str(year)]
            (row,) = con.execute(
                "select * from rpt_yearly_summary where simulation_year = ?", [year]
            ).fetchall()
            rpt = dict(zip([d[0] for d in con.description], row, strict=True))
            assert rpt["scenario_id"] == "baseline"
            as_read = {
                "actives": rpt["active_employees"],
                "new_hire_terminations": rpt["new_hire_terminations"],
                "escalations": rpt["deferral_escalations"],
                "participation_rate": round(rpt["participation_rate"], 6),
                "employee_contributions": float(rpt["employee_contributions"]),
                "employer_match": float(rpt["employer_match"]),
                "avg_compensation": float(rpt["average_compensation"]),
                **{
                    c: rpt[c]
                    for c in ("hires", "terminations", "promotions", "raises", "enrollments", "opt_outs")
                },
            }
            for name, value in as_read.items():
                assert figures[name] == value, (year, name)
            assert figures["cost"] == {
                "enrolled": rpt["enrolled_actives"],
                "payroll": float(rpt["total_compensation_paid"]),
                "employer_core": float(rpt["employer_core_contributions"]),
                "employer_cost": float(rpt["employer_cost"]),
            }
            old_path = _recomputed_from_events_and_snapshot(con, year)
            assert {name: figures[name] for name in old_path} == old_path, year
            assert set(old_path["events_by_type"]) <= set(EVENT_COLUMNS)
            assert (
                figures["hires"] > 0 and figures["terminations"] > 0 and figures["employee_contributions"] > 0
            )
    finally:
        con.close()
