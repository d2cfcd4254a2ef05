"""What earlier runs in a runs directory tell a new one: the one reader of the run directories' history.

`recorded_durations(runs_dir)` — the per-model times a run's engine plans with, and the views (`planalign
plan`, `info`, `validate`, the specification's API) show the same plan with — come from the newest run
directory that simulated whole years (`run_directory.run_kind` "years"), never from a one-stage debug run
(`simulate --stage`), whose few models' times, often of a cold first build, would re-weight the critical path
of every stage they miss. Run directories are named by their UTC start time, so name order is start order.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from planalign.errors import RunDirectoryError
from planalign.log import get_logger
from planalign.simulation.run_directory import SUMMARY_FILE, read_summary, run_kind

ENGINE_RUNS_FILE = "engine_runs.json"

log = get_logger("planalign.simulation.run_history")


def run_dirs_newest_first(runs_dir: Path) -> Iterator[Path]:
    """The run directories under `runs_dir` (those holding a summary.json), newest first."""
    if not runs_dir.is_dir():
        return
    for path in sorted((p for p in runs_dir.iterdir() if p.is_dir()), reverse=True):
        if (path / SUMMARY_FILE).exists():
            yield path


def latest_years_run(runs_dir: Path) -> Path | None:
    """The newest run directory of a whole-years run (any outcome) with its engine results, or None. A
    summary that cannot be read is skipped for the one before it, and said so in the log."""
    for path in run_dirs_newest_first(runs_dir):
        try:
            kind = run_kind(read_summary(path))
        except RunDirectoryError as exc:
            log.warning("run directory unreadable; skipped", path=str(path), error=str(exc))
            continue
        if kind == "years" and (path / ENGINE_RUNS_FILE).is_file():
            return path
    return None


def recorded_durations(runs_dir: Path) -> Mapping[str, float] | None:
    """The per-model seconds of the newest whole-years run (`engine.results.load_durations`), None before
    any: what every plan of this runs directory is weighted by (see the module docstring)."""
    from planalign.engine.results import load_durations

    latest = latest_years_run(runs_dir)
    return load_durations(latest / ENGINE_RUNS_FILE) if latest is not None else None
