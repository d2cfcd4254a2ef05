"""`planalign runs [RUNS_DIR]`: the run directories under runs/ — what each is, whether it finished, and
which one `planalign report` takes when it is not told.

The listing and the rule of which run the report takes are the library's
(`planalign.simulation.run_history.list_runs`, `newest_readable_run`; one directory:
`run_listing.describe`); this command only formats them: a table that fits the terminal
(`cli.runs_table`), or JSON. Every name and field printed is passed through `printable`, so no run
directory's name or file can put terminal escape sequences on the screen.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from planalign.cli._common import printable
from planalign.cli.runs_table import format_table
from planalign.errors import RunDirectoryError
from planalign.log import shown_path
from planalign.simulation.run_history import list_runs, newest_readable_run
from planalign.simulation.run_listing import RunEntry


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "runs",
        help="list run and sweep directories with their kind, status, years and config digest",
        description=(
            "List the run directories (and sweep directories) under RUNS_DIR, oldest first, with kind (full "
            "run, one stage, sweep), status, years and database, and under each its name (`simulate --name`) "
            "and what its status alone does not say; the run id is its UTC start time and config digest. "
            "Fits the terminal (100 columns when unknown; --json has every field). Status: "
            "complete; replaced (it completed, but a later run has replaced its years in the database); "
            "failed; running; interrupted (a sweep whose process is gone, e.g. killed); incomplete (its "
            "directory is missing files). `planalign report` without a run directory reports the newest "
            "complete full run."
        ),
    )
    parser.add_argument(
        "runs_dir",
        nargs="?",
        type=Path,
        default=None,
        metavar="RUNS_DIR",
        help="default: the config's runs_dir",
    )
    parser.add_argument("--config", type=Path, default=None, help="simulation config file (for run.runs_dir)")
    parser.add_argument("--json", action="store_true", help="print the entries as JSON")
    parser.set_defaults(handler=handle)


def default_runs_dir(args: argparse.Namespace) -> Path:
    """RUNS_DIR if given, else the configuration's `run.runs_dir` (it needs no census to be read)."""
    if getattr(args, "runs_dir", None) is not None:
        return Path(args.runs_dir)
    from planalign.cli._common import load_config

    return Path(load_config(args, check_files=False).run.runs_dir)


def handle(args: argparse.Namespace) -> int:
    runs_dir = default_runs_dir(args)
    if args.runs_dir is not None and not runs_dir.is_dir():
        raise RunDirectoryError(f"{runs_dir} is not a directory; give the runs directory (default runs/)")
    entries = list_runs(runs_dir)
    if args.json:
        print(json.dumps([e.to_dict() for e in entries], indent=2))
        return 0
    if not entries:
        print(f"no run directories under {shown_path(runs_dir)}")
        return 0
    print(format_table(entries))
    try:
        print(f"\n`planalign report` reports: {printable(report_run(runs_dir, quiet=True).name)}")
    except RunDirectoryError:
        print("\nno complete full run: `planalign report` needs a run directory")
    return 0


def report_run(runs_dir: Path, *, quiet: bool = False) -> RunEntry:
    """The run `planalign report` takes under `runs_dir` (`run_history.newest_readable_run` with the
    report's validating reader); each newer complete run it cannot read is named on stderr (unless
    `quiet`)."""
    from planalign.report.model import load_run

    def skipped(entry: RunEntry, problem: RunDirectoryError) -> None:
        if not quiet:
            print(f"skipping {printable(entry.name)}: {printable(str(problem))}", file=sys.stderr)

    return newest_readable_run(runs_dir, load_run, on_skip=skipped)
