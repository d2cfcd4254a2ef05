"""`planalign export RUN_OR_SWEEP --format csv|parquet|xlsx [--out DIR]`: a run's or a sweep's tables as
files a spreadsheet or a notebook opens (`planalign.scenarios.export`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, cast

from planalign.cli._common import ExitStatus


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "export",
        help="export a run's or sweep's tables to CSV, Parquet or Excel",
        description="Write the workforce snapshot, the events and the yearly summary of the database a run "
        "directory or a sweep directory describes (a sweep also: dim_scenarios and per-member metrics), "
        "one file per table (csv, parquet) or one workbook (xlsx, a sheet per table). Only the years the "
        "run wrote are exported; a run whose results the database no longer holds (an interrupted re-run, "
        "a replaced run, a stage run) is refused, naming whose data it holds. CSV text cells starting "
        "with = + - @ (or a tab or CR) get a leading ' so no spreadsheet runs them as formulas. "
        "Exit: 0 written, 2 bad usage (nothing written).",
    )
    parser.add_argument("source", type=Path, metavar="RUN_OR_SWEEP", help="a run or sweep directory")
    parser.add_argument("--format", required=True, choices=("csv", "parquet", "xlsx"), help="file format")
    parser.add_argument(
        "--out",
        type=Path,
        help="directory to write into, created if need be; a link to a directory is followed "
        "(default: RUN_OR_SWEEP/export)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from planalign.scenarios.export import ExportFormat, export, export_source

    source = export_source(Path(args.source))
    out = Path(args.out) if args.out is not None else source.directory / "export"
    for path in export(source, cast(ExportFormat, args.format), out):
        print(path)
    for note in source.notes:  # on stderr: stdout stays the list of files written
        print(f"note: {note}", file=sys.stderr)
    return ExitStatus.OK
