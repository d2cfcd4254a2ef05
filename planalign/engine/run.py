"""One `ParallelExecutionEngine.execute` call: the async driver of the run's `Scheduler`.

`ParallelExecutionEngine._start` validates and plans the selection and builds an `EngineRun`; its `execute`
dispatches what the scheduler allows, runs each invocation in a worker thread, records each model's outcome
and feeds it back to the scheduler, retries, watches memory, and builds the result. The contract it keeps —
cancellation, retries, time limits — is in `planalign.engine.runner`'s docstring; the dispatch policy in
`planalign.engine.scheduler`'s. Internal to the engine: nothing outside it constructs a run.

Why it is long: a run is one state machine — dispatch, invocation, recording, retries, memory pressure and
the result all read and update the same per-model records and timeline in the event loop thread; split over
modules they would share private state rather than shrink.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio

from planalign.engine.events import EngineEvent, EngineEventKind
from planalign.engine.invocation import (
    BatchModelInvoker,
    InvocationOutcome,
    InvocationScope,
    OutcomeStatus,
    use_scope,
)
from planalign.engine.plan import ExecutionPlan
from planalign.engine.results import (
    EngineRunResult,
    LimitChange,
    ModelResult,
    ModelStatus,
    PressureEvent,
    concurrency_steps,
)
from planalign.engine.scheduler import Scheduler
from planalign.engine.watchdog import MemoryWatchdog, PsutilMemoryProbe
from planalign.log import get_logger

if TYPE_CHECKING:
    from collections.abc import Callable

    from planalign.engine.graph import ModelDependencyAnalyzer
    from planalign.engine.invocation import ModelInvoker
    from planalign.engine.settings import EngineSettings
    from planalign.engine.watchdog import MemoryProbe

log = get_logger("planalign.engine")


@dataclass
class ModelRecord:
    """What one model's invocations did, for its result; its status is the scheduler's."""

    attempts: int = 0
    started: float | None = None
    finished: float | None = None
    worker: int | None = None
    error: str | None = None
    skipped_because: str | None = None
    steps: tuple[tuple[str, float, float], ...] = ()  # dbt's timing steps of the last attempt


@dataclass
class EngineRun:
    """One `execute` call: the `Scheduler` that decides what starts, plus this run's own I/O state — its
    limiters, lanes and invocation scope, each model's record, and the timeline. Every method runs in the
    event loop thread (the scheduler's thread-safety contract); worker threads only run `invoke`."""

    # The run's collaborators, passed by the engine that starts it: the run never reaches back into it.
    analyzer: ModelDependencyAnalyzer
    invoker: ModelInvoker
    settings: EngineSettings
    clock: Callable[[], float]
    emit_event: Callable[
        [EngineEvent], None
    ]  # this call's listeners (`runner.Listeners`), failures contained
    memory_probe: MemoryProbe | None
    on_cancelled: Callable[[EngineRunResult], None]  # receives the result of a cancelled run
    plan: ExecutionPlan
    scheduler: Scheduler
    vars: dict[str, Any]
    label: str | None
    workers: int  # the limit the run started with, after fallbacks
    t0: float  # the engine clock at the start of `execute`
    wall0: float  # the same instant in epoch seconds
    limiter: anyio.CapacityLimiter  # invocations running at once; the memory watchdog lowers it
    thread_limiter: anyio.CapacityLimiter
    #: What this run's cancellation stops: only the invocations of this run.
    scope: InvocationScope
    free_lanes: list[int]  # a heap of lane numbers not running an invocation
    fallbacks: list[str]
    warnings: tuple[str, ...]
    records: dict[str, ModelRecord]
    duckdb_memory_limit: str | None  # for the invoker's `apply_duckdb_memory_limit`, when monitoring is on
    intervals: list[tuple[float, float]] = field(default_factory=list)  # (start, end) of every attempt
    pressure_events: list[PressureEvent] = field(default_factory=list)
    limit_changes: list[LimitChange] = field(default_factory=list)
    invocations: int = 0  # invocations started, retries included
    wake: anyio.Event | None = None

    # ------------------------------------------------------------------ helpers

    def now(self) -> float:
        return self.clock() - self.t0

    def iso(self, offset: float) -> str:
        return datetime.fromtimestamp(self.wall0 + offset, tz=UTC).isoformat()

    def emit(self, kind: EngineEventKind, **details: Any) -> None:
        offset = self.now()
        self.emit_event(
            EngineEvent(
                kind=kind,
                time=offset,
                at=self.iso(offset),
                in_flight=self.scheduler.in_flight,
                invocations=self.scheduler.invocations_running,
                limit=int(self.limiter.total_tokens),
                label=self.label,
                **details,
            )
        )

    def wake_dispatcher(self) -> None:
        if self.wake is not None:
            self.wake.set()

    # ------------------------------------------------------------------ running

    async def execute(self) -> EngineRunResult:
        for reason in self.fallbacks:
            self.emit(EngineEventKind.FALLBACK, message=reason)
        self.limit_changes.append(LimitChange(self.iso(self.now()), self.now(), self.workers, "start"))
        try:
            await self.apply_memory_limit()
            await self.run_all()
        except anyio.get_cancelled_exc_class():
            result = self.result(cancelled=True)
            self.on_cancelled(result)
            log.warning("run cancelled", label=self.label, **result.counts())
            raise
        return self.result(cancelled=False)

    async def apply_memory_limit(self) -> None:
        """Hand DuckDB's memory limit to the invoker if it offers `apply_duckdb_memory_limit(value)`."""
        value = self.duckdb_memory_limit
        hook = getattr(self.invoker, "apply_duckdb_memory_limit", None)
        if value is not None and callable(hook):
            await anyio.to_thread.run_sync(hook, value)

    async def run_all(self) -> None:
        watchdog_scope = anyio.CancelScope()
        async with anyio.create_task_group() as tg:
            if self.settings.resource_monitoring and self.plan.model_ids:
                tg.start_soon(self.watch_memory, watchdog_scope)
            try:
                await self.dispatch_loop(tg)
            except anyio.get_cancelled_exc_class():
                self.begin_cancel()
                raise
            finally:
                watchdog_scope.cancel()

    def begin_cancel(self) -> None:
        self.scheduler.cancel()
        try:
            self.scope.stop()
        except Exception:
            log.exception("stopping the run's invocations failed; waiting for running models to finish")

    async def dispatch_loop(self, tg: anyio.abc.TaskGroup) -> None:
        while True:
            self.dispatch(tg)
            if self.scheduler.done:
                return
            if self.scheduler.cancelled and not self.scheduler.invocations_running:
                return  # failed fast: what never started is CANCELLED in the result
            if self.scheduler.stalled:
                raise RuntimeError(
                    f"scheduler stalled with unresolved models: {self.scheduler.unresolved()[:5]}"
                )
            self.wake = anyio.Event()
            await self.wake.wait()

    def dispatch(self, tg: anyio.abc.TaskGroup) -> None:
        """Start every invocation the scheduler allows now, each on a free lane."""
        if self.scope.failed_fast is not None:
            # A model failed for good in a worker thread and stopped the scope: start nothing more.
            self.scheduler.cancel()
        while (batch := self.scheduler.next_batch(int(self.limiter.total_tokens))) is not None:
            tg.start_soon(self.run_invocation, list(batch), heapq.heappop(self.free_lanes))

    async def run_invocation(self, batch: list[str], lane: int) -> None:
        """One worker: invoke the batch, record every model's outcome, and retry — in this worker, after the
        back-off — the models whose failure a retry may fix, with the models of the batch waiting for them."""
        pending = batch
        try:
            async with self.limiter:
                while pending:
                    pending = await self.invoke_round(pending, lane)
                    if pending:
                        await anyio.sleep(self.settings.retry_backoff_s)
        except anyio.get_cancelled_exc_class():
            for uid in batch:
                if self.scheduler.status(uid) is None:
                    self.finish(uid, ModelStatus.CANCELLED, "run cancelled before the model completed")
            raise
        finally:
            heapq.heappush(self.free_lanes, lane)
            self.scheduler.release(batch)
            self.wake_dispatcher()

    async def invoke_round(self, members: list[str], lane: int) -> list[str]:
        """One invocation of `members`; returns those to invoke again (nothing once all are resolved)."""
        for uid in members:
            self.emit(
                EngineEventKind.MODEL_STARTED,
                unique_id=uid,
                name=self.plan.names[uid],
                worker=lane,
                attempt=self.records[uid].attempts + 1,
                execution_class=self.plan.classes[uid].value,
            )
        self.invocations += 1
        start = self.now()
        outcomes = await anyio.to_thread.run_sync(self.invoke, members, limiter=self.thread_limiter)
        end = self.now()
        failed: set[str] = set()  # members that did not succeed in this round, for their batch dependents
        for uid in members:
            self.record(uid, outcomes.get(uid), lane, start, end, failed)
        return [uid for uid in members if self.scheduler.status(uid) is None]

    def record(
        self,
        uid: str,
        outcome: InvocationOutcome | None,
        lane: int,
        start: float,
        end: float,
        failed: set[str],
    ) -> None:
        """Resolve one model of a round, or leave it unresolved for the next round (a retry)."""
        state = self.records[uid]
        state.worker = lane
        if self.scheduler.status(uid) is not None:  # skipped after a failure earlier in the batch
            failed.add(uid)
            return
        if outcome is None:
            outcome = InvocationOutcome(OutcomeStatus.NOT_RUN, "the invoker returned no outcome")
        blocked = any(dep in failed for dep in self.plan.dependencies[uid])
        stopping = self.scheduler.cancelled or self.scope.stopped
        if outcome.status is OutcomeStatus.NOT_RUN and (blocked or stopping):
            failed.add(uid)
            if stopping:
                self.finish(uid, ModelStatus.CANCELLED, self.not_started_reason())
            return
        if outcome.status is OutcomeStatus.NOT_RUN:  # nothing before it failed: a failed attempt, then
            outcome = InvocationOutcome(
                OutcomeStatus.ERROR, f"dbt did not run the model: {outcome.message}", retryable=True
            )
        state.attempts += 1
        state.steps = outcome.steps
        began, ended = self.span_of(outcome, start, end)
        if state.started is None:
            state.started = began
        self.intervals.append((began, ended))
        if outcome.ok:
            self.finish(uid, ModelStatus.SUCCESS, None, at=ended)
            return
        failed.add(uid)
        message = outcome.message
        if self.scheduler.cancelled and self.scope.failed_fast is None:
            self.finish(uid, ModelStatus.CANCELLED, message or "interrupted by cancellation", at=ended)
        elif (
            outcome.retryable
            and state.attempts <= self.settings.max_retries_per_model
            and not self.scope.stopped
        ):
            name = self.plan.names[uid]
            self.emit(
                EngineEventKind.MODEL_RETRY,
                unique_id=uid,
                name=name,
                worker=lane,
                attempt=state.attempts,
                message=message,
            )
            log.info("retrying model", model=name, attempt=state.attempts, error=message, label=self.label)
        else:
            self.finish(uid, ModelStatus.ERROR, message or "model failed without a message", at=ended)

    def span_of(self, outcome: InvocationOutcome, start: float, end: float) -> tuple[float, float]:
        """The model's own (start, end) offsets when the invoker timed it (clamped to its invocation's span,
        against clock skew), else the invocation's span."""
        if outcome.started_at is None or outcome.completed_at is None:
            return start, end
        began = min(max(outcome.started_at - self.wall0, start), end)
        return began, min(max(outcome.completed_at - self.wall0, began), end)

    def invoke(self, members: list[str]) -> Mapping[str, InvocationOutcome]:
        """Worker-thread side of one invocation. An invoker must not raise for a model failure; if it does,
        the exception becomes a non-retryable error of every model it was running (logged with its
        traceback)."""
        nodes = [self.analyzer.node(uid) for uid in members]
        invoker = self.invoker
        names = [n.name for n in nodes]
        # Debug lines (`--log-level debug`): what each invocation ran, how long, with what outcome.
        log.debug("invocation started", models=names, label=self.label)
        began = self.clock()
        try:
            with use_scope(self.scope):
                if len(nodes) == 1:
                    outcomes = {members[0]: invoker.run_model(nodes[0], vars=self.vars)}
                else:
                    assert isinstance(invoker, BatchModelInvoker)
                    outcomes = dict(invoker.run_models(nodes, vars=self.vars))
            log.debug(
                "invocation finished",
                models=names,
                seconds=round(self.clock() - began, 3),
                statuses={
                    n.name: str(outcomes[n.unique_id].status) for n in nodes if n.unique_id in outcomes
                },
                label=self.label,
            )
            return outcomes
        except Exception as exc:
            log.exception("invoker raised instead of returning an outcome", models=[n.name for n in nodes])
            failed = InvocationOutcome(OutcomeStatus.ERROR, f"invoker raised {type(exc).__name__}: {exc}")
            return dict.fromkeys(members, failed)

    def finish(self, uid: str, status: ModelStatus, error: str | None, *, at: float | None = None) -> None:
        state = self.records[uid]
        state.error = error
        state.finished = self.now() if at is None else at
        self.scheduler.resolve(uid, status)
        node = self.analyzer.node(uid)
        self.emit(
            EngineEventKind.MODEL_FINISHED,
            unique_id=uid,
            name=node.name,
            worker=state.worker,
            attempt=state.attempts,
            status=status,
            message=error,
            execution_class=self.plan.classes[uid].value,
            duration_s=state.finished - state.started if state.started is not None else 0.0,
        )
        if status is ModelStatus.ERROR:
            # Debug only: the error is in the result and the MODEL_FINISHED event, which callers show.
            log.debug("model failed", model=node.name, attempts=state.attempts, error=error, label=self.label)
            self.scheduler.skip_descendants(uid, on_skip=lambda skipped: self.skipped(skipped, uid))
            # Fail-fast, for invokers that do not report failures as they happen (the scope ignores a
            # second report): stop the running invocations and start nothing more.
            self.scope.model_failed(uid, retryable=False)
            if self.scope.failed_fast is not None:
                self.scheduler.cancel()
        self.wake_dispatcher()

    def not_started_reason(self) -> str:
        failed = self.scope.failed_fast
        if failed is not None:
            return f"not run: the run failed fast after {self.plan.names.get(failed, failed)} failed"
        return "run cancelled before the model started"

    def skipped(self, uid: str, failed: str) -> None:
        self.records[uid].skipped_because = failed
        self.emit(
            EngineEventKind.MODEL_SKIPPED,
            unique_id=uid,
            name=self.analyzer.node(uid).name,
            status=ModelStatus.SKIPPED,
            message=f"skipped because {self.analyzer.node(failed).name} failed",
        )

    # ------------------------------------------------------------------ memory

    async def watch_memory(self, scope: anyio.CancelScope) -> None:
        probe = self.memory_probe if self.memory_probe is not None else PsutilMemoryProbe()
        watchdog = MemoryWatchdog(
            self.limiter,
            probe,
            self.settings.memory_limit_mb,
            interval_s=self.settings.watchdog_interval_s,
            min_available_mb=self.settings.min_available_mb,
            on_event=self.on_pressure,
            act=self.settings.fallback_on_resource_pressure,
            clock=self.clock,
            origin=(self.t0, self.wall0),
        )
        with scope:
            await watchdog.run()

    def on_pressure(self, event: PressureEvent) -> None:
        self.pressure_events.append(event)
        log.warning(
            "memory pressure" if event.kind == "pressure" else "memory pressure relieved", **asdict(event)
        )
        self.emit(EngineEventKind.PRESSURE, message=event.reason)
        if event.limit_after != event.limit_before:
            self.limit_changes.append(LimitChange(event.at, event.offset_s, event.limit_after, event.kind))
            self.emit(EngineEventKind.LIMIT_CHANGED, message=f"{event.kind}: {event.reason}")
            if event.kind == "pressure" and "memory pressure" not in " ".join(self.fallbacks):
                self.fallbacks.append("memory pressure: concurrency dropped to 1")
        self.wake_dispatcher()

    # ------------------------------------------------------------------ result

    def parallelism(self) -> tuple[float, int]:
        """(time-weighted mean, maximum) of models executing at once, over the span from the first model
        start to the last model end (planning and bookkeeping before and after would only dilute it)."""
        steps = concurrency_steps(self.intervals)
        if not steps:
            return 0.0, 0
        peak = max(count for _, count in steps)
        area = sum(count * (later - at) for (at, count), (later, _) in itertools.pairwise(steps))
        first, last = steps[0][0], steps[-1][0]
        return (area / (last - first) if last > first else float(peak)), peak

    def result(self, *, cancelled: bool) -> EngineRunResult:
        end = self.now()
        parallelism_mean, parallelism_max = self.parallelism()
        order = list(self.plan.model_ids)
        if not self.settings.deterministic_execution:
            completed = list(self.scheduler.resolution_order)
            done = set(completed)
            order = completed + [uid for uid in order if uid not in done]
        results = []
        for uid in order:
            state = self.records[uid]
            status = self.scheduler.status(uid)
            error = state.error
            if status is None:
                status, error = ModelStatus.CANCELLED, self.not_started_reason()
            started, finished = state.started, state.finished
            results.append(
                ModelResult(
                    unique_id=uid,
                    name=self.plan.names[uid],
                    status=status,
                    execution_class=self.plan.classes[uid].value,
                    attempts=state.attempts,
                    started_at=self.iso(started) if started is not None else None,
                    completed_at=self.iso(finished) if finished is not None and started is not None else None,
                    start_offset_s=started,
                    end_offset_s=finished if started is not None else None,
                    duration_s=(finished - started) if started is not None and finished is not None else 0.0,
                    worker=state.worker,
                    error=error,
                    skipped_because=state.skipped_because,
                    label=self.label,
                    timing=tuple((name, _iso_epoch(s), _iso_epoch(e)) for name, s, e in state.steps),
                )
            )
        return EngineRunResult(
            results=tuple(results),
            wall_time_s=end,
            summed_model_time_s=sum(b - a for a, b in self.intervals),
            parallelism_mean=parallelism_mean,
            parallelism_max=parallelism_max,
            invocations=self.invocations,
            theoretical_speedup=self.plan.max_theoretical_speedup,
            estimated_speedup=self.plan.estimated_speedup,
            max_workers=self.settings.max_workers,
            effective_max_workers=self.workers,
            pressure_events=tuple(self.pressure_events),
            limit_changes=tuple(self.limit_changes),
            fallbacks=tuple(self.fallbacks),
            safety_warnings=self.warnings,
            cancelled=cancelled,
            failed_fast=self.scope.failed_fast,
            label=self.label,
            started_at=self.iso(0.0),
            completed_at=self.iso(end),
        )


def _iso_epoch(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat()
