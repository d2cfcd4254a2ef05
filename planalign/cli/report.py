"""`planalign report [RUN_OR_SWEEP_DIR] [--out PATH]`: the self-contained HTML report of a run, or the
comparison report of a sweep.

`simulate --report PATH` writes the run report right after a run; this command is for directories that
already exist (an older run, a run copied from another machine, a failed run, a sweep). Without a directory
it reports the newest *complete full run* under the configuration's runs directory and says which — never a
one-stage debug run or a failed run that happens to be newer (`planalign runs` lists them all). Given a
directory it reports exactly that one: a stage run's report says it is a stage run. A sweep directory
(`sweep.json`) gets its comparison report from its `comparison.json`, by default at
SWEEP_DIR/comparison.html.

Without a directory, a complete full run whose files cannot be read (edited, truncated, copied in part) is
skipped, with a line saying which and why, for the newest one that can be: one corrupt directory must not
hide every run. Given a directory, a file that cannot be read is exit status 2 naming the file and the
problem.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from planalign.cli._common import add_label_arguments

DEFAULT_REPORT_NAME = "report.html"
DEFAULT_COMPARISON_NAME = "comparison.html"


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report",
        help="write the HTML report of a run directory (or the comparison report of a sweep)",
        description=(
            "Write one self-contained HTML file (viewable offline). For a run: the results, the assumptions "
            "in force, the nondiscrimination tests, then the engine detail (timeline by worker lane, planned "
            "versus achieved speedup, slowest models). For a sweep directory: the comparison of its "
            "scenarios. Without a directory: the newest complete full run under the runs directory."
        ),
    )
    parser.add_argument(
        "run_dir",
        type=Path,
        nargs="?",
        default=None,
        metavar="RUN_DIR",
        help="a run directory written by `planalign simulate`, or a sweep directory (default: the newest "
        "complete full run under the config's runs directory; `planalign runs` lists them)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="PATH",
        help=f"where to write the report (default: RUN_DIR/{DEFAULT_REPORT_NAME}, or "
        f"SWEEP_DIR/{DEFAULT_COMPARISON_NAME}; in a directory, that name)",
    )
    parser.add_argument("--config", type=Path, default=None, help="simulation config file (for run.runs_dir)")
    add_label_arguments(parser)
    parser.set_defaults(handler=handle)


def report_path(run_dir: Path, out: Path | None, name: str = DEFAULT_REPORT_NAME) -> Path:
    """Where the report goes: `--out` (inside it, when it is an existing directory), else RUN_DIR/<name>."""
    if out is None:
        return run_dir / name
    if out.is_dir():
        return out / name
    return out


def handle(args: argparse.Namespace) -> int:
    from planalign.cli._common import labels_from, printable
    from planalign.cli.runs import default_runs_dir, report_run
    from planalign.log import shown_path
    from planalign.simulation.run_listing import SWEEP_FILE

    labels = labels_from(args)
    run_dir: Path | None = args.run_dir
    if run_dir is None:
        runs_dir = default_runs_dir(args)
        entry = report_run(runs_dir)
        run_dir = entry.path
        print(
            f"reporting the newest complete full run under {shown_path(runs_dir)}: {printable(entry.name)} "
            f"(years {entry.years}, started {printable(entry.started_at) or '?'})",
            file=sys.stderr,
        )
    if (run_dir / SWEEP_FILE).exists():
        from planalign.report.comparison import write_comparison_report

        written = write_comparison_report(
            run_dir / "comparison.json",
            report_path(run_dir, args.out, DEFAULT_COMPARISON_NAME),
            labels=labels,
        )
    else:
        from planalign.report import write_report

        written = write_report(run_dir, report_path(run_dir, args.out), labels=labels)
    print(written)
    return 0
