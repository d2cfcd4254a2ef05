"""Whose results a database holds: which years an export of a run or a sweep directory may hand out.

The database's year-status rows (`planalign.simulation.state`) name the run that completed each year; a
run directory's summary.json and a sweep's run record name the run. `export_source` pairs them:

- a run's years are those whose row names its run id, plus the years below them it built on (written by an
  earlier run under the same configuration: a resume, a later `--start-year`) — its results are that whole
  simulation; a successful run that built nothing (a resume with every year complete) keeps the years
  complete when it finished;
- refused, naming the run whose data the database holds or the incomplete years: a run that stopped before
  it saved a year (an interrupted or failed re-run leaves the database as it was), a run whose years a later
  run replaced or a stage run made incomplete since, a stage run itself (it completes no year), a sweep whose
  years another run wrote;
- rows of other years (a later run's, a year a stage run rebuilt in place) are left out, and `notes` says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from planalign.errors import PlanalignUsageError
from planalign.scenarios.comparison import check_database_holds_sweep
from planalign.scenarios.database import has_column, read_only, relation, year_records, years_with_rows
from planalign.scenarios.sweep import SWEEP_FILE, load_sweep
from planalign.scenarios.sweep_directory import kept_summaries
from planalign.simulation.run_directory import RunFileError, read_summary, run_kind, summary_path
from planalign.simulation.run_history import run_dirs_newest_first
from planalign.simulation.state import CompletedYear
from planalign.simulation.year_plan import span

RUN_TABLES: tuple[str, ...] = ("fct_workforce_snapshot", "fct_yearly_events", "rpt_yearly_summary")
SWEEP_TABLES: tuple[str, ...] = (*RUN_TABLES, "dim_scenarios")


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
    if not summary_path(directory).is_file():
        raise ExportError(
            f"{directory} is neither a run directory (summary.json) nor a sweep directory ({SWEEP_FILE}); "
            "give one of the directories under runs/"
        )
    try:
        summary = read_summary(directory)
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
    except (RunFileError, ValueError, KeyError, TypeError) as exc:
        raise ExportError(f"{summary_path(directory)} cannot be read as a run summary: {exc}") from None
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


_RESUME = "`planalign simulate --resume` completes the simulation"


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
    return f"run {run_id} ({sibling})" if summary_path(sibling).is_file() else f"run {run_id}"


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
    if kept_summaries(sweep):
        raise ExportError(
            f"the sweep in {directory} kept only each member's yearly figures (`--keep summaries`), not the "
            "member tables an export (or a notebook's load_sweep) hands out; its comparison is in "
            f"{directory / 'comparison.json'} and metrics.csv. To export the tables, run the sweep again "
            f"with --keep tables (the default): `planalign scenarios run {sweep.get('scenarios_file')}`"
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
    for run_dir in run_dirs_newest_first(directory / "simulation"):
        path = summary_path(run_dir)
        try:
            ids.add(str(read_summary(run_dir)["run_id"]))
        except (RunFileError, KeyError, TypeError) as exc:
            raise ExportError(f"{path} cannot be read as the sweep's run record: {exc}") from None
    if len(ids) != 1:
        found = "no run record" if not ids else f"{len(ids)} run records ({', '.join(sorted(ids))})"
        raise ExportError(
            f"the sweep in {directory} has {found} under simulation/, so which run wrote its database "
            "cannot be checked; run the sweep again"
        )
    return ids.pop()
