"""`planalign plan`: show how the simulation would run — classification, stages, phases, critical path and
estimated speedup per stage — without running anything."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from planalign.cli._common import add_config_argument, add_logging_arguments, load_config


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "plan", help="show the execution plan per stage without running anything"
    )
    add_config_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the plans as JSON")
    add_logging_arguments(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    config = load_config(args, check_files=False)
    from planalign.simulation.orchestrator import create_orchestrator
    from planalign.simulation.project import format_plan, parallelization_info
    from planalign.simulation.run_history import recorded_durations
    from planalign.simulation.stages import ModelScope, SimulationStage

    orchestrator = create_orchestrator(config)
    prepared = orchestrator.describe()
    # The per-model times a `simulate` of this configuration would plan with, so the estimates are its own.
    durations = recorded_durations(Path(config.run.runs_dir))
    mp = config.model_parallelization
    choice = mp.worker_choice
    workers = choice.effective
    plans: dict[str, Any] = {}
    for scope in (ModelScope.SIMULATION, ModelScope.YEAR):
        for stage in SimulationStage:
            models = prepared.stages.models(stage, scope)
            if models:
                label = (
                    f"{'once per simulation' if scope is ModelScope.SIMULATION else 'every year'}: {stage}"
                )
                plans[label] = prepared.plan(models, config, label=label, durations=durations)
    if args.json:
        print(json.dumps({k: p.to_dict() for k, p in plans.items()}, indent=2))
        return 0
    info = parallelization_info(prepared, config)
    stats = info["statistics"]
    print(
        f"🚀 Model-level parallelization: {'enabled' if mp.enabled else 'disabled'} "
        f"(workers {workers} of max_workers {choice.configured}, "
        f"isolation {'available' if info['available'] else 'unavailable'})\n"
        f"   Workers: {choice.reason}\n"
        f"   Parallel-safe models: {stats['parallel_safe']}/{stats['total_models']}, "
        f"sequential {stats['sequential']}, conditional {stats['conditional']}\n"
        f"   Max theoretical speedup: {stats['max_theoretical_speedup']:.1f}x"
    )
    for label, plan in plans.items():
        print(f"\n▶ {label}")
        print(format_plan(plan, indent="   "))
        path = " → ".join(plan.names[uid] for uid in plan.critical_path)
        print(f"      Critical path: {path}")
    return 0
