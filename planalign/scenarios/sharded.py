"""A sharded sweep: the members of a scenario set in several passes (`planalign.scenarios.shards`), run by
an executor (`planalign.scenarios.executors`), merged into the sweep database
(`planalign.scenarios.shard_merge`).

The sweep directory, sweep.json, the run record under `simulation/<run id>/` and the database are what a
one-pass sweep leaves (`planalign.scenarios.sweep`), so `scenarios compare`, `export` and `runs` read both
alike; `shards.json` beside sweep.json adds what each shard cost and where it ran. The data-safety rules are
the one-pass sweep's, through the same code:

- bad input and a database holding another result (`--replace-years` not given) are refused before
  anything is written (`open_record`), and a database another run holds when its lock is taken
  (`WorkingCopy.open`, before any shard starts — the lock is held until the sweep ends);
- the shards write only their own temporary databases; the merge writes only the working copy, and the
  user's file is replaced atomically (`WorkingCopy.promote`) only when every shard succeeded and the merge
  did. A failed shard fails the sweep naming its members (exit 1), an interrupted one records the sweep as
  failed and re-raises the cancellation (exit 130); either way the user's database is as it was.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import anyio

from planalign.engine.results import write_json_atomic
from planalign.errors import DatabaseChangedError, PlanalignUsageError
from planalign.scenarios.executors import ShardExecutor
from planalign.scenarios.shard_merge import ShardMergeError, merge_shards
from planalign.scenarios.shard_task import ShardResult, ShardTask, make_bundle
from planalign.scenarios.shards import Shard
from planalign.scenarios.sweep import (
    SweepOutcome,
    SweepPlan,
    SweepStatus,
    open_record,
    pass_orchestrator,
)
from planalign.simulation.events import ProgressEvent
from planalign.simulation.run_directory import SEVERAL_SCENARIOS, RunRecorder, RunStatus
from planalign.simulation.state import SimulationState
from planalign.simulation.working_copy import DatabaseSaveError, WorkingCopy
from planalign.simulation.year_plan import span

SHARDS_FILE = "shards.json"


@dataclass(frozen=True)
class ShardEvent:
    """What the live display hears: the shards planned, then each one finished or failed."""

    kind: Literal["planned", "finished", "failed"]
    done: int
    total: int
    shard: Shard | None = None
    result: ShardResult | None = None


ShardProgress = Callable[[ShardEvent], None]


async def run_sharded_sweep_async(
    plan: SweepPlan,
    shards: Sequence[Shard],
    executor: ShardExecutor,
    *,
    on_shard: ShardProgress | None = None,
    on_started: Callable[[Path], None] | None = None,
) -> SweepOutcome:
    """Run `plan`'s members as `shards` on `executor` and merge them into the sweep database (see the module
    docstring). Returns the outcome; bad input raises a `PlanalignUsageError` with nothing written."""
    config = plan.config
    database = Path(config.simulation.database_path)
    checker = pass_orchestrator(config, plan.members, plan.identity)
    record = await open_record(plan, checker.check_inputs, on_started)
    years = list(config.years)
    run = RunRecorder(config, years[0], years[-1], None)
    run.config_hash = record.config_digest
    run.unread_reason = SEVERAL_SCENARIOS
    target = SimulationState(database)
    copy = WorkingCopy(database)
    try:
        await anyio.to_thread.run_sync(copy.open)
    except PlanalignUsageError:
        record.discard()  # another run holds the database, too little disk: nothing was written
        raise
    emit = on_shard or (lambda event: None)
    results: list[ShardResult] = []
    status: RunStatus = "failed"
    error: str | None = None
    escaping: BaseException | None = None
    try:
        bundle = await anyio.to_thread.run_sync(make_bundle, config)
        tasks = [
            ShardTask(
                s.index,
                len(shards),
                config,
                s.members,
                plan.identity,
                database.name,
                plan.keep,
                parse_members=shards[0].members,  # one cached dbt parse for every shard
            )
            for s in shards
        ]
        emit(ShardEvent("planned", 0, len(shards)))

        def on_result(result: ShardResult) -> None:
            results.append(result)
            kind: Literal["finished", "failed"] = "finished" if result.status == "complete" else "failed"
            emit(ShardEvent(kind, len(results), len(shards), shards[result.index], result))

        await executor.run(tasks, bundle, on_result)
        failed = [r for r in results if r.status != "complete"]
        if failed or len(results) != len(shards):
            error = _failure(failed, shards)
        else:
            ordered = sorted(results, key=lambda r: r.index)
            await anyio.to_thread.run_sync(
                lambda: merge_shards(
                    copy.path,
                    ordered,
                    years=years,
                    run_id=run.run_id,
                    config_hash=run.config_hash,
                    identity=plan.identity,
                    member_ids=[m.scenario_id for m in plan.members],
                )
            )
            await anyio.to_thread.run_sync(copy.promote)
            for year in years:  # the run record's kind: whole years, as a one-pass sweep's
                run.emit(ProgressEvent(kind="year_started", year=year))
                run.emit(ProgressEvent(kind="year_finished", year=year))
            status = "success"
    except (DatabaseChangedError, DatabaseSaveError, ShardMergeError) as exc:
        error = str(exc)
    except BaseException as exc:
        interrupted = isinstance(exc, anyio.get_cancelled_exc_class() | KeyboardInterrupt)
        status = "interrupted" if interrupted else "failed"
        error = "the sweep was interrupted" if interrupted else f"{type(exc).__name__}: {exc}"
        escaping = exc
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(copy.close)
        after = [c.simulation_year for c in await anyio.to_thread.run_sync(target.completed_years)]
        kept = " (their yearly figures only: --keep summaries)" if plan.keep == "summaries" else ""
        note = (
            f"the database {database} holds the {len(plan.members)} members of {len(shards)} shards, "
            f"{span(years)}{kept}"
            if status == "success"
            else f"the database {database} was left as it was: nothing of the shards was merged"
        )
        summary = await anyio.to_thread.run_sync(lambda: run.write(status, error, (), after, note))
        write_json_atomic(plan.directory / SHARDS_FILE, _shards_document(executor.name, shards, results))
        sweep_status: SweepStatus = "complete" if status == "success" else "failed"
        # Read from the merged database (a summary sweep's shards send their parameter tables too).
        why = None if status == "success" else f"not read: nothing of the shards was merged ({error})"
        final = await record.finish(sweep_status, why)
    if escaping is not None:
        raise escaping
    return SweepOutcome(directory=plan.directory, status=sweep_status, summary=summary, document=final)


def _failure(failed: Sequence[ShardResult], shards: Sequence[Shard]) -> str:
    if not failed:
        return "not every shard returned a result"
    first = failed[0]
    return (
        f"{shards[first.index].describe()} failed: {first.error or 'no reason given'}. Nothing was merged; "
        "the sweep database is as it was"
    )


def _shards_document(
    executor: str, shards: Sequence[Shard], results: Sequence[ShardResult]
) -> dict[str, object]:
    by_index = {r.index: r for r in results}
    return {
        "executor": executor,
        "shards": [
            {
                "shard": s.index + 1,
                "seeds": list(s.seeds),
                "members": [m.scenario_id for m in s.members],
                **(
                    {
                        "status": r.status,
                        "error": r.error,
                        "seconds": r.seconds,
                        "peak_rss_bytes": r.peak_rss_bytes,
                        "result_bytes": r.size,
                        "host": r.host,
                    }
                    if (r := by_index.get(s.index)) is not None
                    else {"status": "not finished"}
                ),
            }
            for s in shards
        ],
    }


def shards_json(directory: Path) -> dict[str, Any]:
    """shards.json of a sharded sweep's directory (for the benchmark and tests)."""
    document: dict[str, Any] = json.loads((directory / SHARDS_FILE).read_text(encoding="utf-8"))
    return document
