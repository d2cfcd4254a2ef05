"""The readers' side of the run directories: every command and library function that reads the runs
directory goes through here (or, for one directory's files, through `run_directory.read_summary` /
`read_json_object`); none parses a run file itself (tests/test_architecture.py checks).

Two rules pick a run, each for its own question:

- `latest_complete_run` / `newest_readable_run` — which run `planalign report` (and `make report`) takes
  when it is not told: the newest complete *full* run in `list_runs` (what `planalign runs` shows,
  `run_listing.describe` per directory), never a one-stage debug run, a failed run or a sweep.
- `latest_years_run` — what a new run learns from: the newest run directory that simulated whole years
  (`run_directory.run_kind` "years", any outcome). Its per-model times
  (`recorded_durations`) weight the plans of the run's engine and of the views (`planalign plan`, `info`,
  `validate`, the specification's API); its per-step times (`recorded_step_durations`) are the progress
  display's ETA. Never a one-stage debug run (`simulate --stage`), whose few models' times, often of a cold
  first build, would re-weight the critical path of every stage they miss.

Run directories are named by their UTC start time, so name order is start order. A summary that cannot be
read is skipped for the one before it, and said so in the log (the listing shows it as a row saying why).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean

from planalign.errors import RunDirectoryError
from planalign.log import get_logger
from planalign.simulation.run_directory import ENGINE_RUNS_FILE, SUMMARY_FILE, read_summary, run_kind
from planalign.simulation.run_listing import RunEntry, describe

log = get_logger("planalign.simulation.run_history")


def list_runs(runs_dir: Path) -> list[RunEntry]:
    """Every run and sweep directory directly under `runs_dir`, oldest first (names start with the UTC start
    time, so name order is start order)."""
    if not runs_dir.is_dir():
        return []
    entries = (describe(p) for p in sorted(runs_dir.iterdir()) if p.is_dir())
    return [e for e in entries if e is not None]


def latest_complete_run(runs_dir: Path) -> RunEntry:
    """The newest complete full run under `runs_dir`; `RunDirectoryError` saying what is there instead."""
    entries = list_runs(runs_dir)
    for entry in reversed(entries):
        if entry.is_complete_full_run:
            return entry
    if not entries:
        raise RunDirectoryError(
            f"no run directories under {runs_dir}; run `planalign simulate` first, or give a run directory"
        )
    newest = entries[-1]
    raise RunDirectoryError(
        f"no complete full run under {runs_dir} (the newest, {newest.name}, is a {newest.kind}, "
        f"{newest.status}); run `planalign simulate`, or give the run directory to report on "
        "(`planalign runs` lists them)"
    )


def newest_readable_run(
    runs_dir: Path,
    readable: Callable[[Path], object],
    *,
    on_skip: Callable[[RunEntry, RunDirectoryError], None] | None = None,
) -> RunEntry:
    """The newest complete full run under `runs_dir` (the `latest_complete_run` rule) that `readable`
    accepts — the report passes its validating reader, `report.model.load_run`, which raises
    `RunDirectoryError` for a directory it cannot read; each newer one it refuses goes to `on_skip` with the
    reason. `RunDirectoryError` when there is none, saying what is there instead."""
    skipped: list[str] = []
    for entry in reversed(list_runs(runs_dir)):
        if not entry.is_complete_full_run:
            continue
        try:
            readable(entry.path)
        except RunDirectoryError as exc:
            skipped.append(entry.name)
            if on_skip is not None:
                on_skip(entry, exc)
            continue
        return entry
    if not skipped:
        return latest_complete_run(runs_dir)  # raises, saying what is there instead
    raise RunDirectoryError(
        f"no complete full run under {runs_dir} can be read ({len(skipped)} skipped: "
        f"{', '.join(skipped[:3])}{' …' if len(skipped) > 3 else ''}); run `planalign simulate`, or restore "
        "the run directory"
    )


def run_dirs_newest_first(runs_dir: Path) -> Iterator[Path]:
    """The run directories under `runs_dir` (those holding a summary.json), newest first."""
    if not runs_dir.is_dir():
        return
    for path in sorted((p for p in runs_dir.iterdir() if p.is_dir()), reverse=True):
        if (path / SUMMARY_FILE).exists():
            yield path


def latest_years_run(runs_dir: Path) -> Path | None:
    """The newest run directory of a whole-years run (any outcome), or None. A summary that cannot be read
    is skipped for the one before it, and said so in the log."""
    for path in run_dirs_newest_first(runs_dir):
        try:
            kind = run_kind(read_summary(path))
        except RunDirectoryError as exc:
            log.warning("run directory unreadable; skipped", path=str(path), error=str(exc))
            continue
        if kind == "years":
            return path
    return None


def recorded_durations(runs_dir: Path) -> Mapping[str, float] | None:
    """The per-model seconds of the newest whole-years run (`engine.results.load_durations`), None before
    any: what every plan of this runs directory is weighted by (see the module docstring)."""
    from planalign.engine.results import load_durations

    latest = latest_years_run(runs_dir)
    if latest is None or not (latest / ENGINE_RUNS_FILE).is_file():  # every run writes it; a copy may not
        return None
    return load_durations(latest / ENGINE_RUNS_FILE)  # {} when unreadable, with a warning


@dataclass(frozen=True)
class StepDurations:
    """Expected seconds per step of a simulation (summary.json's stage table): `setup` for the
    once-per-simulation stages, `year` for one year's stages and tests (mean over the years measured)."""

    setup: dict[str, float] = field(default_factory=dict)
    year: dict[str, float] = field(default_factory=dict)


def recorded_step_durations(runs_dir: Path) -> StepDurations:
    """The step durations of the newest whole-years run (`latest_years_run`), empty before any or when its
    stage table cannot be read (said in the log): what the progress display's ETA starts from."""
    latest = latest_years_run(runs_dir)
    if latest is None:
        return StepDurations()
    setup: dict[str, list[float]] = {}
    year: dict[str, list[float]] = {}
    try:
        for row in read_summary(latest).get("stages") or []:
            into = setup if row.get("year") is None else year
            into.setdefault(str(row["stage"]), []).append(float(row["wall_time_s"]))
    except (RunDirectoryError, ValueError, TypeError, KeyError, AttributeError) as exc:
        log.warning("eta_history_unreadable", path=str(latest), error=f"{type(exc).__name__}: {exc}")
        return StepDurations()
    return StepDurations(
        setup={k: fmean(v) for k, v in setup.items()}, year={k: fmean(v) for k, v in year.items()}
    )
