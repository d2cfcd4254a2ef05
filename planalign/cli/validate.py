"""`planalign validate`: check the configuration, the census, the database file and each stage's
parallelization safety, without running or writing anything. Exit 0 when all pass, 2 otherwise."""

from __future__ import annotations

import argparse
from typing import Any

from planalign.cli._common import ExitStatus, add_config_argument, add_logging_arguments, load_config


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "validate", help="check config, census, database and stage safety without running"
    )
    add_config_argument(parser)
    add_logging_arguments(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    config = load_config(args)
    from planalign.simulation.config_review import review_config
    from planalign.simulation.orchestrator import create_orchestrator

    findings = review_config(config)
    errors = [f for f in findings if f.severity == "error"]
    mark = "✘" if errors else "✔"
    print(f"{mark} configuration: simulation {config.simulation.start_year}–{config.simulation.end_year}")
    for finding in findings:
        print(f"    {finding}")
    if errors:
        return ExitStatus.USAGE
    from planalign.simulation.preflight import check_output_paths
    from planalign.simulation.stages import ModelScope, SimulationStage

    check_output_paths(config)  # the same check `simulate` makes before its parse
    orchestrator = create_orchestrator(config)
    orchestrator.check_inputs()
    print(f"✔ census: {config.simulation.census_path}")
    print(f"✔ database: {config.simulation.database_path} is available")
    prepared = orchestrator.describe()
    mp = config.model_parallelization
    built = set(prepared.stages.all_models(ModelScope.SIMULATION))
    problems = 0
    for stage in SimulationStage:
        models = prepared.stages.models(stage, ModelScope.YEAR)
        if not models:
            continue
        report = prepared.analyzer.validate_safety(
            models,
            already_built=built,
            enable_conditional_parallelization=mp.enable_conditional_parallelization,
        )
        plan = prepared.plan(models, config)
        mark = "✔" if report.safe else "✘"
        print(f"{mark} stage {stage}: {len(models)} models, estimated speedup {plan.estimated_speedup:.1f}x")
        for issue in report.issues:
            print(f"    {issue.severity}: {issue.message}")
        problems += len(report.errors)
        built.update(models)
    return ExitStatus.OK if problems == 0 else ExitStatus.USAGE
