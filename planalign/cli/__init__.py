"""Command-line entry point: `python -m planalign <command>` and the `planalign` console script.

Each command lives in its own module under `planalign.cli` and exposes
`add_parser(subparsers) -> None`, which registers its arguments and sets `handler` (a callable taking the
parsed namespace and returning an exit status). Heavy imports (dbt, duckdb) happen inside handlers so that
`--help` and bad usage answer at once.

Exit statuses: 0 success, 1 simulation/model failure, 2 bad usage or configuration, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Any

from planalign import __version__
from planalign.cli._common import ExitStatus, printable
from planalign.errors import PlanalignUsageError

__all__ = ["ExitStatus", "build_parser", "main"]

#: Command modules, in the order `--help` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "simulate",
    "plan",
    "info",
    "validate",
    "run",
    "retry",
    "census",
    "report",
    "runs",
    "scenarios",
    "export",
)


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad usage already; this makes the message say how to get help, and turns off
    argparse's prefix matching of long options: dbt's CLI has none, and with it `planalign run --models x`
    (dbt's alias of `--select`) was taken as an abbreviation of `--models-per-invocation`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(ExitStatus.USAGE, f"{self.prog}: error: {message}\n(run `{self.prog} --help` for usage)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="planalign",
        description="Multi-year workforce and retirement-plan simulation on dbt + DuckDB, with a parallel "
        "in-process dbt scheduler.",
        epilog="Exit status: 0 success, 1 simulation or model failure, 2 bad usage or configuration, "
        "130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"planalign {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        # A command that fails to import is a bug to see, not a command to drop from --help silently.
        importlib.import_module(f"planalign.cli.{name}").add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return ExitStatus.USAGE
    if args.debug:
        # The traceback of every failed dbt invocation (`planalign.dbt.invoker.TRACEBACK_LOGGER`, at DEBUG).
        logging.getLogger("planalign.dbt.tracebacks").setLevel(logging.DEBUG)
    try:
        return int(handler(args))
    except PlanalignUsageError as exc:
        if args.debug:
            raise
        print(f"error: {printable(str(exc), keep_newlines=True)}", file=sys.stderr)
        return ExitStatus.USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return ExitStatus.INTERRUPTED
