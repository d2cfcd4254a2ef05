"""A database built by an earlier version of planalign, whose public marts lack a column this version builds
(`rpt_yearly_summary.new_hire_terminations`), is refused before any work when a run would append to it
(a year added after the kept ones): dbt's incremental models fail on a schema change (`on_schema_change:
fail`) in the middle of the run otherwise. The refusal names the table, the column and the fix, and leaves the
database byte-identical; an up-to-date database is not refused.

One real 2025 build (shared by both tests), copied per test; each test runs 2026 on its copy.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from planalign.errors import PlanalignUsageError, TableColumnsChangedError
from planalign.simulation.orchestrator import create_orchestrator
from tests.product.simulation_helpers import make_config
from tests.reliability.helpers import file_digest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built_2025(tmp_path_factory: pytest.TempPathFactory, small_census: Path) -> Path:
    """A database holding 2025, complete."""
    directory = tmp_path_factory.mktemp("drift_base")
    config = make_config(directory, small_census, "base", workers=1, end_year=2025)
    summary = create_orchestrator(config).execute_multi_year_simulation()
    assert summary.success, summary.error
    return Path(config.simulation.database_path)


def _next_year(database: Path, census: Path) -> object:
    """Simulate 2026 after the database's 2025 (the orchestrator's `simulate --start-year 2026`)."""
    config = make_config(
        database.parent,
        census,
        database.stem,
        workers=1,
        end_year=2026,
        **{"run.runs_dir": str(database.parent / "runs")},
    )
    return create_orchestrator(config).execute_multi_year_simulation(start_year=2026, end_year=2026)


def test_a_database_whose_mart_lacks_a_column_is_refused_before_any_work(
    built_2025: Path, small_census: Path, tmp_path: Path
) -> None:
    database = tmp_path / "old.duckdb"
    shutil.copyfile(built_2025, database)
    with duckdb.connect(str(database)) as con:
        con.execute("alter table main.rpt_yearly_summary drop column new_hire_terminations")
    before = file_digest(database)

    with pytest.raises(TableColumnsChangedError) as refused:
        _next_year(database, small_census)

    assert isinstance(refused.value, PlanalignUsageError)  # exit 2
    message = str(refused.value)
    assert "main.rpt_yearly_summary lacks new_hire_terminations" in message
    assert "--database" in message
    assert file_digest(database) == before
    runs = tmp_path / "runs"
    assert not runs.exists() or not any(runs.iterdir())  # no run directory left


def test_an_up_to_date_database_is_not_refused(built_2025: Path, small_census: Path, tmp_path: Path) -> None:
    database = tmp_path / "current.duckdb"
    shutil.copyfile(built_2025, database)
    summary = _next_year(database, small_census)
    assert getattr(summary, "success", False), getattr(summary, "error", None)
