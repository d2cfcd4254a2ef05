"""A run's yearly figures are the scenario's ONE row of `rpt_yearly_summary` and of
`nondiscrimination_results` for the year; a build that left none or two is broken and raises, naming the
relation, the year, the scenario and the count — it is never summed or picked from."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from planalign.engine.nodes import ManifestNode, ProjectManifest
from planalign.errors import PlanalignError
from planalign.simulation.metrics import _COLUMNS, _ND_COLUMNS, year_metrics


def _manifest(*names: str) -> ProjectManifest:
    nodes = [
        ManifestNode(f"model.p.{n}", n, "model", "p", relation_name=f'"sim"."main"."{n}"') for n in names
    ]
    return ProjectManifest(project_dir=Path("."), nodes={n.unique_id: n for n in nodes})


def _table(con: duckdb.DuckDBPyConnection, name: str, columns: tuple[str, ...], rows: int) -> None:
    values = ", ".join(f"1 as {c}" for c in columns)
    con.execute(f"create table {name} as select 2025 as simulation_year, 'base' as scenario_id, {values}")
    for _ in range(rows - 1):
        con.execute(f"insert into {name} select * from {name} limit 1")
    if rows == 0:
        con.execute(f"delete from {name}")


@pytest.mark.parametrize("rows", [0, 2])
def test_a_yearly_summary_without_exactly_one_row_raises(tmp_path: Path, rows: int) -> None:
    database = tmp_path / "sim.duckdb"
    with duckdb.connect(str(database)) as con:
        _table(con, "rpt_yearly_summary", _COLUMNS, rows)
    with pytest.raises(PlanalignError, match=f"has {rows} rows for 2025 and scenario base"):
        year_metrics(database, _manifest("rpt_yearly_summary"), 2025, "base")


@pytest.mark.parametrize("rows", [0, 2])
def test_nondiscrimination_results_without_exactly_one_row_raise(tmp_path: Path, rows: int) -> None:
    database = tmp_path / "sim.duckdb"
    with duckdb.connect(str(database)) as con:
        _table(con, "rpt_yearly_summary", _COLUMNS, 1)
        _table(con, "nondiscrimination_results", _ND_COLUMNS, rows)
    manifest = _manifest("rpt_yearly_summary", "nondiscrimination_results")
    with pytest.raises(PlanalignError, match=f"nondiscrimination_results.* has {rows} rows for 2025"):
        year_metrics(database, manifest, 2025, "base")


def test_one_row_each_is_read(tmp_path: Path) -> None:
    database = tmp_path / "sim.duckdb"
    with duckdb.connect(str(database)) as con:
        _table(con, "rpt_yearly_summary", _COLUMNS, 1)
    metrics = year_metrics(database, _manifest("rpt_yearly_summary"), 2025, "base")
    assert metrics is not None and metrics.actives == 1 and metrics.nondiscrimination is None
