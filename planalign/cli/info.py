"""`planalign info`: parallelization capabilities (the specification's `get_parallelization_info()`)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from planalign.cli._common import add_config_argument, add_logging_arguments, load_config


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "info", help="show parallelization capabilities and model statistics"
    )
    add_config_argument(parser)
    add_logging_arguments(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    config = load_config(args, check_files=False)
    from planalign.simulation.orchestrator import create_orchestrator
    from planalign.simulation.project import parallelization_info

    info = parallelization_info(create_orchestrator(config).describe(), config)
    print(json.dumps(info, indent=2))
    return 0
