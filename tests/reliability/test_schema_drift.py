"""A database built by an earlier version of planalign, whose public marts lack a column this version builds
(`rpt_yearly_summary.new_hire_terminations`), is refused before any work when a run would append to it
(a year added after the kept ones): dbt's incremental models fail on a schema change (`on_schema_change:
fail`) in the middle of the run otherwise. The refusal names the table, the column and the fix, and leaves the
database byte-identical; the fix it names (simulate every year again with --replace-years) works; an
up-to-date database is not refused.

One real 2025 build (shared with test_data_safety.py: `first_and_complete`), copied per test; each test
runs one year on its copy.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from planalign.errors import PlanalignUsageError, TableColumnsChangedError
from planalign.simulation.orchestrator import create_orchestrator
from planalign.simulation.run_directory import SimulationSummary
from tests.product.simulation_helpers import make_config
from tests.reliability.helpers import file_digest, first_and_complete

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built_2025(tmp_path_factory: pytest.TempPathFactory, small_census: Path) -> Path:
    """A database holding 2025, complete: the shared build test_data_safety.py starts from (read-only)."""
    return first_and_complete(tmp_path_factory, small_census)[0]


def _simulate(database: Path, census: Path, year: int, *, replace_years: bool = False) -> SimulationSummary:
    """Simulate `year` into `database` (`simulate --start-year Y --end-year Y [--replace-years]`)."""
    config = make_config(
        database.parent,
        census,
        database.stem,
        workers=1,
        end_year=year,
        **{"run.runs_dir": str(database.parent / "runs")},
    )
    return create_orchestrator(config).execute_multi_year_simulation(
        start_year=year, end_year=year, replace_years=replace_years
    )


def _drifted(built: Path, database: Path) -> Path:
    """A copy of `built` as the previous version left it: rpt_yearly_summary without new_hire_terminations."""
    shutil.copyfile(built, database)
    with duckdb.connect(str(database)) as con:
        con.execute("alter table main.rpt_yearly_summary drop column new_hire_terminations")
    return database


def test_a_database_whose_mart_lacks_a_column_is_refused_before_any_work(
    built_2025: Path, small_census: Path, tmp_path: Path
) -> None:
    database = _drifted(built_2025, tmp_path / "old.duckdb")
    before = file_digest(database)

    with pytest.raises(TableColumnsChangedError) as refused:
        _simulate(database, small_census, 2026)

    assert isinstance(refused.value, PlanalignUsageError)  # exit 2
    message = str(refused.value)
    assert "main.rpt_yearly_summary lacks new_hire_terminations" in message
    assert "This run keeps 2025" in message
    assert "--start-year 2025 --replace-years" in message and "--database" in message
    assert file_digest(database) == before
    runs = tmp_path / "runs"
    assert not runs.exists() or not any(runs.iterdir())  # no run directory left


def test_an_up_to_date_database_is_not_refused(built_2025: Path, small_census: Path, tmp_path: Path) -> None:
    database = tmp_path / "current.duckdb"
    shutil.copyfile(built_2025, database)
    summary = _simulate(database, small_census, 2026)
    assert summary.success, summary.error


def test_the_fix_it_names_works_replacing_every_year_rebuilds_the_table(
    built_2025: Path, small_census: Path, tmp_path: Path
) -> None:
    database = _drifted(built_2025, tmp_path / "old.duckdb")
    summary = _simulate(database, small_census, 2025, replace_years=True)
    assert summary.success, summary.error
    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute("select count(new_hire_terminations) from main.rpt_yearly_summary").fetchone()
    assert rows == (1,)  # the table was built again, with the column, for the one scenario and year
