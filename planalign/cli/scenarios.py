"""`planalign scenarios run FILE` and `planalign scenarios compare [SWEEP_DIR]`: plan designs and seeds in
one simulation, and their comparison (docs/scenarios.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planalign.cli._common import ExitStatus, add_config_argument, add_logging_arguments, load_config
from planalign.errors import PlanalignUsageError
from planalign.log import shown_path

if TYPE_CHECKING:
    from planalign.scenarios.comparison import ComparisonFiles
    from planalign.scenarios.sweep import SweepOutcome, SweepPlan

COMPARISON_HTML = "comparison.html"


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "scenarios",
        help="simulate plan designs × seeds in one run and compare them",
        description="Scenario sweeps: every plan design of a scenario file, with every seed, simulated in "
        "one run into one database (common random numbers: the designs share each seed's draws), then "
        "compared per year with P5/P50/P95 across seeds and paired deltas vs the baseline.",
    )
    commands = parser.add_subparsers(dest="scenarios_command", metavar="SUBCOMMAND")

    run = commands.add_parser(
        "run",
        help="run a scenario file's sweep and write its comparison",
        description="Simulate every design × seed of FILE in one run, write the sweep directory "
        "runs/<time>-sweep-<file>/ and its comparison (comparison.json, metrics.csv, comparison.html). "
        "A re-run of the same file replaces its own sweep database; a database holding a simulation or "
        "another sweep is refused unless --replace-years is given. "
        "Exit: 0 success, 1 simulation failure, 2 bad scenario file or config, 130 interrupted.",
    )
    run.add_argument("file", type=Path, metavar="FILE", help="the scenario file, e.g. scenarios.yaml")
    run.add_argument(
        "--replace-years",
        action="store_true",
        help="replace the sweep database even when it holds a simulation or another sweep (another name or "
        "scenario file); its years are lost, replaced atomically only if the sweep succeeds",
    )
    run.add_argument(
        "--executor",
        choices=("local", "ray", "dask"),
        help="shard the sweep (every design × blocks of seeds, one pass each, merged into the sweep "
        "database): local runs the shards one after another here; ray and dask run them on a cluster "
        "(a local one unless --address is given). Default: one pass. docs/scaling.md",
    )
    run.add_argument("--address", metavar="ADDR", help="the Ray or Dask cluster to join (with --executor)")
    run.add_argument(
        "--shards",
        type=int,
        metavar="N",
        help="how many shards (1 to the number of seeds; default: from memory per member, and for ray and "
        "dask at least the cluster's worker slots)",
    )
    run.add_argument(
        "--keep",
        choices=("tables", "summaries"),
        help="what the sweep database keeps of each member (with --executor): tables (the default: every "
        "member's dbt tables, for export and notebooks) or summaries (only the yearly figures the "
        "comparison reads, computed in each shard; for sweeps whose tables would not fit the driver's "
        "disk; the comparison is the same, export is refused). docs/scaling.md",
    )
    run.add_argument("--workers", type=int, help="max parallel workers (implies parallelization on)")
    run.add_argument("--no-parallel", action="store_true", help="run with one worker, in topological order")
    add_logging_arguments(run)
    run.set_defaults(handler=handle_run)

    compare = commands.add_parser(
        "compare",
        help="(re)write a sweep's comparison",
        description="Write comparison.json, metrics.csv and comparison.html of a complete sweep directory "
        "(default: the latest complete sweep under the runs directory).",
    )
    compare.add_argument("sweep", type=Path, nargs="?", metavar="SWEEP_DIR", help="the sweep directory")
    add_config_argument(compare)
    compare.add_argument("--runs-dir", type=Path, help="where to look for the latest sweep")
    compare.set_defaults(handler=handle_compare)
    parser.set_defaults(handler=lambda args: _missing_subcommand(parser))


def _missing_subcommand(parser: argparse.ArgumentParser) -> int:
    parser.print_usage(sys.stderr)
    print(
        "error: give a subcommand: `scenarios run FILE` or `scenarios compare [SWEEP_DIR]`", file=sys.stderr
    )
    return ExitStatus.USAGE


def _config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    if args.workers is not None and args.no_parallel:
        raise PlanalignUsageError("--workers and --no-parallel contradict each other; give one of them")
    if args.workers is not None and args.workers < 1:
        raise PlanalignUsageError(f"--workers must be at least 1 (got {args.workers})")
    mp = "orchestrator.threading.model_parallelization."
    overrides: dict[str, Any] = {}
    if args.workers is not None:
        overrides[mp + "enabled"] = True
        overrides[mp + "max_workers"] = args.workers
        overrides[mp + "worker_rule"] = "fixed"  # an explicit count wins over the worker rule
    if args.no_parallel:
        overrides[mp + "enabled"] = False
    if args.log_format is not None:
        overrides["run.log_format"] = args.log_format
    if args.verbose:
        overrides["run.verbose"] = True
    return overrides


def _check_sharding_flags(args: argparse.Namespace) -> None:
    """The sharding flags' own errors, before the scenario file is read (the seed count is checked later)."""
    if args.executor is None:
        if args.address is not None or args.shards is not None or args.keep is not None:
            given = next(
                flag
                for flag, value in (
                    ("--address", args.address),
                    ("--shards", args.shards),
                    ("--keep", args.keep),
                )
                if value is not None
            )
            raise PlanalignUsageError(f"{given} needs --executor local, ray or dask (docs/scaling.md)")
        return
    from planalign.scenarios.executors import check_executor

    check_executor(args.executor, args.address)
    if args.shards is not None and args.shards < 1:
        raise PlanalignUsageError(f"--shards must be at least 1 (got {args.shards})")


def handle_run(args: argparse.Namespace) -> int:
    from planalign.log import configure_logging, get_logger
    from planalign.scenarios.scenario_file import load_scenario_file
    from planalign.scenarios.sweep import plan_sweep

    _check_sharding_flags(args)
    from planalign.scenarios.scenario_file import MAX_MEMBERS, SHARDED_MAX_MEMBERS

    scenario_set = load_scenario_file(
        args.file,
        config_overrides=_config_overrides(args),
        max_members=MAX_MEMBERS if args.executor is None else SHARDED_MAX_MEMBERS,
    )
    config = scenario_set.baseline.config
    configure_logging(fmt=config.run.log_format, verbose=config.run.verbose)
    plan = plan_sweep(scenario_set, replace_database=args.replace_years, keep=args.keep or "tables")
    if args.executor is not None:
        from planalign.cli.sharded import run_sharded

        status = run_sharded(args, plan, _compare)
        if status is not None:
            return status
    designs = len(scenario_set.designs)
    seeds = len(scenario_set.seeds)
    log = get_logger("planalign.cli.scenarios")
    # Through the log, so that --log-format json keeps stderr one JSON object per line.
    log.info(
        f"sweep {scenario_set.name}: {designs} design{'s' if designs != 1 else ''} × {seeds} "
        f"seed{'s' if seeds != 1 else ''} = {len(plan.members)} simulations in one run, years "
        f"{config.simulation.start_year}–{config.simulation.end_year}",
        database=str(scenario_set.database),
        sweep_dir=str(plan.directory),
    )
    outcome, interrupted = _run(plan)
    if interrupted or outcome is None:
        print(
            f"interrupted: the sweep did not finish (its sweep.json says failed; its database holds only "
            f"complete years). `planalign scenarios run {args.file}` simulates it again from the census. "
            f"Record: {plan.directory}",
            file=sys.stderr,
        )
        return ExitStatus.INTERRUPTED
    if outcome.status != "complete":
        summary = outcome.summary
        error = summary.error if summary is not None else "the simulation did not complete"
        print(f"sweep failed: {error}\nrecord: {outcome.directory}", file=sys.stderr)
        return ExitStatus.FAILURE
    elapsed = outcome.document.get("elapsed_seconds")
    print(
        f"sweep complete: {len(plan.members)} simulations in {elapsed:.1f} s; {shown_path(outcome.directory)}"
    )
    return _compare(outcome.directory)


def _run(plan: SweepPlan) -> tuple[SweepOutcome | None, bool]:
    from planalign.cli._cancel import run_cancellable
    from planalign.cli.progress import ProgressDisplay
    from planalign.scenarios.sweep import run_sweep_async
    from planalign.simulation.run_history import recorded_step_durations

    config = plan.config
    # The ETA's step durations: the previous sweep's of this file, if any.
    previous = sorted(plan.directory.parent.glob(f"*-sweep-{plan.scenario_set.path.stem}/simulation"))
    history = recorded_step_durations(previous[-1] if previous else plan.directory / "simulation")
    display = ProgressDisplay(
        sys.stderr,
        verbose=config.run.verbose,
        structured=config.run.log_format == "json",
        history=history,
    )
    outcomes: list[SweepOutcome] = []

    async def body() -> None:
        outcomes.append(await run_sweep_async(plan, on_progress=display))

    with display:
        interrupted = run_cancellable(
            body, stopping="the sweep database is replaced only when every year is done"
        )
    return (outcomes[-1] if outcomes else None), interrupted is not None


def handle_compare(args: argparse.Namespace) -> int:
    from planalign.scenarios.sweep import latest_complete_sweep

    directory = args.sweep
    if directory is None:
        if args.runs_dir is not None:
            runs_dir = Path(args.runs_dir)
        else:
            runs_dir = Path(load_config(args, check_files=False).run.runs_dir)
        directory = latest_complete_sweep(runs_dir)
    return _compare(Path(directory))


def _compare(directory: Path) -> int:
    from planalign.scenarios.comparison import write_comparison

    files = write_comparison(directory)
    _print_comparison(files)
    print(f"comparison: {shown_path(files.comparison_json)}")
    print(f"per-member metrics: {shown_path(files.metrics_csv)}")
    from planalign.report.comparison import write_comparison_report

    report = write_comparison_report(files.comparison_json, directory / COMPARISON_HTML)
    print(f"report: {shown_path(report)}")
    return ExitStatus.OK


def _print_comparison(files: ComparisonFiles) -> None:
    """Per design: the last year's P50 participation and employer cost, and the whole-horizon cost (P50,
    with the paired P50 delta vs the baseline)."""
    from rich.console import Console
    from rich.table import Table

    from planalign.scenarios.stats import range_statement

    document = files.document
    sweep = document["sweep"]
    last = max(int(y) for y in sweep["years"])
    rows = {(r["scenario"], r["year"], r["metric"]): r for r in document["rows"]}
    totals = {(t["scenario"], t["metric"]): t for t in document["totals"]}
    seeds = len(sweep["seeds"])
    table = Table(
        title=f"{sweep['name']}: P50 of {seeds} seed{'s' if seeds != 1 else ''} (Δ: paired vs baseline)"
    )
    table.add_column("design")
    table.add_column(f"participation {last}", justify="right")
    table.add_column(f"employer cost {last}", justify="right")
    table.add_column("cumulative cost", justify="right")
    table.add_column("Δ cumulative", justify="right")
    if seeds > 1:
        table.add_column("Δ P5 to P95", justify="right")
    table.add_column(f"PV at {float(sweep['discount_rate']):.1%}", justify="right")
    for design in sweep["scenarios"]:
        name = design["name"]
        participation = rows.get((name, last, "participation_rate"), {}).get("p50")
        cost = rows.get((name, last, "employer_cost"), {}).get("p50")
        cumulative = totals.get((name, "cumulative_employer_cost"), {})
        pv = totals.get((name, "pv_employer_cost"), {}).get("p50")
        cells = [
            name,
            "—" if participation is None else f"{participation:.1%}",
            _money(cost),
            _money(cumulative.get("p50")),
            _money(cumulative.get("delta_p50"), signed=True),
        ]
        if seeds > 1:
            low, high = cumulative.get("delta_p5"), cumulative.get("delta_p95")
            cells.append(
                "—"
                if low is None or high is None
                else f"{_money(low, signed=True)} to {_money(high, signed=True)}"
            )
        cells.append(_money(pv))
        table.add_row(*cells)
    console = Console(file=sys.stdout, width=110)
    console.print(table)
    console.print(range_statement(seeds), soft_wrap=False, highlight=False, markup=False)


def _money(value: float | None, *, signed: bool = False) -> str:
    """Dollars, signed when `signed` (+$1,234 / −$1,234); "—" for no value."""
    if value is None:
        return "—"
    sign = ("+" if value > 0 else "−" if value < 0 else "±") if signed else ("−" if value < 0 else "")
    return f"{sign}${abs(value):,.0f}"
