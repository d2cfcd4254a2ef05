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
        description="Write the results of a run directory or a sweep directory. xlsx: one workbook that "
        "opens on a Summary sheet (a sweep: one row per design, its cost difference to the baseline with "
        "P5-P95, at present value, and the last year's participation, deferral and contributions; a run: "
        "its yearly summary), then Yearly, Sensitivities, Assumptions and Members; the detail tables "
        "(workforce snapshot, events, per-member metrics) only with --detail. csv, parquet: one file per "
        "table (snapshot, events, yearly summary; a sweep also dim_scenarios, per-member metrics and the "
        "comparison: comparison_summary, comparison_yearly). Only the years the "
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
    parser.add_argument(
        "--detail",
        action="store_true",
        help="xlsx: also the detail tables, a sheet each (refused, naming csv/parquet, when one would not "
        "fit in a sheet's 1,048,576 rows)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from planalign.scenarios.export import ExportFormat, export, export_source

    source = export_source(Path(args.source))
    out = Path(args.out) if args.out is not None else source.directory / "export"

    def progress(line: str) -> None:  # on stderr, as each file or sheet starts: a long export is alive
        print(f"writing {line}", file=sys.stderr, flush=True)

    for path in export(source, cast(ExportFormat, args.format), out, detail=args.detail, progress=progress):
        print(path)
    for note in source.notes:  # on stderr: stdout stays the list of files written
        print(f"note: {note}", file=sys.stderr)
    return ExitStatus.OK
