"""Exporting a run's or a sweep's results for people who continue in a spreadsheet or a notebook.

`export(source, fmt, out)` writes the tables of interest of the database a run directory (summary.json)
or a sweep directory (sweep.json) names: the workforce snapshot, the events and the yearly summary; for a
sweep also `dim_scenarios` and `scenario_metrics` (metrics.csv's per-member values). CSV and Parquet give
one file per table; Excel one workbook with a sheet per table, refused — before anything is written — when
a table has more rows than a sheet holds (1,048,576 with the header), naming CSV and Parquet instead.

What is exported is exactly what the run wrote: `export_source` (`planalign.scenarios.provenance`) checks
whose years the database holds and refuses a directory whose results are not there (an interrupted re-run,
a replaced run, a stage run), and `export` writes only the source's years.

Text cells are written so no spreadsheet runs them (`planalign.scenarios.spreadsheet`). Every file is
written to a temporary name first and all are renamed only when every one is complete, so a failure
(a full disk) leaves no file and no half file; the output directory is checked before anything is read.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import duckdb

from planalign.scenarios.comparison import METRICS_CSV_COLUMNS, metrics_rows, read_member_metrics
from planalign.scenarios.database import has_column, read_only, relation
from planalign.scenarios.provenance import (
    RUN_TABLES,
    SWEEP_TABLES,
    ExportError,
    ExportSource,
    export_source,
)
from planalign.scenarios.spreadsheet import (
    EXCEL_ILLEGAL,
    EXCEL_ILLEGAL_SQL,
    csv_select_list,
    csv_text,
    text_columns,
    xlsx_text_cell,
)
from planalign.scenarios.workbook import Sheet, answer_sheets, write_sheet
from planalign.simulation.preflight import unwritable_reason

__all__ = [
    "EXCEL_MAX_ROWS",
    "FORMATS",
    "METRICS_TABLE",
    "RUN_TABLES",
    "SWEEP_TABLES",
    "ExportError",
    "ExportFormat",
    "ExportSource",
    "export",
    "export_source",
]

ExportFormat = Literal["csv", "parquet", "xlsx"]
FORMATS: tuple[ExportFormat, ...] = ("csv", "parquet", "xlsx")
#: Rows in one Excel sheet, the header row included.
EXCEL_MAX_ROWS = 1_048_576
METRICS_TABLE = "scenario_metrics"
#: A sweep's comparison in the CSV and Parquet exports: file name → the workbook sheet it holds.
COMPARISON_TABLES: dict[str, str] = {"comparison_summary": "Summary", "comparison_yearly": "Yearly"}
_FETCH_ROWS = 10_000


def export(
    source: ExportSource,
    fmt: ExportFormat,
    out: Path,
    *,
    detail: bool = False,
    progress: Callable[[str], None] | None = None,
) -> list[Path]:
    """Write the source's results into `out` (created if need be) in `fmt`; returns the files written.

    Excel: one workbook that opens on the answer (`planalign.scenarios.workbook`: Summary, Yearly, ...),
    with the database's detail tables after it only when `detail`. CSV and Parquet: a file per table, and
    for a sweep the comparison (`comparison_summary`, `comparison_yearly`). `progress` receives a line per
    file or sheet as it is written.

    `out` may be a symbolic link to a directory (the files go where it points); a file, a link to a file
    or a link to nothing is refused. A file of the export's name inside `out` is replaced, never written
    through (a link there is replaced by the file)."""
    _check_out(out)
    say = progress or (lambda _line: None)
    comparison_names = list(COMPARISON_TABLES) if source.kind == "sweep" else []
    names = [*source.tables, *([METRICS_TABLE] if source.kind == "sweep" else []), *comparison_names]
    targets = (
        [out / f"{source.directory.name}.xlsx"] if fmt == "xlsx" else [out / f"{n}.{fmt}" for n in names]
    )
    for target in targets:
        problem = unwritable_reason(target)
        if problem is not None:
            raise ExportError(
                f"cannot write the export to {target}: {problem}; choose another directory with --out "
                "(nothing was written)"
            )
    members = (
        [m for m in read_member_metrics(source.database) if m.year in source.years]
        if source.kind == "sweep"
        else []
    )
    metrics = [tuple(r) for r in metrics_rows(members)]
    with read_only(source.database) as con:
        relations = {name: relation(con, name, source.database) for name in source.tables}
        selects = {name: _select(con, name, rel, source) for name, rel in relations.items()}
        summary_sql = selects["rpt_yearly_summary"].sql() if source.kind == "run" else None
        answer = answer_sheets(con, source.kind, source.directory, source.years, summary_sql, members)
        if fmt == "xlsx":
            detail_selects = selects if detail else {}
            _refuse_oversized(con, detail_selects, len(metrics) if detail else 0)
            _refuse_unstorable_text(con, detail_selects)
        staged: list[tuple[Path, Path]] = []
        try:
            out.mkdir(parents=True, exist_ok=True)
            if fmt == "xlsx":
                workbook = _write_workbook(
                    con, answer, detail_selects, metrics if detail else [], targets[0], say
                )
                staged.append((workbook, targets[0]))
            else:
                table_targets = targets[: len(source.tables)]
                for select, target in zip(selects.values(), table_targets, strict=True):
                    say(f"{target.name}: {_count(con, select):,} rows")
                    staged.append((_copy_table(con, select, fmt, target), target))
                if source.kind == "sweep":
                    rest = targets[len(source.tables) :]
                    staged.append((_write_metrics(metrics, fmt, rest[0]), rest[0]))
                    sheets = {sheet.title: sheet for sheet in answer}
                    for name, target in zip(COMPARISON_TABLES, rest[1:], strict=True):
                        staged.append(
                            (_write_sheet_file(sheets[COMPARISON_TABLES[name]], fmt, target), target)
                        )
            for tmp, target in staged:
                os.replace(tmp, target)
        except (OSError, duckdb.IOException) as exc:
            where = getattr(exc, "filename", None) or out
            reason = getattr(exc, "strerror", None) or str(exc).strip().splitlines()[0]
            raise ExportError(
                f"cannot write the export to {where}: {reason}; nothing was written — free some space or "
                "choose another directory with --out"
            ) from exc
        finally:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
    return targets


def _check_out(out: Path) -> None:
    if out.is_symlink() and not out.exists():
        raise ExportError(
            f"--out {out} is a symbolic link to {os.readlink(out)}, which does not exist; give an existing "
            "directory or a new path"
        )
    if out.exists() and not out.is_dir():
        through = f" (a symbolic link to {os.readlink(out)})" if out.is_symlink() else ""
        raise ExportError(f"--out {out} is a file{through}; give a directory to write the export into")


@dataclass(frozen=True)
class _Select:
    """One table's rows to export: its relation, the source's years only, in a stable order."""

    relation: str
    columns: list[tuple[str, str]]
    where: str
    order: str

    def sql(self, columns: str = "*") -> str:
        return f"select {columns} from {self.relation}{self.where}{self.order}"


def _select(con: duckdb.DuckDBPyConnection, name: str, rel: str, source: ExportSource) -> _Select:
    columns = [(str(r[0]), str(r[1])) for r in con.execute(f"describe select * from {rel}").fetchall()]
    where = ""
    if has_column(con, name, "simulation_year"):
        where = f" where simulation_year in ({', '.join(str(int(y)) for y in source.years) or 'null'})"
    return _Select(rel, columns, where, _order(con, rel))


def source_rows_sql(con: duckdb.DuckDBPyConnection, name: str, source: ExportSource) -> str:
    """The SQL of the model `name`'s rows that `source` may hand out (its years only, in a stable order) —
    what an export writes, for other readers of a run's results (the notebook API)."""
    return _select(con, name, relation(con, name, source.database), source).sql()


def _order(con: duckdb.DuckDBPyConnection, rel: str) -> str:
    """A stable row order: the key columns the tables share, where present."""
    columns = {str(r[0]) for r in con.execute(f"select * from {rel} limit 0").description or []}
    keys = [c for c in ("scenario_id", "simulation_year", "employee_id", "event_type") if c in columns]
    return f" order by {', '.join(keys)}" if keys else ""


def _refuse_oversized(con: duckdb.DuckDBPyConnection, selects: dict[str, _Select], metrics_rows: int) -> None:
    counts = {name: _count(con, select) for name, select in selects.items()}
    counts[METRICS_TABLE] = metrics_rows
    too_big = {name: n for name, n in counts.items() if n + 1 > EXCEL_MAX_ROWS}
    if too_big:
        listed = ", ".join(f"{name} ({n:,} rows)" for name, n in too_big.items())
        raise ExportError(
            f"an Excel sheet holds at most {EXCEL_MAX_ROWS:,} rows with its header, and {listed} would not "
            "fit; export with --format csv or --format parquet instead (nothing was written)"
        )


def _refuse_unstorable_text(con: duckdb.DuckDBPyConnection, selects: dict[str, _Select]) -> None:
    """An Excel cell cannot hold most control characters (openpyxl raises mid-write): refuse such a table
    before anything is written, naming it and a row's value; CSV and Parquet keep the text."""
    for name, select in selects.items():
        columns = text_columns(select.columns)
        if not columns:
            continue
        test = " or ".join(f"regexp_matches({c}, {EXCEL_ILLEGAL_SQL})" for c in columns)
        row = con.execute(
            f"select {', '.join(columns)} from ({select.sql()}) where {test} limit 1"
        ).fetchone()
        if row is not None:
            example = next(str(v) for v in row if v is not None and EXCEL_ILLEGAL.search(str(v)))
            raise ExportError(
                f"{name} holds text with a control character an Excel cell cannot store (e.g. {example!r}); "
                "export with --format csv or --format parquet instead (nothing was written)"
            )


def _count(con: duckdb.DuckDBPyConnection, select: _Select) -> int:
    row = con.execute(f"select count(*) from ({select.sql()})").fetchone()
    return int(row[0]) if row else 0


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _copy_table(con: duckdb.DuckDBPyConnection, select: _Select, fmt: ExportFormat, path: Path) -> Path:
    """The table written to a temporary file beside `path` (returned); CSV text cells made safe."""
    if fmt == "csv":
        query, options = select.sql(csv_select_list(select.columns)), "(format csv, header true)"
    else:
        query, options = select.sql(), "(format parquet)"
    tmp = _temporary(path)
    try:
        con.execute(f"copy ({query}) to {_sql_path(tmp)} {options}")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _write_metrics(rows: Sequence[tuple[Any, ...]], fmt: ExportFormat, path: Path) -> Path:
    """The per-member metrics written to a temporary file beside `path` (returned)."""
    import pyarrow as pa

    columns: list[list[Any]] = [
        [csv_text(row[i]) if fmt == "csv" else row[i] for row in rows]
        for i in range(len(METRICS_CSV_COLUMNS))
    ]
    types = [pa.string(), pa.int64(), pa.int64(), pa.string(), pa.float64()]
    table = pa.table(
        {
            name: pa.array(values, type=t)
            for name, values, t in zip(METRICS_CSV_COLUMNS, columns, types, strict=True)
        }
    )
    return _write_arrow(table, fmt, path)


def _write_arrow(table: Any, fmt: ExportFormat, path: Path) -> Path:
    tmp = _temporary(path)
    try:
        if fmt == "csv":
            import pyarrow.csv as pa_csv

            pa_csv.write_csv(table, str(tmp))
        else:
            import pyarrow.parquet as pq

            pq.write_table(table, str(tmp))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _write_sheet_file(sheet: Sheet, fmt: ExportFormat, path: Path) -> Path:
    """A comparison sheet as a CSV or Parquet file, to a temporary file beside `path` (returned)."""
    import pyarrow as pa

    columns = {
        title: [csv_text(row[i]) if fmt == "csv" else row[i] for row in sheet.rows]
        for i, title in enumerate(sheet.header)
    }
    table = pa.table({title: pa.array(values) for title, values in columns.items()})
    return _write_arrow(table, fmt, path)


def _write_workbook(
    con: duckdb.DuckDBPyConnection,
    answer: Sequence[Sheet],
    selects: dict[str, _Select],
    metrics: Sequence[tuple[Any, ...]],
    path: Path,
    say: Callable[[str], None],
) -> Path:
    """The workbook written to a temporary file beside `path` (returned): the answer's sheets first (it
    opens on Summary), then the detail tables; every text cell a string cell."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    for answer_sheet in answer:
        say(f"{path.name}: sheet {answer_sheet.title} ({len(answer_sheet.rows):,} rows)")
        write_sheet(workbook, answer_sheet)
    for name, select in selects.items():
        say(f"{path.name}: sheet {name[:31]} ({_count(con, select):,} rows)")
        sheet = workbook.create_sheet(title=name[:31])
        sheet.freeze_panes = "A2"
        cursor = con.execute(select.sql())
        sheet.append([xlsx_text_cell(sheet, str(d[0])) for d in cursor.description or []])
        for row in _fetch(cursor):
            sheet.append([_cell(sheet, v) for v in row])
    if metrics:
        sheet = workbook.create_sheet(title=METRICS_TABLE)
        sheet.freeze_panes = "A2"
        sheet.append([xlsx_text_cell(sheet, c) for c in METRICS_CSV_COLUMNS])
        for metric_row in metrics:
            sheet.append([_cell(sheet, v) for v in metric_row])
    tmp = _temporary(path)
    try:
        workbook.save(str(tmp))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _fetch(cursor: duckdb.DuckDBPyConnection) -> Iterator[tuple[Any, ...]]:
    while batch := cursor.fetchmany(_FETCH_ROWS):
        yield from batch


def _cell(sheet: Any, value: Any) -> Any:
    """Excel takes numbers (Decimal too), booleans, dates and times as they are; text, and anything else as
    text, goes in a string cell (`xlsx_text_cell`), so no text is ever stored as a formula."""
    from decimal import Decimal

    if value is None or isinstance(value, int | float | bool | dt.date | dt.datetime | dt.time | Decimal):
        return value
    return xlsx_text_cell(sheet, value if isinstance(value, str) else str(value))


def _temporary(path: Path) -> Path:
    """A new file beside `path` with the permissions an ordinary new file gets (mkstemp's are 0600, which
    would hide an export from the colleagues it is made for)."""
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
    finally:
        os.close(fd)
    return Path(name)


def _umask() -> int:
    """The process's umask, read without changing it (os.umask sets it, racing other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022
