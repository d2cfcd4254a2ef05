"""`planalign scenarios run FILE --executor local|ray|dask [--address ADDR] [--shards N]`: the sweep in
shards (docs/scaling.md). The flags were checked before the scenario file was read
(`planalign.cli.scenarios._check_sharding_flags`); here, still before any dbt parse, the shard count
against the seeds, then the executor starts (a local Ray or Dask cluster, or a connection to the user's)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from planalign.cli._common import ExitStatus
from planalign.errors import PlanalignUsageError
from planalign.scenarios.sweep import SweepOutcome, SweepPlan

if TYPE_CHECKING:
    from planalign.scenarios.executors import ShardExecutor
    from planalign.scenarios.shards import Shard


class ClusterUnreachableError(PlanalignUsageError):
    """The Ray or Dask cluster could not be started or joined."""


def shard_count(args: argparse.Namespace, plan: SweepPlan, slots: int | None) -> int:
    """`--shards`, else the memory rule (`planalign.scenarios.shards`), and for a cluster at least as many
    shards as it has worker slots (no more than the seeds)."""
    import psutil

    from planalign.scenarios.shards import (
        check_shard_count,
        check_shard_size,
        fewest_shards,
        shards_for_memory,
    )
    from planalign.simulation.assumptions_resolve import count_census_rows

    seeds = len(plan.scenario_set.seeds)
    per_seed = max(1, len(plan.members) // max(1, seeds))
    if args.shards is not None:
        check_shard_count(args.shards, seeds)
        check_shard_size(args.shards, seeds, per_seed)
        return int(args.shards)
    memory = shards_for_memory(
        seeds=seeds,
        members_per_seed=per_seed,
        employees=count_census_rows(Path(plan.config.simulation.census_path)),
        years=len(plan.config.years),
        available_bytes=int(psutil.virtual_memory().available),
    )
    memory = max(memory, fewest_shards(seeds, per_seed))
    return memory if slots is None else max(memory, min(seeds, slots))


def check_disk(args: argparse.Namespace, plan: SweepPlan) -> None:
    """A sweep keeping every member's tables that would not fit the free disk is refused before it runs,
    suggesting `--keep summaries` — unless `--keep tables` was given explicitly (then it is tried: the
    projection is an estimate, and the working copy refuses a disk that really is too small)."""
    import shutil

    from planalign.scenarios.shards import check_merged_size, merged_database_bytes
    from planalign.simulation.assumptions_resolve import count_census_rows
    from planalign.simulation.working_copy import space_needed

    if plan.keep != "tables" or args.keep is not None:
        return
    projected = merged_database_bytes(
        members=len(plan.members),
        employees=count_census_rows(Path(plan.config.simulation.census_path)),
        years=len(plan.config.years),
    )
    where = Path(plan.config.simulation.database_path).resolve().parent
    while not where.exists() and where != where.parent:
        where = where.parent
    check_merged_size(
        projected=projected, needed=space_needed(projected), free=shutil.disk_usage(where).free, where=where
    )


def run_sharded(args: argparse.Namespace, plan: SweepPlan, compare: Callable[[Path], int]) -> int | None:
    """Run the sharded sweep and its comparison; None when it is one local shard keeping the tables (the
    caller runs the ordinary one-pass sweep, which is the same pass without the copying)."""
    from planalign.log import get_logger
    from planalign.scenarios.executors import make_executor
    from planalign.scenarios.shards import plan_shards

    check_disk(args, plan)
    if args.executor == "local":
        count = shard_count(args, plan, None)
        if count == 1 and plan.keep == "tables":
            return None
    elif args.shards is not None:
        shard_count(args, plan, None)  # refuse a bad --shards before starting a cluster
    try:
        executor = make_executor(args.executor, args.address)
    except PlanalignUsageError:
        raise
    except Exception as exc:  # the cluster libraries raise their own (ConnectionError, TimeoutError, …)
        where = f"at {args.address}" if args.address else "on this machine"
        raise ClusterUnreachableError(
            f"could not start or join the {args.executor} cluster {where}: {type(exc).__name__}: {exc}"
        ) from None
    try:
        count = shard_count(args, plan, None if args.executor == "local" else executor.slots())
        shards = plan_shards(plan.members, plan.scenario_set.seeds, count)
        get_logger("planalign.cli.scenarios").info(
            f"sweep {plan.scenario_set.name}: {len(plan.members)} simulations in {len(shards)} shards on the "
            f"{args.executor} executor",
            database=str(plan.scenario_set.database),
            sweep_dir=str(plan.directory),
        )
        outcome, interrupted = _run(plan, shards, executor)
    finally:
        executor.close()
    if interrupted or outcome is None:
        print(
            "interrupted: the sweep did not finish (its remote shards were cancelled; its sweep.json says "
            f"failed; its database is as it was). Record: {plan.directory}",
            file=sys.stderr,
        )
        return ExitStatus.INTERRUPTED
    if outcome.status != "complete":
        error = outcome.summary.error if outcome.summary is not None else "the sweep did not complete"
        print(f"sweep failed: {error}\nrecord: {outcome.directory}", file=sys.stderr)
        return ExitStatus.FAILURE
    elapsed = outcome.document.get("elapsed_seconds") or 0.0
    print(
        f"sweep complete: {len(plan.members)} simulations in {len(shards)} shards in {elapsed:.1f} s; "
        f"{outcome.directory}"
    )
    return compare(outcome.directory)


def _run(plan: SweepPlan, shards: list[Shard], runner: ShardExecutor) -> tuple[SweepOutcome | None, bool]:
    from planalign.cli._cancel import run_cancellable
    from planalign.cli.shard_progress import ShardDisplay
    from planalign.scenarios.sharded import run_sharded_sweep_async

    display = ShardDisplay(sys.stderr, executor=runner.name, structured=plan.config.run.log_format == "json")
    outcomes: list[SweepOutcome] = []

    async def body() -> None:
        outcomes.append(await run_sharded_sweep_async(plan, shards, runner, on_shard=display))

    with display:
        interrupted = run_cancellable(
            body, stopping="cancelling the shards; the sweep database changes only when every shard is done"
        )
    return (outcomes[-1] if outcomes else None), interrupted is not None
