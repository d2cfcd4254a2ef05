"""What one directory of a runs directory is, as `planalign runs` lists it (`describe` → `RunEntry`). The
listing itself and the rules that pick a run from it are `planalign.simulation.run_history`'s, which every
reader goes through; the CLI only formats (`planalign.cli.runs`, `cli.runs_table`).

A runs directory collects whole simulations, one-stage debug runs (`simulate --stage S --year Y`), failed
and interrupted runs, and sweeps (`runs/<stamp>-sweep-<name>/sweep.json`, written by `planalign scenarios
run`). Reporting "the latest directory" picks whatever ran last, often a debug run; an entry says per
directory its kind (full run, one stage, sweep), status (complete, replaced, failed, running, interrupted,
incomplete), years, configuration digest, start time and database.

A single run writes its directory when it ends (summary.json last), so a directory without summary.json
is one that stopped while being written or was copied in part: "incomplete" (a run killed with SIGKILL
leaves no directory at all). Only a sweep records itself while it runs (sweep.json says "running"); one
killed with SIGKILL cannot say otherwise, so a "running" sweep whose process is gone (the pid and host
sweep.json records; for an older sweep.json, the database's working-copy lock is free) is listed as
"interrupted".

What a directory says about itself is checked against its database: a complete run or sweep whose years
the database now holds from another run (a later run replaced them) or no longer holds is "replaced" — its
directory still describes it (`planalign report` reads only the directory), but its tables are gone. A
database that is missing or held by another program is said so in the detail, and not judged.

A run directory may be copied, edited or planted, so the listing trusts none of it: a file that cannot be
read makes its directory a row saying why (every other run still lists), a field of the wrong type is shown
as unknown. Names and fields are returned as found; whoever prints them makes them safe for a terminal
(`planalign.cli._common.printable`).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import socket
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from planalign.log import shown_path
from planalign.simulation.run_directory import (
    ENGINE_RUNS_FILE,
    SUMMARY_FILE,
    RunFileError,
    read_json_object,
    run_kind,
)

RunListKind = Literal["full run", "one stage", "sweep", "unknown"]
RunListStatus = Literal["complete", "replaced", "failed", "running", "interrupted", "incomplete"]

#: A sweep directory's record (`planalign.scenarios.sweep_directory` writes it).
SWEEP_FILE = "sweep.json"


@dataclass(frozen=True)
class RunEntry:
    """One directory of the runs directory, as the listing shows it. `detail` says what a status alone does
    not: the stage of a stage run, an interruption, a file that cannot be read."""

    path: Path
    kind: RunListKind
    status: RunListStatus
    years: str
    config_digest: str
    started_at: str
    database: str
    detail: str = ""
    run_name: str = ""
    """The name given with `simulate --name` (labels.json), or a sweep's title; empty when none."""

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def is_complete_full_run(self) -> bool:
        """A full run that finished; "replaced" ones too: the report reads only their directory."""
        return self.kind == "full run" and self.status in ("complete", "replaced")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "path": str(self.path), "name": self.name}


def describe(path: Path) -> RunEntry | None:
    """The entry of one directory, or None when it is neither a run nor a sweep directory. A sweep.json or
    summary.json that exists but is no readable file (a folder, no permission) is read, so that the reader
    says why."""
    try:
        has_sweep = (path / SWEEP_FILE).exists()
        has_summary = not has_sweep and (path / SUMMARY_FILE).exists()
    except OSError as exc:  # a directory that cannot be searched
        return RunEntry(
            path, "unknown", "incomplete", "?", _digest_from_name(path), "", "", f"cannot be read: {exc}"
        )
    if has_sweep:
        return _settled(_sweep_entry(path), path)
    if has_summary:
        return _settled(_run_entry(path), path)
    if (path / "config.json").is_file() or (path / ENGINE_RUNS_FILE).is_file():
        return RunEntry(
            path, "unknown", "incomplete", "?", _digest_from_name(path), "", "", "no summary.json"
        )
    return None


def _settled(entry: RunEntry, path: Path) -> RunEntry:
    """The status a directory's own file cannot know (see the module docstring): "interrupted" for a
    running sweep whose process is gone, "replaced" for a complete run whose database holds others' years."""
    if entry.kind == "sweep" and entry.status == "running":
        sweep = _read(path / SWEEP_FILE)
        if isinstance(sweep, Mapping) and not _sweep_alive(sweep, entry.database):
            gone = "its process is gone (killed?); the database holds only complete years"
            return dataclasses.replace(entry, status="interrupted", detail=_joined(entry.detail, gone))
    if entry.status == "complete" and entry.database:
        own = _own_years(entry, path)
        if own is not None:
            status, note = _database_check(Path(entry.database), *own)
            if note:
                return dataclasses.replace(entry, status=status, detail=_joined(entry.detail, note))
    return entry


def _joined(detail: str, note: str) -> str:
    return f"{detail}; {note}" if detail else note


def _sweep_alive(sweep: Mapping[str, Any], database: str) -> bool:
    """Whether the process that runs a "running" sweep still runs: its recorded pid, on this host; else
    (an older sweep.json, another host) whether a run holds the database's working-copy lock. When neither
    can be asked (a nonsense pid or path), it is taken as running: only evidence says otherwise."""
    from planalign.simulation.working_copy import lock_is_held

    pid = sweep.get("pid")
    try:
        if (
            isinstance(pid, int)
            and not isinstance(pid, bool)
            and pid > 0
            and sweep.get("host") == socket.gethostname()
        ):
            os.kill(pid, 0)
            return True
        return lock_is_held(Path(database)) if database else True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    except (OSError, ValueError, OverflowError):
        return True


def _own_years(entry: RunEntry, path: Path) -> tuple[str, list[int]] | None:
    """(run id, years it wrote) of a complete full run or sweep, or None when the files do not say."""
    if entry.kind == "full run":
        summary = _read(path / SUMMARY_FILE)
        if isinstance(summary, str):
            return None
        run_id, years = summary.get("run_id"), summary.get("years")
    elif entry.kind == "sweep":
        sweep = _read(path / SWEEP_FILE)
        runs = sorted((path / "simulation").glob(f"*/{SUMMARY_FILE}"))
        summary = _read(runs[-1]) if runs else "no run"
        if isinstance(sweep, str) or isinstance(summary, str):
            return None
        run_id, years = summary.get("run_id"), sweep.get("years")
    else:
        return None
    if not isinstance(run_id, str) or not isinstance(years, Mapping | list):
        return None
    try:
        return run_id, sorted({int(y) for y in years})
    except (TypeError, ValueError):
        return None


def _database_check(database: Path, run_id: str, years: list[int]) -> tuple[RunListStatus, str]:
    """("replaced", why) when the database no longer holds every year `run_id` wrote; ("complete", "") when
    it does; ("complete", a note) when it cannot be read."""
    import duckdb

    from planalign.simulation.year_plan import span

    try:
        st = database.stat()
        held = _year_run_ids(str(database), st.st_mtime_ns, st.st_size)
    except FileNotFoundError:
        return "complete", f"database {shown_path(database)} not found (moved or deleted)"
    except (OSError, ValueError, duckdb.Error):
        return "complete", "database in use or unreadable; not checked"
    lost = [y for y in years if held.get(y) != run_id]
    if not lost:
        return "complete", ""
    others = sorted({held[y] for y in lost if y in held})
    now = f"now from run {', '.join(others)}" if others else "no longer complete there"
    return "replaced", f"the database no longer holds its {span(lost)} ({now})"


@functools.lru_cache(maxsize=64)
def _year_run_ids(database: str, mtime_ns: int, size: int) -> dict[int, str]:
    """`year_run_ids`, read once per version of the file (many runs share one database)."""
    from planalign.simulation.state import year_run_ids

    return year_run_ids(Path(database))


def _read(path: Path) -> Mapping[str, Any] | str:
    """The JSON object in `path`, or the reason it cannot be read (`read_json_object`'s, shortened)."""
    try:
        return read_json_object(path)
    except RunFileError as exc:
        return f"{path.name} unreadable: {exc.problem}"[:200]


def _digest_from_name(path: Path) -> str:
    """Run ids end in `-<config digest>` (`RunRecorder`)."""
    _, sep, digest = path.name.rpartition("-")
    return digest if sep and len(digest) == 8 else ""


def _text(value: Any) -> str:
    """A text field as shown; anything else (a number, a list, an object) as unknown."""
    return value[:200] if isinstance(value, str) else ""


def _is_year(value: Any) -> bool:
    return type(value) is int and 1000 <= value <= 9999


def _span(first: Any, last: Any) -> str:
    if not (_is_year(first) and _is_year(last)):
        return "?"
    return str(first) if first == last else f"{first}-{last}"


def _run_entry(path: Path) -> RunEntry:
    summary = _read(path / SUMMARY_FILE)
    if isinstance(summary, str):
        return RunEntry(path, "unknown", "incomplete", "?", _digest_from_name(path), "", "", summary)
    raw_status = summary.get("status")
    status: RunListStatus = "complete" if raw_status == "success" else "failed"
    detail = "" if raw_status in ("success", "failed") else f"status {raw_status}"
    kind_value = run_kind(summary)
    kind: RunListKind = (
        "full run" if kind_value == "years" else "one stage" if kind_value == "stage" else "unknown"
    )
    if kind == "one stage":
        stage = _text(summary.get("stage"))
        year = _span(summary.get("start_year"), summary.get("start_year"))
        detail = f"{year} up to {stage}" if stage else f"one stage of {year}"
    if status == "failed" and summary.get("error"):
        detail = (detail + "; " if detail else "") + str(summary["error"]).splitlines()[0][:120]
    return RunEntry(
        path=path,
        kind=kind,
        status=status,
        years=_span(summary.get("start_year"), summary.get("end_year")),
        config_digest=_text(summary.get("config_digest")) or _digest_from_name(path),
        started_at=_text(summary.get("started_at")),
        database=_text(summary.get("database_path")),
        detail=detail,
        **_run_name(path),
    )


def _run_name(path: Path) -> dict[str, str]:
    """The run's name from its labels.json, or a note in `detail` saying why it cannot be read."""
    from planalign.simulation.run_labels import LabelError, read_labels

    try:
        return {"run_name": read_labels(path).name or ""}
    except LabelError as exc:
        return {"run_name": f"(unreadable: {exc})"}


def _sweep_entry(path: Path) -> RunEntry:
    sweep = _read(path / SWEEP_FILE)
    if isinstance(sweep, str):
        return RunEntry(path, "sweep", "incomplete", "?", "", "", "", sweep)
    raw_status = sweep.get("status")
    status: RunListStatus = raw_status if raw_status in ("complete", "failed", "running") else "incomplete"
    years = sweep.get("years")
    scenarios = sweep.get("scenarios")
    seeds = sweep.get("seeds")
    detail = ""
    if isinstance(scenarios, list) and isinstance(seeds, list):
        detail = f"{len(scenarios)} scenario(s) x {len(seeds)} seed(s)"
    if isinstance(years, list) and years and all(_is_year(y) for y in years):
        span = _span(min(years), max(years))
    else:
        span = "?"
        detail = (detail + "; " if detail else "") + f"{SWEEP_FILE}: years is not a list of years"
    if status == "complete" and not (path / "comparison.json").is_file():
        detail = (detail + "; " if detail else "") + "no comparison.json"
    return RunEntry(
        path=path,
        kind="sweep",
        status=status,
        years=span,
        config_digest=_text(sweep.get("config_digest")),
        started_at=_text(sweep.get("started_at")),
        database=_text(sweep.get("database")),
        detail=detail,
        run_name=_text(sweep.get("title")),
    )
