"""The merge of a sharded sweep: every shard's tables into the run's working copy of the sweep database.

The result is what one pass over every member would leave (docs/scaling.md): each table the passes built,
with the column types the shards recorded; a table with a `scenario_id` column holds every shard's rows
(the shards' members are disjoint, so the rows are too), any other table — a dbt seed, the same in every pass
— the first shard's, checked against the others' row counts; year-status rows for every simulated year
naming the sweep's run and its configuration hash (the one-pass sweep's), and `planalign.database_info` the
sweep's identity with all its members (`SimulationState.mark_complete`, the orchestrator's own bookkeeping).
Tables the database held before and no pass builds stay, as they do after a one-pass sweep. A summary sweep's
shards send the rows of their figures table and scenario dimension only (`ShardTable.kept`); the merge
removes the other per-member tables from the working copy, so no earlier run's member rows stay beside the
sweep's identity (and a full-table merge removes an earlier summary sweep's figures table).

It writes only the working copy (`planalign.simulation.working_copy`), in one transaction; the caller
replaces the user's file with it only after the merge succeeded, and only when every shard did.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import duckdb

from planalign.errors import PlanalignError
from planalign.scenarios.member_figures import SUMMARY_TABLE
from planalign.scenarios.shard_task import ShardResult, ShardTable
from planalign.simulation.state import STATUS_SCHEMA, STATUS_TABLE, DatabaseIdentity, SimulationState


class ShardMergeError(PlanalignError):
    """The shards' tables do not fit together (another project version on a worker, a member missing)."""


def merge_shards(
    database: Path,
    results: Sequence[ShardResult],
    *,
    years: Sequence[int],
    run_id: str,
    config_hash: str,
    identity: DatabaseIdentity,
    member_ids: Sequence[str],
) -> None:
    """Merge `results` (every shard's, in shard order) into `database`, the run's working copy."""
    if not results:
        raise ShardMergeError("no shard results to merge")
    layouts = {(t.schema, t.name): t for t in results[0].tables}
    for result in results[1:]:
        theirs = {(t.schema, t.name): t.columns for t in result.tables}
        ours = {key: t.columns for key, t in layouts.items()}
        if theirs != ours:
            differ = sorted(f"{s}.{n}" for s, n in set(theirs) ^ set(ours)) or sorted(
                f"{s}.{n}" for (s, n), cols in ours.items() if theirs.get((s, n)) != cols
            )
            raise ShardMergeError(
                f"shard {result.index + 1} built other tables than shard 1 ({', '.join(differ[:5])}): the "
                "workers run another version of planalign or of the dbt project; install the same on every "
                "worker and run the sweep again"
            )
    con = duckdb.connect(str(database))
    try:
        with tempfile.TemporaryDirectory(prefix="planalign-merge-", dir=database.parent) as tmp:
            con.execute("begin transaction")
            try:
                _replace_years(con, min(years))
                if ("main", SUMMARY_TABLE) not in layouts:
                    con.execute(f'drop table if exists main."{SUMMARY_TABLE}"')
                for key, layout in layouts.items():
                    if not layout.kept:
                        con.execute(f"drop table if exists {_quoted(layout)}")
                        continue
                    sources = [r for r in results] if layout.per_member else [results[0]]
                    tables = [_table(r, key) for r in sources]
                    _write_table(con, layout, tables, Path(tmp))
                    if not layout.per_member:
                        _check_shared(con, layout, [_table(r, key) for r in results[1:]], Path(tmp))
                _check_members(con, layouts, member_ids)
                con.execute("commit")
            except BaseException:
                con.execute("rollback")
                raise
    finally:
        con.close()
    state = SimulationState(database)
    for year in sorted(years):
        state.mark_complete(year, run_id=run_id, config_hash=config_hash, identity=identity)


def _table(result: ShardResult, key: tuple[str, str]) -> ShardTable:
    return next(t for t in result.tables if (t.schema, t.name) == key)


def _replace_years(con: duckdb.DuckDBPyConnection, first: int) -> None:
    """Forget the years the sweep simulates again, as a one-pass sweep's rollback does."""
    exists = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = ? and table_name = 'year_status'",
        [STATUS_SCHEMA],
    ).fetchone()
    if exists and exists[0]:
        con.execute(f"delete from {STATUS_TABLE} where simulation_year >= ?", [first])


def _quoted(layout: ShardTable) -> str:
    return f'"{layout.schema}"."{layout.name}"'


def _parquet(table: ShardTable, directory: Path, label: str) -> Path:
    path = directory / f"{label}.parquet"
    path.write_bytes(table.parquet)
    return path


def _literal(path: Path) -> str:
    """`path` as an SQL string literal (a quote in the database's directory name is doubled)."""
    return "'" + str(path).replace("'", "''") + "'"


def _write_table(
    con: duckdb.DuckDBPyConnection, layout: ShardTable, tables: Sequence[ShardTable], directory: Path
) -> None:
    """Replace the table by one with the shards' column types, holding the rows of `tables`."""
    con.execute(f'create schema if not exists "{layout.schema}"')
    con.execute(f"drop table if exists {_quoted(layout)}")
    columns = ", ".join(f'"{name}" {type_}' for name, type_ in layout.columns)
    con.execute(f"create table {_quoted(layout)} ({columns})")
    names = ", ".join(f'"{name}"' for name, _ in layout.columns)
    for number, table in enumerate(tables):
        path = _parquet(table, directory, f"{layout.schema}.{layout.name}.{number}")
        con.execute(
            f"insert into {_quoted(layout)} ({names}) select {names} from read_parquet({_literal(path)})"
        )
        path.unlink()


def _check_shared(
    con: duckdb.DuckDBPyConnection, layout: ShardTable, others: Sequence[ShardTable], directory: Path
) -> None:
    """A table without members (a seed) must be the same in every shard: compare the row counts."""
    row = con.execute(f"select count(*) from {_quoted(layout)}").fetchone()
    ours = int(row[0]) if row else 0
    for number, table in enumerate(others):
        path = _parquet(table, directory, f"check.{number}")
        other = con.execute(f"select count(*) from read_parquet({_literal(path)})").fetchone()
        path.unlink()
        if other is None or int(other[0]) != ours:
            raise ShardMergeError(
                f"the table {layout.schema}.{layout.name} has no scenario_id, so it should be the same in "
                f"every shard, but shard 1 has {ours} rows and another {other[0] if other else 0}"
            )


def _check_members(
    con: duckdb.DuckDBPyConnection, layouts: dict[tuple[str, str], ShardTable], member_ids: Sequence[str]
) -> None:
    """The merged scenario dimension holds exactly the sweep's members."""
    dimension = next((t for (_, n), t in layouts.items() if n == "dim_scenarios"), None)
    if dimension is None:
        return
    found = {str(r[0]) for r in con.execute(f"select scenario_id from {_quoted(dimension)}").fetchall()}
    if found != set(member_ids):
        missing = sorted(set(member_ids) - found)
        extra = sorted(found - set(member_ids))
        raise ShardMergeError(
            f"the merged shards do not hold the sweep's members (missing: {missing[:5]}, unexpected: "
            f"{extra[:5]})"
        )
