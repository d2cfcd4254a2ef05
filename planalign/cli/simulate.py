"""`planalign simulate`: run the multi-year simulation (or one stage of one year)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planalign.cli._common import (
    ExitStatus,
    add_config_argument,
    add_label_arguments,
    add_logging_arguments,
    labels_from,
    load_config,
)
from planalign.errors import PlanalignUsageError

if TYPE_CHECKING:
    from planalign.simulation.config import SimulationConfig
    from planalign.simulation.events import ProgressCallback
    from planalign.simulation.orchestrator import PipelineOrchestrator
    from planalign.simulation.run_directory import SimulationSummary
    from planalign.simulation.run_labels import ReportLabels


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
    parser.add_argument(
        "--replace-years",
        action="store_true",
        help="discard every year the database holds and simulate from the census (needed when the new "
        "range would delete or mix the database's years, or when the database holds a sweep; replaced "
        "atomically, only if the run succeeds)",
    )
    parser.add_argument(
        "--target", help="dbt profile target the simulation writes through (overrides dbt.target)"
    )
    parser.add_argument(
        "--profile",
        help="the profiles.yml profile to use, not the one dbt_project.yml names (overrides dbt.profile)",
    )
    parser.add_argument(
        "--profiles-dir",
        type=Path,
        help="directory holding profiles.yml (overrides dbt.profiles_dir; default: the dbt project's)",
    )
    parser.add_argument("--runs-dir", type=Path, help="where run directories go (overrides run.runs_dir)")
    parser.add_argument("--report", type=Path, help="also write the HTML run report to this path")
    add_label_arguments(parser, name=True)
    add_logging_arguments(parser)
    parser.set_defaults(handler=handle)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    if args.workers is not None and args.no_parallel:
        raise PlanalignUsageError("--workers and --no-parallel contradict each other; give one of them")
    if (args.stage is None) != (args.year is None):
        raise PlanalignUsageError("--stage and --year go together, e.g. `--stage foundation --year 2026`")
    if args.stage is not None and args.resume:
        raise PlanalignUsageError("--resume runs whole years; it cannot be combined with --stage")
    if args.stage is not None and args.replace_years:
        raise PlanalignUsageError("--replace-years runs whole years; it cannot be combined with --stage")
    if args.resume and args.replace_years:
        raise PlanalignUsageError(
            "--resume keeps the database's years and --replace-years discards them; give one of them"
        )
    mp = "orchestrator.threading.model_parallelization."
    overrides: dict[str, Any] = {
        "simulation.start_year": args.start_year,
        "simulation.end_year": args.end_year,
        "simulation.census_path": None if args.census is None else str(args.census),
        "simulation.database_path": None if args.database is None else str(args.database),
        "simulation.random_seed": args.seed,
        "run.runs_dir": None if args.runs_dir is None else str(args.runs_dir),
        "dbt.target": args.target,
        "dbt.profile": args.profile,
        "dbt.profiles_dir": None if args.profiles_dir is None else str(args.profiles_dir),
    }
    if args.workers is not None:
        overrides[mp + "enabled"] = True
        overrides[mp + "max_workers"] = args.workers
        overrides[mp + "worker_rule"] = "fixed"  # an explicit count wins over the worker rule
    if args.no_parallel:
        overrides[mp + "enabled"] = False
    return overrides


def run_labels(args: argparse.Namespace, config: SimulationConfig) -> ReportLabels:
    """The run's labels: the command line's over the configuration's `report:` section."""
    return labels_from(args).over(config.report.labels())


def handle(args: argparse.Namespace) -> int:
    labels_from(args)  # checked before anything else: a bad --title must not cost a simulation
    overrides = _overrides(args)
    config = load_config(args, overrides)
    labels = run_labels(args, config)
    from planalign.simulation.preflight import check_output_paths

    check_output_paths(config, report_path=args.report)  # before the parse, not after the whole run
    if args.resume and (done := nothing_to_resume(config)) is not None:
        print(done)
        return ExitStatus.OK
    from planalign.cli.progress import ProgressDisplay, print_summary
    from planalign.simulation.orchestrator import create_orchestrator
    from planalign.simulation.run_history import recorded_step_durations
    from planalign.simulation.stages import SimulationStage

    stage = SimulationStage.parse(args.stage) if args.stage is not None else None
    orchestrator = create_orchestrator(config)
    structured = config.run.log_format == "json"
    # The ETA's step durations: the previous run's, read before this run adds its own directory.
    history = recorded_step_durations(Path(config.run.runs_dir))
    display = ProgressDisplay(sys.stderr, verbose=config.run.verbose, structured=structured, history=history)
    with display as progress:
        summary, interrupted = run_with_signals(
            orchestrator,
            progress,
            stage=stage,
            year=args.year,
            resume=args.resume,
            replace_years=args.replace_years,
        )
    if summary is not None and summary.run_dir.is_dir():
        from planalign.simulation.run_labels import write_labels

        write_labels(summary.run_dir, labels)
    if interrupted or summary is None:
        note = summary.database_note if summary is not None else "the database was not changed"
        where = f"; run record: {summary.run_dir}" if summary is not None else ""
        print(f"interrupted: {note}{where}. Continue with `simulate --resume`.", file=sys.stderr)
        return ExitStatus.INTERRUPTED
    print_summary(summary, verbose=config.run.verbose)
    if args.report is not None:
        from planalign.log import shown_path
        from planalign.report import write_report

        out = write_report(summary.run_dir, args.report)
        print(f"report: {shown_path(out)}")
    return ExitStatus.OK if summary.success else ExitStatus.FAILURE


def nothing_to_resume(config: SimulationConfig) -> str | None:
    """What to say when `--resume` finds every year already complete (under this configuration), before
    the ~35 s dbt parse; None when there is work, or a problem the run itself reports (the orchestrator plans
    the same years again with the same rule, `plan_years`, and refuses a mismatch with its own message)."""
    from planalign.errors import PlanalignUsageError as Refused
    from planalign.log import shown_path
    from planalign.simulation.state import SimulationState
    from planalign.simulation.year_plan import plan_years, span

    sim = config.simulation
    database = Path(sim.database_path)
    completed = SimulationState(database).completed_years()
    if not completed:
        return None
    try:
        plan = plan_years(
            sim.start_year,
            sim.end_year,
            start_year=sim.start_year,
            completed=completed,
            config_hash=config.results_digest(),
            resume=True,
        )
    except Refused:
        return None
    if plan.years:
        return None
    held = span(sorted(c.simulation_year for c in completed))
    return (
        f"nothing to do: {shown_path(database)} already holds {held} complete, simulated with this "
        f"configuration. To add years, raise the end year (--resume --end-year {sim.end_year + 1}); to "
        "simulate them again, use --replace-years."
    )


def run_with_signals(
    orchestrator: PipelineOrchestrator,
    progress: ProgressCallback,
    *,
    stage: Any = None,
    year: int | None = None,
    resume: bool = False,
    replace_years: bool = False,
) -> tuple[SimulationSummary | None, bool]:
    """Run the simulation under `run_cancellable`; returns its summary and whether a signal interrupted
    it. The summary is None only when the run stopped before it had one (bad input raises instead)."""
    summaries: list[SimulationSummary] = []

    async def body() -> None:
        if stage is not None and year is not None:
            await orchestrator.run_stage_async(
                year, stage, on_progress=progress, on_finished=summaries.append
            )
        else:
            await orchestrator.execute_multi_year_simulation_async(
                resume=resume,
                replace_years=replace_years,
                on_progress=progress,
                on_finished=summaries.append,
            )

    from planalign.cli._cancel import run_cancellable

    interrupted = run_cancellable(body, stopping="the database is saved only as complete years")
    return (summaries[-1] if summaries else None), interrupted is not None
