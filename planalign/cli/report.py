"""`planalign report RUN_DIR [--out PATH]`: the self-contained HTML report of an earlier run.

`simulate --report PATH` writes the same report right after a run; this command is for run directories that
already exist (an older run, a run copied from another machine, a failed run).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DEFAULT_REPORT_NAME = "report.html"


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report",
        help="write the HTML report of a run directory",
        description=(
            "Write one self-contained HTML file (viewable offline) with the run's execution timeline by "
            "worker lane, planned versus achieved speedup per stage, the slowest models and per-year results."
        ),
    )
    parser.add_argument(
        "run_dir", type=Path, metavar="RUN_DIR", help="a run directory written by `planalign simulate`"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="PATH",
        help=f"where to write the report (default: RUN_DIR/{DEFAULT_REPORT_NAME}; in a directory, that name)",
    )
    parser.set_defaults(handler=handle)


def report_path(run_dir: Path, out: Path | None) -> Path:
    """Where the report goes: `--out` (inside it, when it is an existing directory), else
    RUN_DIR/report.html."""
    if out is None:
        return run_dir / DEFAULT_REPORT_NAME
    if out.is_dir():
        return out / DEFAULT_REPORT_NAME
    return out


def handle(args: argparse.Namespace) -> int:
    from planalign.report import write_report

    run_dir: Path = args.run_dir
    written = write_report(run_dir, report_path(run_dir, args.out))
    print(written)
    return 0
