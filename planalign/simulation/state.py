"""What the simulation database says about itself: which years are complete, under which configuration.

The year-status table lives in the simulation database (schema `planalign`), so a database file is
self-describing: `--resume` reads it, and a year whose stages did not all succeed is never listed as complete.
Beside it, `planalign.database_info` (one row) says what kind of result the database holds — a simulation,
or which sweep (`DatabaseIdentity`) — written with every completed year, so that a run never replaces
another kind of result without being told to (`planalign.simulation.year_plan.check_replaces`). Databases
written before that record are still read: one whose `dim_scenarios` holds a member other than the single
`baseline` of a plain simulation is a sweep of unknown name, any other with complete years a simulation.
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
INFO_TABLE = f"{STATUS_SCHEMA}.database_info"
#: The one scenario of a plain simulation (the dbt project's `scenario_id` var default).
SIMULATION_SCENARIO_ID = "baseline"

DatabaseKind = Literal["simulation", "sweep"]


@dataclass(frozen=True)
class CompletedYear:
    simulation_year: int
    run_id: str
    config_hash: str
    completed_at: str


@dataclass(frozen=True)
class DatabaseIdentity:
    """What kind of result a run writes into its database, recorded there with every completed year.

    A simulation is one result whatever its configuration: a plain re-run with another seed or other
    parameters replaces it, under the year rules of `planalign.simulation.year_plan`. A sweep is identified
    by its scenario set's `name` and its resolved scenario file (`source`): a re-run of the same file, with
    designs or seeds edited, is the same sweep and replaces its own database; another name or another file
    is another sweep. `members` is what the database holds, for messages."""

    kind: DatabaseKind = "simulation"
    name: str = ""
    source: str = ""
    members: int = 1

    def is_same_result(self, other: DatabaseIdentity) -> bool:
        if self.kind != other.kind:
            return False
        return self.kind == "simulation" or (self.name, self.source) == (other.name, other.source)

    def describe(self) -> str:
        """`a simulation`, `the sweep 'plan-designs' (scenario file /x/plan.yaml, 4 members)`."""
        if self.kind == "simulation":
            return "a simulation"
        members = f"{self.members} member{'s' if self.members != 1 else ''}"
        if not self.name:
            # An older database: the sweep's name was not recorded.
            return f"a sweep of {members} (written before planalign recorded which sweep a database holds)"
        return f"the sweep {self.name!r} (scenario file {self.source}, {members})"


@dataclass(frozen=True)
class DatabaseContents:
    """What a database holds, as far as a run's decisions go: the kind of result (None: no planalign result
    — a new file, or a DuckDB file of someone else's without complete years) and its complete years."""

    identity: DatabaseIdentity | None
    years: tuple[int, ...]


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


def year_run_ids(path: Path) -> dict[int, str]:
    """Every complete year of the database at `path` → the id of the run that completed it, read through
    a read-only connection (for `planalign runs`: is a run's result still the database's?). Raises
    `FileNotFoundError` when the file is missing and `duckdb.Error` when it cannot be opened (another
    process holds it)."""
    if not path.is_file():
        raise FileNotFoundError(path)
    con = duckdb.connect(str(path), read_only=True)
    try:
        if not _table_exists(con, STATUS_SCHEMA, "year_status"):
            return {}
        rows = con.execute(
            f"select simulation_year, run_id from {STATUS_TABLE} where status = 'complete'"
        ).fetchall()
    finally:
        con.close()
    return {int(y): str(r) for y, r in rows}


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

    def table_columns(self, relations: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """{relation: its columns, lower case, in order} of those of `relations` the database holds."""
        if not self.database_path.exists():
            return {}
        out: dict[str, tuple[str, ...]] = {}
        with _connect(self.database_path) as con:
            for relation in relations:
                schema, table = _schema_and_table(relation)
                rows = con.execute(
                    "select lower(column_name) from information_schema.columns where lower(table_schema) = ? "
                    "and lower(table_name) = ? order by ordinal_position",
                    [schema, table],
                ).fetchall()
                if rows:
                    out[relation] = tuple(str(r[0]) for r in rows)
        return out

    def drop_tables(self, relations: Iterable[str]) -> None:
        """Drop `relations` (a working copy's tables that a run rebuilds whole), atomically."""
        relations = list(relations)
        if not relations:
            return
        with _connect(self.database_path) as con:
            con.execute("begin transaction")
            try:
                for relation in relations:
                    schema, table = _schema_and_table(relation)
                    con.execute(f'drop table if exists "{schema}"."{table}"')
                con.execute("commit")
            except BaseException:
                con.execute("rollback")
                raise

    def contents(self) -> DatabaseContents:
        """The kind of result the database holds and its complete years (see the module docstring for
        databases written before the kind was recorded)."""
        years = tuple(c.simulation_year for c in self.completed_years())
        if not self.database_path.exists():
            return DatabaseContents(None, years)
        with _connect(self.database_path) as con:
            identity = _recorded_identity(con) or _inferred_identity(con, years)
        return DatabaseContents(identity, years)

    def mark_complete(
        self, year: int, *, run_id: str, config_hash: str, identity: DatabaseIdentity | None = None
    ) -> None:
        """Record `year` complete, and what the database holds (`identity`; default: a simulation)."""
        identity = identity or DatabaseIdentity()
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with _connect(self.database_path) as con:
            con.execute(f"create schema if not exists {STATUS_SCHEMA}")
            con.execute(
                f"create table if not exists {STATUS_TABLE} (simulation_year integer primary key, "
                "status varchar not null, run_id varchar not null, config_hash varchar not null, "
                "completed_at varchar not null)"
            )
            con.execute(
                f"create table if not exists {INFO_TABLE} (kind varchar not null, name varchar not null, "
                "source varchar not null, members integer not null, run_id varchar not null, "
                "recorded_at varchar not null)"
            )
            con.execute("begin transaction")
            try:
                con.execute(
                    f"insert or replace into {STATUS_TABLE} values (?, 'complete', ?, ?, ?)",
                    [year, run_id, config_hash, now],
                )
                con.execute(f"delete from {INFO_TABLE}")
                con.execute(
                    f"insert into {INFO_TABLE} values (?, ?, ?, ?, ?, ?)",
                    [identity.kind, identity.name, identity.source, identity.members, run_id, now],
                )
                con.execute("commit")
            except BaseException:
                con.execute("rollback")
                raise

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


def _recorded_identity(con: duckdb.DuckDBPyConnection) -> DatabaseIdentity | None:
    if not _table_exists(con, STATUS_SCHEMA, "database_info"):
        return None
    row = con.execute(f"select kind, name, source, members from {INFO_TABLE} limit 1").fetchone()
    if row is None or row[0] not in ("simulation", "sweep"):
        return None
    kind: DatabaseKind = "sweep" if row[0] == "sweep" else "simulation"
    return DatabaseIdentity(kind, str(row[1]), str(row[2]), int(row[3]))


def _inferred_identity(con: duckdb.DuckDBPyConnection, years: tuple[int, ...]) -> DatabaseIdentity | None:
    """The kind of result of a database written before `database_info` existed."""
    rows = con.execute(
        "select table_schema from information_schema.tables where lower(table_name) = 'dim_scenarios' "
        "and table_schema <> ?",
        [STATUS_SCHEMA],
    ).fetchall()
    if rows:
        try:
            table = f'"{rows[0][0]}".dim_scenarios'
            row = con.execute(
                f"select count(*), count(*) filter (where scenario_id <> ?) from {table}",
                [SIMULATION_SCENARIO_ID],
            ).fetchone()
        except duckdb.Error:
            row = None  # a table of that name that is not the project's (no scenario_id): not a sweep
        if row is not None and row[1]:
            return DatabaseIdentity("sweep", members=int(row[0]))
    return DatabaseIdentity() if years else None


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
