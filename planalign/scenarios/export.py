"""Exporting a run's or a sweep's results for people who continue in a spreadsheet or a notebook.

`export(source, fmt, out)` writes the tables of interest of the database a run directory (summary.json)
or a sweep directory (sweep.json) names: the workforce snapshot, the events and the yearly summary; for a
sweep also `dim_scenarios` and `scenario_metrics` (metrics.csv's per-member values). CSV and Parquet give
one file per table; Excel one workbook with a sheet per table, refused — before anything is written — when
a table has more rows than a sheet holds (1,048,576 with the header), naming CSV and Parquet instead.

What is exported is exactly what the run wrote (`export_source`): the database's year-status rows name the
run that completed each year, and a directory's export holds only its run's years. A run that stopped
before it saved a year (an interrupted or failed re-run leaves the database as it was), a run whose years
were replaced or made incomplete since (by a later run, a stage run), a stage run (it completes no year)
and a sweep whose database another run wrote are refused with a usage error naming the run whose data the
database holds, or the years that are incomplete. Rows of other years in the database — years a later run
added, a year a stage run rebuilt in place — are left out, and `notes` says so. A run that only added
years (a resume, `--start-year` after complete years) exports the years it built on too: their rows were
written by an earlier run with the same configuration, and the run's results are that whole simulation.

Text cells are written so no spreadsheet runs them (`planalign.scenarios.spreadsheet`). Every file is
written to a temporary name first and all are renamed only when every one is complete, so a failure
(a full disk) leaves no file and no half file; the output directory is checked before anything is read.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
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
from planalign.scenarios.database import (
    has_column,
    read_only,
    relation,
    year_records,
    years_with_rows,
)
from planalign.scenarios.spreadsheet import csv_select_list, csv_text, xlsx_text_cell
from planalign.scenarios.sweep import SWEEP_FILE, load_sweep
from planalign.simulation.preflight import unwritable_reason
from planalign.simulation.run_directory import run_kind
from planalign.simulation.state import CompletedYear
from planalign.simulation.year_plan import span

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
    database that no longer holds the run, an output path that cannot be written)."""


@dataclass(frozen=True)
class ExportSource:
    kind: Literal["run", "sweep"]
    directory: Path
    database: Path
    tables: tuple[str, ...]
    years: tuple[int, ...]
    """The simulated years exported; rows of any other year in the database are left out."""
    notes: tuple[str, ...] = ()
    """What to tell the user about the export: an interrupted run's missing years, years kept from an
    earlier run, years of a later run or incomplete years left out."""


def export_source(directory: Path) -> ExportSource:
    """What `directory` (a run or a sweep directory) exports, checked against its database."""
    if (directory / SWEEP_FILE).is_file():
        return _sweep_source(directory)
    summary_path = directory / "summary.json"
    if not summary_path.is_file():
        raise ExportError(
            f"{directory} is neither a run directory (summary.json) nor a sweep directory ({SWEEP_FILE}); "
            "give one of the directories under runs/"
        )
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        database = Path(str(summary["database_path"]))
        run = _RunSummary(
            run_id=str(summary["run_id"]),
            status=str(summary["status"]),
            kind=run_kind(summary),
            stage=summary.get("stage"),
            first=int(summary["start_year"]),
            last=int(summary["end_year"]),
            completed=tuple(int(y) for y in summary.get("completed_years") or ()),
            results_digest=str(summary.get("results_digest") or ""),
            finished=dt.datetime.fromisoformat(str(summary["completed_at"])),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ExportError(f"{summary_path} cannot be read as a run summary: {exc}") from None
    with read_only(database) as con:
        records = year_records(con)
        present: set[int] = set()
        for name in RUN_TABLES:
            if has_column(con, name, "simulation_year"):
                present |= years_with_rows(con, relation(con, name, database))
    years, notes = _run_years(directory, database, run, records, present)
    return ExportSource("run", directory, database, RUN_TABLES, years, notes)


@dataclass(frozen=True)
class _RunSummary:
    """What export needs of a run's summary.json."""

    run_id: str
    status: str
    kind: str | None
    stage: str | None
    first: int
    last: int
    completed: tuple[int, ...]
    """The years complete in the database when the run ended (its own and any it built on)."""
    results_digest: str
    finished: dt.datetime


_RESUME = "`planalign simulate --resume` completes them"


def _run_years(
    directory: Path,
    database: Path,
    run: _RunSummary,
    records: Mapping[int, CompletedYear],
    present: set[int],
) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """The years of `run` the database still holds and notes about the rest, or `ExportError` when the
    database does not hold what the run wrote.

    A year is the run's own when the year-status row names its run id. A year below its first own year
    written by another run under the same configuration is one the run built on (kept). A successful run
    that built nothing (a resume with every year complete) keeps every year complete when it finished."""
    where = f"the database {database}"
    incomplete = sorted(present - records.keys())
    if run.kind == "stage":
        now = (
            f"{where} holds {span(incomplete)} incomplete (complete: {span(list(records))}); {_RESUME}, then "
            "export that run's directory"
            if incomplete
            else f"{where} holds no incomplete year now (complete: {span(list(records))}); export the "
            "directory of the run that completed them"
        )
        raise ExportError(
            f"{directory} is a stage run (--stage {run.stage or '?'} --year {run.first}): it rebuilt "
            f"{run.first} only up to that stage and completes no year, so it has nothing to export. "
            f"{now[:1].upper()}{now[1:]}."
        )
    own = sorted(y for y, r in records.items() if r.run_id == run.run_id)
    if own:
        kept = sorted(y for y, r in records.items() if y < own[0] and r.run_id != run.run_id)
    elif run.status == "success":
        kept = sorted(y for y in run.completed if (r := records.get(y)) and _kept(r, run))
    else:
        raise ExportError(
            f"run {run.run_id} was {run.status} before it saved any year, so {where} was left as it was: "
            f"it holds {_whose(sorted(records), records, directory)}, not this run's results. Nothing of "
            "this run is there to export; export the directory of the run that wrote them, or run this "
            "configuration again."
        )
    mixed = [y for y in kept if run.results_digest and records[y].config_hash != run.results_digest]
    expected = set(run.completed) | (
        set(range(run.first, run.last + 1)) if run.status == "success" else set()
    )
    exported = sorted({*own, *kept})
    lost = sorted(expected - set(exported))
    if lost or mixed:
        raise ExportError(_lost(directory, where, run.run_id, lost, mixed, records))
    if not exported:
        raise ExportError(f"{where} holds no complete simulated year of run {run.run_id}; nothing to export")
    notes: list[str] = []
    if run.status != "success":
        missing = [y for y in range(run.first, run.last + 1) if y not in exported]
        planned = span(range(run.first, run.last + 1))
        notes.append(
            f"run {run.run_id} {run.status}: it completed {span(own)} of {planned}"
            + (f"; {span(missing)} {_were(missing)} not simulated" if missing else "")
            + f" — exporting {span(exported)}"
        )
    if kept:
        notes.append(
            f"this run kept {_whose(kept, records, directory)} (same configuration) and built on them, so "
            "they are exported with it"
        )
    later = sorted(y for y in records if y not in exported)
    if later:
        notes.append(f"{where} also holds {_whose(later, records, directory)}; not exported with this run")
    if incomplete:
        notes.append(
            f"{where} also has rows of {span(incomplete)}, which {_were(incomplete)} incomplete (a stage run "
            f"rebuilt them in place; {_RESUME}); not exported"
        )
    return tuple(exported), tuple(notes)


def _kept(record: CompletedYear, run: _RunSummary) -> bool:
    """Whether a year another run completed is one `run` found complete and kept: simulated under the same
    configuration, and complete before `run` finished."""
    if run.results_digest and record.config_hash != run.results_digest:
        return False
    try:
        return dt.datetime.fromisoformat(record.completed_at) <= run.finished
    except ValueError:
        return False


def _lost(
    directory: Path,
    where: str,
    run_id: str,
    lost: Sequence[int],
    mixed: Sequence[int],
    records: Mapping[int, CompletedYear],
) -> str:
    replaced = [y for y in lost if y in records]
    gone = [y for y in lost if y not in records]
    parts: list[str] = []
    if replaced:
        parts.append(
            f"{span(replaced)} {_were(replaced)} written since by {_runs(replaced, records, directory)}"
        )
    if gone:
        parts.append(
            f"{span(gone)} {'are' if len(gone) > 1 else 'is'} incomplete now (a stage run rebuilt "
            f"{gone[0]} in place since, or the years were discarded); {_RESUME}"
        )
    if mixed:
        parts.append(
            f"{span(mixed)}, below this run's years, {_were(mixed)} simulated with another configuration by "
            f"{_runs(mixed, records, directory)}"
        )
    return (
        f"{where} no longer holds the results of run {run_id}: {'; '.join(parts)}. Export the latest run's "
        "directory instead, or run this configuration again."
    )


def _were(years: Sequence[int]) -> str:
    return "were" if len(years) > 1 else "was"


def _by_run(years: Sequence[int], records: Mapping[int, CompletedYear]) -> dict[str, list[int]]:
    by_run: dict[str, list[int]] = {}
    for year in years:
        by_run.setdefault(records[year].run_id, []).append(year)
    return by_run


def _named(run_id: str, directory: Path) -> str:
    """`run ID`, with its directory when it sits beside `directory` (so the user can export that one)."""
    sibling = directory.parent / run_id
    return f"run {run_id} ({sibling})" if (sibling / "summary.json").is_file() else f"run {run_id}"


def _whose(years: Sequence[int], records: Mapping[int, CompletedYear], directory: Path) -> str:
    """`2025–2026 of run A (its directory) and 2027 of run B`; `no complete year` for none."""
    if not years:
        return "no complete year"
    return " and ".join(f"{span(ys)} of {_named(r, directory)}" for r, ys in _by_run(years, records).items())


def _runs(years: Sequence[int], records: Mapping[int, CompletedYear], directory: Path) -> str:
    """`run A (its directory)` when one run wrote the years, else each run with its years."""
    by_run = _by_run(years, records)
    if len(by_run) == 1:
        return _named(next(iter(by_run)), directory)
    return ", ".join(f"{_named(r, directory)} ({span(ys)})" for r, ys in by_run.items())


def _sweep_source(directory: Path) -> ExportSource:
    """A complete sweep whose database still holds every one of its years as its own run wrote them."""
    sweep = load_sweep(directory)
    if sweep.get("status") != "complete":
        raise ExportError(
            f"the sweep in {directory} is {sweep.get('status')!r}, not complete; run it again before "
            "exporting it"
        )
    database = Path(str(sweep["database"]))
    check_database_holds_sweep(database, sweep)
    run_id = _sweep_run_id(directory)
    years = tuple(int(y) for y in sweep["years"])
    with read_only(database) as con:
        records = year_records(con)
    foreign = [y for y in years if y in records and records[y].run_id != run_id]
    if foreign:
        writers = sorted({records[y].run_id for y in foreign})
        raise ExportError(
            f"the sweep database {database} holds {span(foreign)} written by run {', '.join(writers)}, not "
            f"by this sweep's run {run_id}: another sweep or simulation has written it since. Run the sweep "
            f"again: `planalign scenarios run {sweep.get('scenarios_file')}`."
        )
    return ExportSource("sweep", directory, database, SWEEP_TABLES, years)


def _sweep_run_id(directory: Path) -> str:
    """The id of the simulation run a sweep made (its run record `simulation/<run id>/summary.json`)."""
    ids: set[str] = set()
    for path in sorted((directory / "simulation").glob("*/summary.json")):
        try:
            ids.add(str(json.loads(path.read_text(encoding="utf-8"))["run_id"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ExportError(f"{path} cannot be read as the sweep's run record: {exc}") from None
    if len(ids) != 1:
        found = "no run record" if not ids else f"{len(ids)} run records ({', '.join(sorted(ids))})"
        raise ExportError(
            f"the sweep in {directory} has {found} under simulation/, so which run wrote its database "
            "cannot be checked; run the sweep again"
        )
    return ids.pop()


def export(source: ExportSource, fmt: ExportFormat, out: Path) -> list[Path]:
    """Write the source's tables into `out` (created if need be) in `fmt`; returns the files written.

    `out` may be a symbolic link to a directory (the files go where it points); a file, a link to a file
    or a link to nothing is refused. A file of the export's name inside `out` is replaced, never written
    through (a link there is replaced by the file)."""
    _check_out(out)
    names = [*source.tables, *([METRICS_TABLE] if source.kind == "sweep" else [])]
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
    metrics = (
        [tuple(r) for r in metrics_rows(read_member_metrics(source.database)) if int(r[2]) in source.years]
        if source.kind == "sweep"
        else []
    )
    with read_only(source.database) as con:
        relations = {name: relation(con, name, source.database) for name in source.tables}
        selects = {name: _select(con, name, rel, source) for name, rel in relations.items()}
        if fmt == "xlsx":
            _refuse_oversized(con, selects, len(metrics))
        staged: list[tuple[Path, Path]] = []
        try:
            out.mkdir(parents=True, exist_ok=True)
            if fmt == "xlsx":
                staged.append((_write_workbook(con, selects, metrics, targets[0]), targets[0]))
            else:
                for select, target in zip(selects.values(), targets, strict=False):
                    staged.append((_copy_table(con, select, fmt, target), target))
                if source.kind == "sweep":
                    staged.append((_write_metrics(metrics, fmt, targets[-1]), targets[-1]))
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


def _write_workbook(
    con: duckdb.DuckDBPyConnection,
    selects: dict[str, _Select],
    metrics: Sequence[tuple[Any, ...]],
    path: Path,
) -> Path:
    """The workbook written to a temporary file beside `path` (returned); every text cell a string cell."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    for name, select in selects.items():
        sheet = workbook.create_sheet(title=name[:31])
        cursor = con.execute(select.sql())
        sheet.append([xlsx_text_cell(sheet, str(d[0])) for d in cursor.description or []])
        for row in _fetch(cursor):
            sheet.append([_cell(sheet, v) for v in row])
    if metrics:
        sheet = workbook.create_sheet(title=METRICS_TABLE)
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
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    return Path(name)
