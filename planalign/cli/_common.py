"""Arguments and loading shared by the commands that read `simulation_config.yaml`."""

from __future__ import annotations

import argparse
import enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from planalign.simulation.config import SimulationConfig
    from planalign.simulation.run_labels import ReportLabels

DEFAULT_CONFIG = Path("simulation_config.yaml")


class ExitStatus(enum.IntEnum):
    """Every command's exit statuses, in one place (`planalign --help` lists them)."""

    OK = 0
    FAILURE = 1
    """A simulation or model failure; the summary names the failed models and their errors."""
    USAGE = 2
    """Bad usage, configuration or input: a message naming what is wrong and how to fix it; nothing is
    written."""
    INTERRUPTED = 130
    """SIGINT or SIGTERM: running queries stopped, nothing unfinished saved."""


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="simulation config file (default: ./simulation_config.yaml if present, else built-in defaults)",
    )


def add_logging_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-format", choices=("console", "json"), default=None, help="log output format")
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=None, help="log the engine's plan and results"
    )


def config_path(args: argparse.Namespace) -> Path | None:
    if args.config is not None:
        return Path(args.config)
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None


def load_config(
    args: argparse.Namespace, overrides: dict[str, Any] | None = None, *, check_files: bool = True
) -> SimulationConfig:
    """Load the config with the command's flags on top, and configure logging from the result."""
    from planalign.log import configure_logging
    from planalign.simulation.config_loading import load_simulation_config

    layered = dict(overrides or {})
    if getattr(args, "log_format", None) is not None:
        layered["run.log_format"] = args.log_format
    if getattr(args, "verbose", None):
        layered["run.verbose"] = True
    config = load_simulation_config(config_path(args), overrides=layered, check_files=check_files)
    configure_logging(fmt=config.run.log_format, verbose=config.run.verbose)
    return config


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """`text` safe to print to a terminal: every character that is not printable (ESC and the rest of the
    C0/C1 controls, CR, BEL, newlines, bidirectional overrides, lone surrogates from undecodable file names)
    written as its Python escape (`\\x1b`, `\\u202e`), so a run directory's name or a value in its files
    cannot move the cursor, clear the screen or forge another row of a listing. `keep_newlines` keeps "\n"
    (a message of several lines)."""
    return "".join(
        ch
        if ch.isprintable() or (keep_newlines and ch == "\n")
        else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )


def add_label_arguments(parser: argparse.ArgumentParser, *, name: bool = False) -> None:
    """The words a report carries (and, with `name`, the run's name): one line of text each, checked by
    `planalign.simulation.run_labels.check_label` before any work."""
    if name:
        parser.add_argument(
            "--name", help="a name for this run, shown by `planalign runs` and in its report (one line)"
        )
    parser.add_argument("--title", help="the report's title (default: the run's name, else its id)")
    parser.add_argument("--client", help="who the report is prepared for, shown under its title")
    parser.add_argument("--prepared-by", help="who prepared the report, shown under its title")


def labels_from(args: argparse.Namespace) -> ReportLabels:
    """The labels given on the command line, checked (`LabelError`, exit 2, naming the flag)."""
    from planalign.simulation.run_labels import ReportLabels

    return ReportLabels.checked(
        name=getattr(args, "name", None),
        title=getattr(args, "title", None),
        client=getattr(args, "client", None),
        prepared_by=getattr(args, "prepared_by", None),
    )
