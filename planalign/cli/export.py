"""`planalign export RUN_OR_SWEEP --format csv|parquet|xlsx [--out DIR]`: a run's or a sweep's tables as
files a spreadsheet or a notebook opens (`planalign.scenarios.export`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, cast

from planalign.cli._common import ExitStatus


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "export",
        help="export a run's or sweep's tables to CSV, Parquet or Excel",
        description="Write the workforce snapshot, the events and the yearly summary of the database a run "
        "directory or a sweep directory describes (a sweep also: dim_scenarios and per-member metrics), "
        "one file per table (csv, parquet) or one workbook (xlsx, a sheet per table). "
        "Exit: 0 written, 2 bad usage (nothing written).",
    )
    parser.add_argument("source", type=Path, metavar="RUN_OR_SWEEP", help="a run or sweep directory")
    parser.add_argument("--format", required=True, choices=("csv", "parquet", "xlsx"), help="file format")
    parser.add_argument("--out", type=Path, help="directory to write into (default: RUN_OR_SWEEP/export)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from planalign.scenarios.export import ExportFormat, export, export_source

    source = export_source(Path(args.source))
    out = Path(args.out) if args.out is not None else source.directory / "export"
    for path in export(source, cast(ExportFormat, args.format), out):
        print(path)
    return ExitStatus.OK
