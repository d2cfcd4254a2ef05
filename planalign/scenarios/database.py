"""Reading a simulation or sweep database: read-only connections, its tables by model name, its
complete years. Readers here never write; a database another process holds is a clear usage error."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import duckdb

from planalign.errors import DatabaseLockedError, PlanalignUsageError
from planalign.simulation.state import STATUS_SCHEMA, STATUS_TABLE, CompletedYear


class SweepDatabaseError(PlanalignUsageError):
    """The database is missing, or does not hold what its run or sweep directory says it holds."""


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    if not path.is_file():
        raise SweepDatabaseError(
            f"the database {path} does not exist; it was moved or deleted since the run. Run again to "
            "rebuild it."
        )
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as exc:
        raise DatabaseLockedError(
            f"the database {path} cannot be opened for reading ({str(exc).strip().splitlines()[0]}); "
            "close the program holding it (a notebook, the DuckDB shell, a running simulation) and try again"
        ) from exc
    try:
        yield con
    finally:
        con.close()


def relation(con: duckdb.DuckDBPyConnection, name: str, database: Path) -> str:
    """The quoted `schema.table` of the model `name` (outside the bookkeeping schema), or a clear error."""
    rows = con.execute(
        "select table_schema from information_schema.tables where lower(table_name) = ? "
        "and table_schema <> ? order by table_schema = 'main' desc, table_schema",
        [name.lower(), STATUS_SCHEMA],
    ).fetchall()
    if not rows:
        raise SweepDatabaseError(
            f"the database {database} has no table {name}; it was not built by this version of the "
            "simulation. Run the simulation (or the sweep) again."
        )
    return f'"{rows[0][0]}"."{name}"'


def has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    """Whether the relation named `table` (model name) has `column`."""
    row = con.execute(
        "select count(*) from information_schema.columns where lower(table_name) = ? "
        "and lower(column_name) = ? and table_schema <> ?",
        [table.lower(), column.lower(), STATUS_SCHEMA],
    ).fetchone()
    return bool(row and row[0])


def completed_years(con: duckdb.DuckDBPyConnection) -> dict[int, tuple[str, str]]:
    """Every complete year → (config_hash, completed_at), from the year-status bookkeeping."""
    exists = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = ? and table_name = 'year_status'",
        [STATUS_SCHEMA],
    ).fetchone()
    if not exists or not exists[0]:
        return {}
    rows = con.execute(
        f"select simulation_year, config_hash, completed_at from {STATUS_TABLE} where status = 'complete'"
    ).fetchall()
    return {int(y): (str(h), str(at)) for y, h, at in rows}


def year_records(con: duckdb.DuckDBPyConnection) -> dict[int, CompletedYear]:
    """Every complete year → its year-status row, with the id of the run that wrote it: what tells whose
    results a database holds (`planalign.scenarios.export` hands out a run's years only if they are its)."""
    if not _has_year_status(con):
        return {}
    rows = con.execute(
        f"select simulation_year, run_id, config_hash, completed_at from {STATUS_TABLE} "
        "where status = 'complete' order by simulation_year"
    ).fetchall()
    return {int(y): CompletedYear(int(y), str(r), str(h), str(at)) for y, r, h, at in rows}


def years_with_rows(con: duckdb.DuckDBPyConnection, rel: str) -> set[int]:
    """The simulation years the relation `rel` (quoted `schema.table`) has rows of: beside the complete
    ones, a year a stage run rebuilt in place has rows but is not complete."""
    return {int(r[0]) for r in con.execute(f"select distinct simulation_year from {rel}").fetchall()}


def _has_year_status(con: duckdb.DuckDBPyConnection) -> bool:
    exists = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = ? and table_name = 'year_status'",
        [STATUS_SCHEMA],
    ).fetchone()
    return bool(exists and exists[0])
