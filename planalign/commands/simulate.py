"""`planalign simulate`: run the multi-year simulation (or one stage of one year)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planalign.commands._common import add_config_argument, add_logging_arguments, load_config
from planalign.errors import PlanalignUsageError

if TYPE_CHECKING:
    from planalign.orchestrator import PipelineOrchestrator, ProgressCallback, SimulationSummary

EXIT_OK, EXIT_FAILURE, EXIT_INTERRUPTED = 0, 1, 130


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "simulate",
        help="run the multi-year workforce and retirement-plan simulation",
        description="Run the simulation year by year through its stages, with model-level parallelization "
        "as configured. Exit: 0 success, 1 simulation failure, 2 bad usage or config, 130 interrupted.",
    )
    add_config_argument(parser)
    parser.add_argument(
        "--start-year", type=int, help="first simulated year (overrides simulation.start_year)"
    )
    parser.add_argument("--end-year", type=int, help="last simulated year (overrides simulation.end_year)")
    parser.add_argument(
        "--census", type=Path, help="census file, CSV or Parquet (overrides simulation.census_path)"
    )
    parser.add_argument(
        "--database", type=Path, help="DuckDB file to write (overrides simulation.database_path)"
    )
    parser.add_argument("--seed", type=int, help="random seed (overrides simulation.random_seed)")
    parser.add_argument("--workers", type=int, help="max parallel workers (implies parallelization on)")
    parser.add_argument(
        "--no-parallel", action="store_true", help="run with one worker, in topological order"
    )
    parser.add_argument("--stage", help="run only this stage (with --year), e.g. foundation")
    parser.add_argument("--year", type=int, help="the year for --stage")
    parser.add_argument("--resume", action="store_true", help="continue after the last complete year")
    parser.add_argument("--runs-dir", type=Path, help="where run directories go (overrides run.runs_dir)")
    parser.add_argument("--report", type=Path, help="also write the HTML run report to this path")
    add_logging_arguments(parser)
    parser.set_defaults(handler=handle)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    if args.workers is not None and args.no_parallel:
        raise PlanalignUsageError("--workers and --no-parallel contradict each other; give one of them")
    if (args.stage is None) != (args.year is None):
        raise PlanalignUsageError("--stage and --year go together, e.g. `--stage foundation --year 2026`")
    if args.stage is not None and args.resume:
        raise PlanalignUsageError("--resume runs whole years; it cannot be combined with --stage")
    mp = "orchestrator.threading.model_parallelization."
    overrides: dict[str, Any] = {
        "simulation.start_year": args.start_year,
        "simulation.end_year": args.end_year,
        "simulation.census_path": None if args.census is None else str(args.census),
        "simulation.database_path": None if args.database is None else str(args.database),
        "simulation.random_seed": args.seed,
        "run.runs_dir": None if args.runs_dir is None else str(args.runs_dir),
    }
    if args.workers is not None:
        overrides[mp + "enabled"] = True
        overrides[mp + "max_workers"] = args.workers
    if args.no_parallel:
        overrides[mp + "enabled"] = False
    return overrides


def handle(args: argparse.Namespace) -> int:
    overrides = _overrides(args)
    config = load_config(args, overrides)
    from planalign.orchestrator import create_orchestrator
    from planalign.progress import ProgressDisplay, print_summary
    from planalign.stages import SimulationStage

    stage = SimulationStage.parse(args.stage) if args.stage is not None else None
    orchestrator = create_orchestrator(config)
    structured = config.run.log_format == "json"
    with ProgressDisplay(sys.stderr, verbose=config.run.verbose, structured=structured) as progress:
        summary = run_with_signals(orchestrator, progress, stage=stage, year=args.year, resume=args.resume)
    if summary is None:
        print(
            "interrupted: the incomplete year was rolled back; continue with `simulate --resume`",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    print_summary(summary)
    if args.report is not None:
        from planalign.report import write_report

        out = write_report(summary.run_dir, args.report)
        print(f"report: {out}")
    return EXIT_OK if summary.success else EXIT_FAILURE


def run_with_signals(
    orchestrator: PipelineOrchestrator,
    progress: ProgressCallback,
    *,
    stage: Any = None,
    year: int | None = None,
    resume: bool = False,
) -> SimulationSummary | None:
    """Run the simulation; SIGINT/SIGTERM cancel it (dispatch stops, running queries are interrupted, the
    incomplete year is rolled back). Returns None when interrupted."""
    import anyio

    outcome: dict[str, SimulationSummary | None] = {"summary": None}
    interrupted = False

    async def main() -> None:
        nonlocal interrupted
        async with anyio.create_task_group() as tg:

            async def watch_signals() -> None:
                nonlocal interrupted
                with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    async for _ in signals:
                        interrupted = True
                        tg.cancel_scope.cancel()
                        return

            tg.start_soon(watch_signals)
            if stage is not None and year is not None:
                outcome["summary"] = await orchestrator.run_stage_async(year, stage, on_progress=progress)
            else:
                outcome["summary"] = await orchestrator.execute_multi_year_simulation_async(
                    resume=resume, on_progress=progress
                )
            tg.cancel_scope.cancel()

    try:
        anyio.run(main)
    except BaseExceptionGroup as group:
        # The task group wraps the run's own exception; surface it as the CLI expects (usage errors → 2).
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
    return None if interrupted else outcome["summary"]
