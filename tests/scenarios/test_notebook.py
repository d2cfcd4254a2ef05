"""The notebook API (issue #22 item 4): `planalign.load_run` / `load_sweep` give a run's and a sweep's
figures as pandas DataFrames, refuse a directory whose database no longer holds them, and docs/notebooks.md
runs as written (its code blocks executed against a small run and sweep)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import planalign
from planalign.errors import PlanalignUsageError
from planalign.simulation.run_directory import SimulationSummary
from tests.scenarios.sweep_fixture import DESIGNS, SEEDS, YEARS, build_sweep, employer_cost

REPO = Path(__file__).resolve().parents[2]


def _run(root: Path) -> Path:
    """A run directory over a one-scenario database (the hand-built sweep's baseline__s1 alone)."""
    hand = build_sweep(root / "source")
    database = root / "run.duckdb"
    hand.database.rename(database)
    run_id = "20261207T120000123456Z-feedc0ff"
    con = duckdb.connect(str(database))
    try:
        for table in ("dim_scenarios", "rpt_yearly_summary", "fct_workforce_snapshot", "fct_yearly_events"):
            con.execute(f"delete from {table} where scenario_id <> 'baseline__s1'")
        con.execute("update planalign.year_status set run_id = ?", [run_id])
    finally:
        con.close()
    directory = root / "runs" / run_id
    directory.mkdir(parents=True)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    summary = SimulationSummary(
        run_id=run_id,
        status="success",
        started_at=now,
        completed_at=now,
        start_year=YEARS[0],
        end_year=YEARS[-1],
        completed_years=YEARS,
        years={},
        stages=(),
        run_dir=directory,
        database_path=database,
        parallelization={},
        error=None,
        kind="years",
        results_digest="feedc0ffee123456",
    )
    (directory / "summary.json").write_text(json.dumps(summary.to_dict()))
    return directory


def test_a_sweep_reads_as_dataframes(tmp_path: Path) -> None:
    hand = build_sweep(tmp_path)
    sweep = planalign.load_sweep(hand.directory)
    summary = sweep.summary()
    assert isinstance(summary, pd.DataFrame)
    assert list(summary["scenario"]) == list(DESIGNS)
    richer = summary.set_index("scenario").loc["richer"]
    # richer costs 500 more a year, 550 in the second year: 1,050 more over the two years.
    assert richer["cumulative_employer_cost_delta_p50"] == pytest.approx(1050.0)
    yearly = sweep.yearly()
    row = yearly[(yearly["scenario"] == "baseline") & (yearly["metric"] == "employer_cost")]
    assert sorted(row["year"]) == list(YEARS)
    members = sweep.members()
    assert len(members) == len(DESIGNS) * len(SEEDS) * len(YEARS)
    one = members[(members["scenario_name"] == "richer") & (members["random_seed"] == 2)]
    assert one.set_index("year")["employer_cost"].to_dict() == pytest.approx(
        {y: employer_cost("richer", 2, y) for y in YEARS}
    )
    assert sweep.tables()[:4] == [
        "rpt_yearly_summary",
        "fct_workforce_snapshot",
        "fct_yearly_events",
        "dim_scenarios",
    ]
    assert len(sweep.table("dim_scenarios")) == len(DESIGNS) * len(SEEDS)


def test_a_run_reads_as_dataframes_and_a_sweep_is_not_a_run(tmp_path: Path) -> None:
    run = planalign.load_run(_run(tmp_path))
    years = run.summary()
    assert list(years["simulation_year"]) == list(YEARS)
    assert list(years["employer_cost"].astype(float)) == pytest.approx(
        [employer_cost("baseline", 1, y) for y in YEARS]
    )
    assert len(run.members()) == len(YEARS)
    with pytest.raises(PlanalignUsageError, match="no table not_a_table"):
        run.table("not_a_table")
    hand = build_sweep(tmp_path / "other")
    with pytest.raises(PlanalignUsageError, match=r"is a sweep directory; use planalign\.load_sweep"):
        planalign.load_run(hand.directory)


def test_a_sweep_whose_database_another_run_wrote_is_refused(tmp_path: Path) -> None:
    """The export's promise: never another run's tables under this directory's name."""
    hand = build_sweep(tmp_path)
    con = duckdb.connect(str(hand.database))
    try:
        con.execute("update planalign.year_status set config_hash = 'another-configuration'")
    finally:
        con.close()
    with pytest.raises(PlanalignUsageError, match="no longer holds this sweep"):
        planalign.load_sweep(hand.directory)


def test_the_notebook_page_runs_as_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = (REPO / "docs" / "notebooks.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, flags=re.S)
    assert len(blocks) == 2
    sweep = build_sweep(tmp_path / "s").directory
    run = _run(tmp_path / "r")
    namespace: dict[str, object] = {}
    for block in blocks:
        code = re.sub(r'load_sweep\("[^"]+"\)', f"load_sweep({str(sweep)!r})", block)
        code = re.sub(r'load_run\("[^"]+"\)', f"load_run({str(run)!r})", code)
        exec(compile(code, "docs/notebooks.md", "exec"), namespace)
    out = capsys.readouterr().out
    assert "richer" in out and "fct_workforce_snapshot" in out and "participation_rate" in out


def test_a_run_gives_only_the_years_it_wrote(tmp_path: Path) -> None:
    """Rows of a year the run did not complete (a later run's, or a stage run's unfinished year) are not
    its results: the notebook leaves them out, as the export does."""
    directory = _run(tmp_path)
    con = duckdb.connect(str(tmp_path / "run.duckdb"))
    try:
        con.execute(
            "insert into rpt_yearly_summary select scenario_id, 2027, active_employees, hires, terminations, "
            "enrolled_actives, participation_rate, employee_contributions, employer_match, "
            "employer_core_contributions, employer_cost, total_compensation_paid from rpt_yearly_summary "
            "where simulation_year = 2026"
        )
    finally:
        con.close()
    run = planalign.load_run(directory)
    assert list(run.summary()["simulation_year"]) == list(YEARS)
    assert sorted(set(run.members()["year"])) == list(YEARS)
