"""What the simulation database says about itself: which years are complete, under which configuration.

The year-status table lives in the simulation database (schema `planalign`), so a database file is
self-describing: `--resume` reads it, and a year whose stages did not all succeed is never listed as complete.
A run works on a private copy of the database (`planalign.simulation.working_copy`); there,
`rollback_years` deletes the
years the run is about to build again from every incremental (year-partitioned) table in one transaction,
and the user's file only ever receives copies whose years are complete.

All access goes through plain DuckDB connections to the same file. Inside one process DuckDB shares one
database instance per file between connections opened with the same configuration, so these connections see
exactly what dbt-duckdb's connections write; they are opened only while no model is running.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import duckdb

from planalign.errors import DatabaseLockedError

STATUS_SCHEMA = "planalign"
STATUS_TABLE = f"{STATUS_SCHEMA}.year_status"


@dataclass(frozen=True)
class CompletedYear:
    simulation_year: int
    run_id: str
    config_hash: str
    completed_at: str


def check_database_available(path: Path) -> None:
    """Fail fast, before anything is written, when another process holds the database file.

    A missing file is fine (the run creates it). Opening an existing file and closing it again changes
    nothing in it.
    """
    if not path.exists():
        return
    open_database(path).close()


def open_database(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-write connection to `path`, or `DatabaseLockedError` saying which program to close when
    another process holds it (or why the file cannot be opened)."""
    try:
        return duckdb.connect(str(path))
    except duckdb.IOException as exc:
        raise DatabaseLockedError(
            f"the database {path} is in use by another process ({_first_line(exc)}). "
            "Close the other program (a notebook, DuckDB shell or another simulation) or choose another "
            "file with --database."
        ) from exc
    except duckdb.Error as exc:
        raise DatabaseLockedError(
            f"the database {path} cannot be opened: {_first_line(exc)}. "
            "Point --database at a valid DuckDB file or a new path."
        ) from exc


@contextlib.contextmanager
def _connect(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(path))
    try:
        yield con
    finally:
        con.close()


class SimulationState:
    """Reads and writes the year-status bookkeeping of one simulation database."""

    def __init__(self, database_path: Path) -> None:
        self.database_path = database_path

    def completed_years(self) -> list[CompletedYear]:
        if not self.database_path.exists():
            return []
        with _connect(self.database_path) as con:
            if not _table_exists(con, STATUS_SCHEMA, "year_status"):
                return []
            rows = con.execute(
                f"select simulation_year, run_id, config_hash, completed_at from {STATUS_TABLE} "
                "where status = 'complete' order by simulation_year"
            ).fetchall()
        return [CompletedYear(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]

    def mark_complete(self, year: int, *, run_id: str, config_hash: str) -> None:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with _connect(self.database_path) as con:
            con.execute(f"create schema if not exists {STATUS_SCHEMA}")
            con.execute(
                f"create table if not exists {STATUS_TABLE} (simulation_year integer primary key, "
                "status varchar not null, run_id varchar not null, config_hash varchar not null, "
                "completed_at varchar not null)"
            )
            con.execute(
                f"insert or replace into {STATUS_TABLE} values (?, 'complete', ?, ?, ?)",
                [year, run_id, config_hash, now],
            )

    def rollback_years(self, from_year: int, relations: Iterable[str]) -> list[str]:
        """Delete every row of `from_year` and later from the given year-partitioned relations and the
        status table, atomically. Returns the relations that were cleaned (those that exist and have a
        `simulation_year` column)."""
        return self._delete_years(relations, ">=", from_year, status_too=True)

    def delete_year(self, year: int, relations: Iterable[str]) -> list[str]:
        """Delete the rows of exactly `year` from the given year-partitioned relations, atomically (a stage
        rebuilt in place must not leave rows of the old build that the new one no longer produces)."""
        return self._delete_years(relations, "=", year, status_too=False)

    def mark_incomplete(self, from_year: int) -> None:
        """Forget that `from_year` and later years are complete, keeping their rows (stage mode changes a
        year in place: that year and every year built on it are no longer a finished simulation)."""
        if not self.database_path.exists():
            return
        with _connect(self.database_path) as con:
            if _table_exists(con, STATUS_SCHEMA, "year_status"):
                con.execute(f"delete from {STATUS_TABLE} where simulation_year >= ?", [from_year])

    def _delete_years(
        self, relations: Iterable[str], op: Literal[">=", "="], year: int, *, status_too: bool
    ) -> list[str]:
        if not self.database_path.exists():
            return []
        cleaned: list[str] = []
        with _connect(self.database_path) as con:
            con.execute("begin transaction")
            try:
                for relation in sorted(set(relations)):
                    schema, table = _schema_and_table(relation)
                    if _has_year_column(con, schema, table):
                        con.execute(f"delete from {relation} where simulation_year {op} ?", [year])
                        cleaned.append(relation)
                if status_too and _table_exists(con, STATUS_SCHEMA, "year_status"):
                    con.execute(f"delete from {STATUS_TABLE} where simulation_year {op} ?", [year])
                con.execute("commit")
            except BaseException:
                con.execute("rollback")
                raise
        return cleaned

    def existing_relations(self) -> set[tuple[str, str]]:
        """(schema, table) of every table and view in the database, lower-cased."""
        if not self.database_path.exists():
            return set()
        with _connect(self.database_path) as con:
            rows = con.execute("select table_schema, table_name from information_schema.tables").fetchall()
        return {(str(s).lower(), str(t).lower()) for s, t in rows}

    def query(self, sql: str, params: list[object] | None = None) -> list[tuple[Any, ...]]:
        with _connect(self.database_path) as con:
            return [tuple(r) for r in con.execute(sql, params or []).fetchall()]


def _schema_and_table(relation: str) -> tuple[str, str]:
    parts = [p.strip('"') for p in relation.split(".")]
    return parts[-2].lower(), parts[-1].lower()


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables "
        "where lower(table_schema) = ? and lower(table_name) = ?",
        [schema, table],
    ).fetchone()
    return bool(row and row[0])


def _has_year_column(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    row = con.execute(
        "select count(*) from information_schema.columns where lower(table_schema) = ? "
        "and lower(table_name) = ? and lower(column_name) = 'simulation_year'",
        [schema, table],
    ).fetchone()
    return bool(row and row[0])


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
