"""Sharded sweeps (issue #21): what a sweep database keeps (`--keep tables|summaries`), the disk projection
that suggests summaries, and the data-safety promise tried as a new user would — the second run, Ctrl-C with
a previous database (between shards and during the merge), a sweep pointed at another run's database or at
one another run holds, and a hostile database path. Fake shard bodies on the local executor (no dbt): what
is checked is the driver. The real-dbt equality of a summary sweep's comparison is in test_sharding.py.

Covered elsewhere (not repeated here): a failed shard merges nothing and names its members, cancellation
of remote tasks, a lost worker's shard run again (test_sharding.py); the bad sharding flags
(test_sharding.py::test_bad_sharding_flags_exit_2_before_anything_runs).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import duckdb
import pytest

from planalign.cli import main
from planalign.errors import DatabaseLockedError
from planalign.scenarios import executors as executors_module
from planalign.scenarios import shards as shards_module
from planalign.scenarios.executors import LocalExecutor
from planalign.scenarios.member_figures import SUMMARY_TABLE
from planalign.scenarios.provenance import ExportError, export_source
from planalign.scenarios.scenario_file import load_scenario_file
from planalign.scenarios.shard_task import SUMMARY_KEPT, ShardBundle, ShardResult, ShardTask, export_tables
from planalign.scenarios.sharded import run_sharded_sweep_async
from planalign.scenarios.shards import MergedDatabaseTooLargeError, check_merged_size, plan_shards
from planalign.scenarios.sweep import SweepOutcome, SweepPlan, load_sweep, plan_sweep
from planalign.simulation.working_copy import WorkingCopy

from .conftest import ScenarioWriter

FILE = """
name: sharded
database: sweep.duckdb
scenarios:
  match_4pct:
    overrides: {match: {tiers: [{employee_max: 0.04, match_rate: 1.0}], cap_rate: 0.04}}
seeds: [42, 7, 3, 11]
"""


def _tables(database: Path) -> set[str]:
    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute("select table_name from duckdb_tables() where schema_name <> 'planalign'")
        return {str(r[0]) for r in rows.fetchall()}


class Shards:
    """A shard body without dbt: a dimension, a per-member yearly table, the figures table and a seed
    table, exported as a real shard exports its database (`export_tables`, summaries or tables)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ran: list[int] = []
        self.before_return: Any = None
        self.fail = False

    async def __call__(self, task: ShardTask, bundle: ShardBundle) -> ShardResult:
        self.ran.append(task.index)
        if self.before_return is not None:
            await self.before_return(task)
        ids = tuple(m.scenario_id for m in task.members)
        if self.fail:
            return ShardResult(task.index, ids, "failed", "model rpt_yearly_summary failed")
        database = self.root / f"fake-{task.index}-{os.getpid()}.duckdb"
        database.unlink(missing_ok=True)
        with duckdb.connect(str(database)) as con:
            con.execute(
                "create table dim_scenarios (scenario_id varchar, scenario_name varchar, random_seed int)"
            )
            con.execute(
                "create table rpt_yearly_summary (scenario_id varchar, simulation_year int, cost double)"
            )
            tables = ["rpt_yearly_summary"]
            if task.keep == "summaries":  # a real shard stores its figures only then
                tables.append(SUMMARY_TABLE)
                con.execute(f"create table {SUMMARY_TABLE} as select * from rpt_yearly_summary")
            con.execute("create table config_seed (band varchar)")
            con.execute("insert into config_seed values ('a')")
            for m in task.members:
                con.execute(
                    "insert into dim_scenarios values (?, ?, ?)",
                    [m.scenario_id, m.scenario_name, m.random_seed],
                )
                for year in task.config.years:
                    for table in tables:
                        con.execute(f"insert into {table} values (?, ?, ?)", [m.scenario_id, year, 1.5])
        kept = SUMMARY_KEPT if task.keep == "summaries" else None
        exported = export_tables(database, self.root / f"export-{task.index}", kept)
        database.unlink()
        return ShardResult(task.index, ids, "complete", None, exported)


def _run(plan: SweepPlan, body: Shards, *, cancel_on: Any = None) -> SweepOutcome | None:
    async def run() -> SweepOutcome | None:
        with anyio.CancelScope() as scope:
            if cancel_on is not None:
                cancel_on(scope)
            shards = plan_shards(plan.members, plan.scenario_set.seeds, 2)
            return await run_sharded_sweep_async(plan, shards, LocalExecutor(body))
        return None

    return anyio.run(run)


def _plan(path: Path, keep: str = "tables") -> SweepPlan:
    return plan_sweep(load_scenario_file(path), keep=keep)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------- what is kept


def test_a_summary_sweep_keeps_the_figures_and_removes_an_earlier_sweeps_member_tables(
    write_scenarios: ScenarioWriter, tmp_path: Path
) -> None:
    path = write_scenarios(FILE)
    body = Shards(tmp_path)
    assert _run(_plan(path), body).status == "complete"  # type: ignore[union-attr]
    database = tmp_path / "sweep.duckdb"
    assert "rpt_yearly_summary" in _tables(database)
    assert _run(_plan(path, "summaries"), body).status == "complete"  # type: ignore[union-attr]
    # No member rows of the first sweep stay beside the second's identity; the seed stays (one pass's).
    assert _tables(database) == {"dim_scenarios", SUMMARY_TABLE, "config_seed"}
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute(f"select count(*) from {SUMMARY_TABLE}").fetchone() == (8 * 2,)
    assert _run(_plan(path), body).status == "complete"  # type: ignore[union-attr]
    assert SUMMARY_TABLE not in _tables(database)  # and a full-table sweep removes the figures


def test_export_of_a_summary_sweep_is_refused_naming_what_to_do(
    write_scenarios: ScenarioWriter, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = _run(_plan(write_scenarios(FILE), "summaries"), Shards(tmp_path))
    assert outcome is not None and load_sweep(outcome.directory)["keep"] == "summaries"
    with pytest.raises(ExportError, match="--keep tables"):
        export_source(outcome.directory)
    out = tmp_path / "out"
    assert main(["export", str(outcome.directory), "--format", "parquet", "--out", str(out)]) == 2
    assert "comparison.json" in capsys.readouterr().err and not out.exists()


def test_keep_needs_an_executor(write_scenarios: ScenarioWriter, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenarios", "run", str(write_scenarios(FILE)), "--keep", "summaries"]) == 2
    assert "--keep needs --executor" in capsys.readouterr().err


def test_the_disk_check_refuses_only_what_does_not_fit() -> None:
    check_merged_size(projected=10, needed=25, free=25, where=Path("/data"))
    with pytest.raises(MergedDatabaseTooLargeError, match="--keep summaries") as refused:
        check_merged_size(projected=400 * 10**9, needed=900 * 10**9, free=50 * 10**9, where=Path("/data"))
    assert "about 400.0 GB" in str(refused.value) and "50.0 GB free" in str(refused.value)


def test_a_full_table_sweep_too_big_for_the_disk_is_refused_before_it_runs_suggesting_summaries(
    write_scenarios: ScenarioWriter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_scenarios(FILE)
    monkeypatch.setattr(shards_module, "DATABASE_BYTES_PER_MEMBER_EMPLOYEE_YEAR", 1e15)
    body = Shards(tmp_path)
    monkeypatch.setattr(executors_module, "make_executor", lambda name, address=None: LocalExecutor(body))
    assert main(["scenarios", "run", str(path), "--executor", "local", "--shards", "2"]) == 2
    assert "--keep summaries" in capsys.readouterr().err
    assert body.ran == [] and not (tmp_path / "runs").exists() and not (tmp_path / "sweep.duckdb").exists()
    # Summaries are not projected; an explicit --keep tables is tried (the projection is an estimate).
    body.fail = True  # the shards run (and fail: exit 1), past the check
    for keep in ("summaries", "tables"):
        args = ["scenarios", "run", str(path), "--executor", "local", "--shards", "2", "--keep", keep]
        assert main(args) == 1
        assert "--keep summaries (the same" not in capsys.readouterr().err
    assert body.ran == [0, 0]


# ----------------------------------------------------------------------------------------- data safety


def test_the_second_sharded_run_replaces_the_first_and_only_its_own_directory_exports(
    write_scenarios: ScenarioWriter, tmp_path: Path
) -> None:
    path = write_scenarios(FILE)
    first = _run(_plan(path), Shards(tmp_path))
    second = _run(_plan(path), Shards(tmp_path))
    assert first is not None and second is not None and first.directory != second.directory
    assert second.status == "complete"
    assert export_source(second.directory).years == (2025, 2026)
    with pytest.raises(ExportError, match="not by this sweep's run"):
        export_source(first.directory)  # the database is the second run's now


@pytest.mark.parametrize("when", ["between shards", "during the merge"])
def test_ctrl_c_leaves_the_previous_database_byte_identical(
    write_scenarios: ScenarioWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    path = write_scenarios(FILE)
    assert _run(_plan(path), Shards(tmp_path)) is not None
    database = tmp_path / "sweep.duckdb"
    before = database.read_bytes()
    scopes: list[anyio.CancelScope] = []
    body = Shards(tmp_path)
    if when == "between shards":

        async def cancel_at_second(task: ShardTask) -> None:
            if task.index == 1:
                scopes[0].cancel()
                await anyio.sleep_forever()

        body.before_return = cancel_at_second
    else:
        from planalign.scenarios.shard_merge import merge_shards as real_merge

        def merge_then_cancel(*args: Any, **kwargs: Any) -> None:
            real_merge(*args, **kwargs)  # the working copy is merged in full ...
            anyio.from_thread.run_sync(scopes[0].cancel)  # ... and Ctrl-C arrives before it is saved

        monkeypatch.setattr("planalign.scenarios.sharded.merge_shards", merge_then_cancel)
    plan = _plan(path)
    assert _run(plan, body, cancel_on=scopes.append) is None
    assert database.read_bytes() == before
    assert load_sweep(plan.directory)["status"] == "failed"
    assert not list(tmp_path.glob(".sweep.duckdb.planalign/*.duckdb"))  # no working copy left behind


def test_a_sharded_sweep_pointed_at_another_sweeps_database_is_refused_before_anything_runs(
    write_scenarios: ScenarioWriter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _run(_plan(write_scenarios(FILE)), Shards(tmp_path)) is not None
    database = tmp_path / "sweep.duckdb"
    before = database.read_bytes()
    other = write_scenarios(FILE.replace("name: sharded", "name: someone-else"), "other.yaml")
    body = Shards(tmp_path)
    monkeypatch.setattr(executors_module, "make_executor", lambda name, address=None: LocalExecutor(body))
    assert main(["scenarios", "run", str(other), "--executor", "local", "--shards", "2"]) == 2
    err = capsys.readouterr().err
    assert "--replace-years" in err and "sharded" in err
    assert body.ran == [] and database.read_bytes() == before
    assert not list((tmp_path / "runs").glob("*-sweep-other"))


def test_a_sharded_sweep_on_a_database_another_run_holds_is_refused(
    write_scenarios: ScenarioWriter, tmp_path: Path
) -> None:
    path = write_scenarios(FILE)
    assert _run(_plan(path), Shards(tmp_path)) is not None
    database = tmp_path / "sweep.duckdb"
    before = database.read_bytes()
    body = Shards(tmp_path)
    # Another run is writing it (open() holds the lock); a database lock is exit 2 in the CLI.
    with WorkingCopy(database), pytest.raises(DatabaseLockedError):
        _run(_plan(path), body)
    assert body.ran == [] and database.read_bytes() == before


def test_a_hostile_database_path_is_merged_as_a_path_not_as_sql(
    write_scenarios: ScenarioWriter, tmp_path: Path
) -> None:
    hostile = tmp_path / "it's a $(rm -rf x) dir; drop table t"
    hostile.mkdir()
    text = FILE.replace("database: sweep.duckdb", f'database: "{hostile.name}/sweep.duckdb"')
    outcome = _run(_plan(write_scenarios(text)), Shards(tmp_path))
    assert outcome is not None and outcome.status == "complete", outcome and outcome.summary
    assert _tables(hostile / "sweep.duckdb") == {"dim_scenarios", "rpt_yearly_summary", "config_seed"}


def test_comparing_a_summary_sweep_whose_figures_another_run_replaced_is_refused(
    write_scenarios: ScenarioWriter, tmp_path: Path
) -> None:
    from planalign.scenarios.comparison import write_comparison
    from planalign.scenarios.database import SweepDatabaseError

    path = write_scenarios(FILE)
    summaries = _run(_plan(path, "summaries"), Shards(tmp_path))
    assert summaries is not None and _run(_plan(path), Shards(tmp_path)) is not None  # the tables since
    with pytest.raises(SweepDatabaseError, match="another run has written it since"):
        write_comparison(summaries.directory)
