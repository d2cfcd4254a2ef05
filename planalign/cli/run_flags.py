"""The command line of dbt's flags for `planalign run` beyond selection and threads: dbt's names and values
(`add_arguments`) read into the library's `planalign.project_run.flags.DbtFlags` (`flags_from_args`), which
says what each means to dbt and which dbt call it goes to. The table with the reasons is docs/run.md.
"""

from __future__ import annotations

import argparse

from planalign.project_run.flags import (
    DEFER_REFUSAL,
    INDIRECT_SELECTION,
    LOG_LEVELS,
    DbtFlags,
    RefusedFlagError,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """dbt's flags of this module (see the module docstring), with dbt's names and values."""
    parser.add_argument("--selector", help="a selector defined in selectors.yml (dbt's --selector)")
    parser.add_argument(
        "--state", help="a directory holding the manifest.json to compare with, for state: selectors"
    )
    parser.add_argument(
        "--indirect-selection",
        choices=INDIRECT_SELECTION,
        help="dbt's rule for selecting tests of selected models (a run selects models only)",
    )
    parser.add_argument(
        "--empty", action="store_true", help="build the models with every ref and source limited to 0 rows"
    )
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        help="what to print: info (default) everything, warn warnings and errors, error errors only, none",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print errors only (dbt's --quiet; as --log-level error)"
    )
    parser.add_argument(
        "--partial-parse",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="reuse dbt's saved parse (default, as dbt) or parse everything again (--no-partial-parse)",
    )
    parser.add_argument(
        "--target-path",
        help="where dbt writes compiled SQL and artifacts (default: the project's target-path)",
    )
    parser.add_argument("--warn-error", action="store_true", help="treat dbt's warnings as errors")
    parser.add_argument("--warn-error-options", help="dbt's warn-error include/exclude options (YAML)")
    for flag in ("--defer", "--favor-state"):
        parser.add_argument(flag, action="store_true", help=f"refused: see docs/run.md ({flag})")
    parser.add_argument("--defer-state", help="refused: see docs/run.md")


def flags_from_args(args: argparse.Namespace) -> DbtFlags:
    """Read the flags; `RefusedFlagError` for a deferral flag (before anything is parsed or run)."""
    for name, flag in (
        ("defer", "--defer"),
        ("favor_state", "--favor-state"),
        ("defer_state", "--defer-state"),
    ):
        if getattr(args, name, None):
            raise RefusedFlagError(f"{flag} {DEFER_REFUSAL}")
    return DbtFlags(
        selector=getattr(args, "selector", None) or None,
        state=getattr(args, "state", None) or None,
        indirect_selection=getattr(args, "indirect_selection", None) or None,
        empty=bool(getattr(args, "empty", False)),
        log_level=getattr(args, "log_level", None) or None,
        quiet=bool(getattr(args, "quiet", False)),
        partial_parse=getattr(args, "partial_parse", None),
        target_path=getattr(args, "target_path", None) or None,
        warn_error=bool(getattr(args, "warn_error", False)),
        warn_error_options=getattr(args, "warn_error_options", None) or None,
    )
