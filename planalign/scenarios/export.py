"""Exporting a run's or a sweep's results for people who continue in a spreadsheet or a notebook.

`export(source, fmt, out)` writes the tables of interest of the database a run directory (summary.json)
or a sweep directory (sweep.json) names: the workforce snapshot, the events and the yearly summary; for a
sweep also `dim_scenarios` and `scenario_metrics` (metrics.csv's per-member values). CSV and Parquet give
one file per table; Excel one workbook with a sheet per table, refused — before anything is written — when
a table has more rows than a sheet holds (1,048,576 with the header), naming CSV and Parquet instead.

The database must still hold what the directory describes: a sweep database re-written by another sweep,
or a simulation database with years completed after the run finished, is refused rather than exported
under the wrong name. Files are written through temporary names and renamed, so no half file is left.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import duckdb

from planalign.errors import PlanalignUsageError
from planalign.scenarios.comparison import (
    METRICS_CSV_COLUMNS,
    check_database_holds_sweep,
    metrics_rows,
    read_member_metrics,
)
from planalign.scenarios.database import completed_years, read_only, relation
from planalign.scenarios.sweep import SWEEP_FILE, load_sweep

ExportFormat = Literal["csv", "parquet", "xlsx"]
FORMATS: tuple[ExportFormat, ...] = ("csv", "parquet", "xlsx")
#: Rows in one Excel sheet, the header row included.
EXCEL_MAX_ROWS = 1_048_576
RUN_TABLES: tuple[str, ...] = ("fct_workforce_snapshot", "fct_yearly_events", "rpt_yearly_summary")
SWEEP_TABLES: tuple[str, ...] = (*RUN_TABLES, "dim_scenarios")
METRICS_TABLE = "scenario_metrics"
_FETCH_ROWS = 10_000


class ExportError(PlanalignUsageError):
    """The export cannot be made as asked (not a run or sweep directory, a table too big for Excel, a
    database that no longer holds the run)."""


@dataclass(frozen=True)
class ExportSource:
    kind: Literal["run", "sweep"]
    directory: Path
    database: Path
    tables: tuple[str, ...]


def export_source(directory: Path) -> ExportSource:
    """What `directory` (a run or a sweep directory) exports, checked against its database."""
    if (directory / SWEEP_FILE).is_file():
        sweep = load_sweep(directory)
        if sweep.get("status") != "complete":
            raise ExportError(
                f"the sweep in {directory} is {sweep.get('status')!r}, not complete; run it again before "
                "exporting it"
            )
        database = Path(str(sweep["database"]))
        check_database_holds_sweep(database, sweep)
        return ExportSource("sweep", directory, database, SWEEP_TABLES)
    summary_path = directory / "summary.json"
    if not summary_path.is_file():
        raise ExportError(
            f"{directory} is neither a run directory (summary.json) nor a sweep directory ({SWEEP_FILE}); "
            "give one of the directories under runs/"
        )
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        database = Path(str(summary["database_path"]))
        finished = dt.datetime.fromisoformat(str(summary["completed_at"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ExportError(f"{summary_path} cannot be read as a run summary: {exc}") from None
    with read_only(database) as con:
        years = completed_years(con)
    if not years:
        raise ExportError(f"the database {database} holds no complete simulated year; nothing to export")
    later = sorted(y for y, (_, at) in years.items() if dt.datetime.fromisoformat(at) > finished)
    if later:
        raise ExportError(
            f"the database {database} has been written by a later run since this one finished (years "
            f"{later}); export the latest run's directory instead, or run this configuration again"
        )
    return ExportSource("run", directory, database, RUN_TABLES)


def export(source: ExportSource, fmt: ExportFormat, out: Path) -> list[Path]:
    """Write the source's tables into `out` (created if need be) in `fmt`; returns the files written."""
    if out.exists() and not out.is_dir():
        raise ExportError(f"--out {out} is a file; give a directory to write the export into")
    metrics = (
        [tuple(r) for r in metrics_rows(read_member_metrics(source.database))]
        if source.kind == "sweep"
        else []
    )
    with read_only(source.database) as con:
        relations = {name: relation(con, name, source.database) for name in source.tables}
        if fmt == "xlsx":
            _refuse_oversized(con, relations, len(metrics))
        out.mkdir(parents=True, exist_ok=True)
        if fmt == "xlsx":
            return [_write_workbook(con, relations, metrics, out / f"{source.directory.name}.xlsx")]
        written = [_copy_table(con, rel, fmt, out / f"{name}.{fmt}") for name, rel in relations.items()]
    if source.kind == "sweep":
        written.append(_write_metrics(metrics, fmt, out / f"{METRICS_TABLE}.{fmt}"))
    return written


def _order(con: duckdb.DuckDBPyConnection, rel: str) -> str:
    """A stable row order: the key columns the tables share, where present."""
    columns = {str(r[0]) for r in con.execute(f"select * from {rel} limit 0").description or []}
    keys = [c for c in ("scenario_id", "simulation_year", "employee_id", "event_type") if c in columns]
    return f" order by {', '.join(keys)}" if keys else ""


def _refuse_oversized(con: duckdb.DuckDBPyConnection, relations: dict[str, str], metrics_rows: int) -> None:
    counts = {name: _count(con, rel) for name, rel in relations.items()}
    counts[METRICS_TABLE] = metrics_rows
    too_big = {name: n for name, n in counts.items() if n + 1 > EXCEL_MAX_ROWS}
    if too_big:
        listed = ", ".join(f"{name} ({n:,} rows)" for name, n in too_big.items())
        raise ExportError(
            f"an Excel sheet holds at most {EXCEL_MAX_ROWS:,} rows with its header, and {listed} would not "
            "fit; export with --format csv or --format parquet instead (nothing was written)"
        )


def _count(con: duckdb.DuckDBPyConnection, rel: str) -> int:
    row = con.execute(f"select count(*) from {rel}").fetchone()
    return int(row[0]) if row else 0


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _copy_table(con: duckdb.DuckDBPyConnection, rel: str, fmt: ExportFormat, path: Path) -> Path:
    options = "(format csv, header true)" if fmt == "csv" else "(format parquet)"
    tmp = _temporary(path)
    try:
        con.execute(f"copy (select * from {rel}{_order(con, rel)}) to {_sql_path(tmp)} {options}")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _write_metrics(rows: Sequence[tuple[Any, ...]], fmt: ExportFormat, path: Path) -> Path:
    import pyarrow as pa

    columns: list[list[Any]] = [[row[i] for row in rows] for i in range(len(METRICS_CSV_COLUMNS))]
    types = [pa.string(), pa.int64(), pa.int64(), pa.string(), pa.float64()]
    table = pa.table(
        {
            name: pa.array(values, type=t)
            for name, values, t in zip(METRICS_CSV_COLUMNS, columns, types, strict=True)
        }
    )
    tmp = _temporary(path)
    try:
        if fmt == "csv":
            import pyarrow.csv as pa_csv

            pa_csv.write_csv(table, str(tmp))
        else:
            import pyarrow.parquet as pq

            pq.write_table(table, str(tmp))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _write_workbook(
    con: duckdb.DuckDBPyConnection,
    relations: dict[str, str],
    metrics: Sequence[tuple[Any, ...]],
    path: Path,
) -> Path:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    for name, rel in relations.items():
        sheet = workbook.create_sheet(title=name[:31])
        cursor = con.execute(f"select * from {rel}{_order(con, rel)}")
        sheet.append([str(d[0]) for d in cursor.description or []])
        for row in _fetch(cursor):
            sheet.append([_cell(v) for v in row])
    if metrics:
        sheet = workbook.create_sheet(title=METRICS_TABLE)
        sheet.append(list(METRICS_CSV_COLUMNS))
        for row in metrics:
            sheet.append(list(row))
    tmp = _temporary(path)
    try:
        workbook.save(str(tmp))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _fetch(cursor: duckdb.DuckDBPyConnection) -> Iterator[tuple[Any, ...]]:
    while batch := cursor.fetchmany(_FETCH_ROWS):
        yield from batch


def _cell(value: Any) -> Any:
    """Excel takes numbers (Decimal too), text, booleans, dates and times; anything else as text."""
    if value is None or isinstance(value, int | float | str | bool | dt.date | dt.datetime | dt.time):
        return value
    from decimal import Decimal

    if isinstance(value, Decimal):
        return value
    return str(value)


def _temporary(path: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    return Path(name)
