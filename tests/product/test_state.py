import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from planalign.errors import DatabaseLockedError
from planalign.simulation.state import SimulationState, check_database_available


def _db(tmp_path: Path) -> Path:
    path = tmp_path / "sim.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create table events as select * from range(2024, 2029) t(simulation_year)")
    con.execute("create table dims as select 1 as id")
    con.close()
    return path


def test_mark_complete_and_read_back(tmp_path: Path) -> None:
    state = SimulationState(_db(tmp_path))
    assert state.completed_years() == []
    state.mark_complete(2025, run_id="r1", config_hash="abc")
    state.mark_complete(2026, run_id="r1", config_hash="abc")
    state.mark_complete(2025, run_id="r2", config_hash="abc")  # re-running a year replaces its record
    years = state.completed_years()
    assert [(c.simulation_year, c.run_id) for c in years] == [(2025, "r2"), (2026, "r1")]


def test_rollback_removes_the_years_from_partitioned_tables_only(tmp_path: Path) -> None:
    path = _db(tmp_path)
    state = SimulationState(path)
    state.mark_complete(2025, run_id="r", config_hash="h")
    state.mark_complete(2026, run_id="r", config_hash="h")
    cleaned = state.rollback_years(
        2026, ['"sim"."main"."events"', '"sim"."main"."dims"', '"sim"."main"."absent"']
    )
    assert cleaned == ['"sim"."main"."events"']
    con = duckdb.connect(str(path))
    assert [r[0] for r in con.execute("select simulation_year from events order by 1").fetchall()] == [
        2024,
        2025,
    ]
    assert con.execute("select count(*) from dims").fetchone() == (1,)
    con.close()
    assert [c.simulation_year for c in state.completed_years()] == [2025]


def test_missing_database_is_available_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "new.duckdb"
    check_database_available(path)
    assert not path.exists()


def test_database_held_by_another_process_is_reported(tmp_path: Path) -> None:
    path = _db(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(path)!r})
            print("ready", flush=True)
            sys.stdin.read()
        """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        before = path.read_bytes()
        with pytest.raises(DatabaseLockedError, match="in use by another process"):
            check_database_available(path)
        assert path.read_bytes() == before
    finally:
        holder.communicate("", timeout=30)
