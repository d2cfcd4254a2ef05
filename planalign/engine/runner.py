"""The async driver of the scheduler: run a selection of models as fast as the graph and the classes allow.

One coroutine (`_Run.dispatch_loop`) owns the run's `Scheduler`; it and every task that touches it run in the
event loop, so it needs no locks. Each dispatched invocation — one model, or a batch of models — becomes a
task that takes a token of an `anyio.CapacityLimiter` (max_workers tokens; the memory watchdog lowers
`total_tokens` under pressure) and calls the invoker in a worker thread via `anyio.to_thread.run_sync`. When
an invocation returns, its task records each model's outcome and wakes the dispatcher, which starts what has
become ready — there are no wave barriers.

What starts when is the `planalign.engine.scheduler.Scheduler`'s decision (the dispatch policy, priorities
and batch formation are described there); this module drives it with real invocations, and the plan's
estimate drives the same scheduler over simulated time. The invoker runs a batch one model at a time in
dependency order; a model whose dependency in the batch failed is not run, and is skipped with the failure's
other descendants, or re-run with a retried dependency — a batch's retryable failures are retried in the
same worker, with the batch models waiting for them. Each model's recorded start and end are its own (dbt's
node timing), so the parallelism figures count models executing, not models waiting in a batch.

`deterministic_execution=True` (default): ties broken by unique_id, and results listed in the plan's stable
topological order. `False`: ties broken by the order models became ready, results listed in completion
order. Neither affects what a model computes — the scheduler only decides timing; each model sees all of its
dependencies built. `shuffle_dispatch_seed` (tests only) orders ready models at random, to show that results
do not depend on dispatch order.

Cancellation (the awaiting task is cancelled; under `asyncio.run`/`anyio.run` Ctrl-C cancels the main task):
dispatch stops at once; the run's `InvocationScope` is stopped, so that the invocations of this run — and only
this run's, never those of another engine in the process — abort their running queries and start no further
model (the invoker registers each invocation under the scope, which `invoke` makes current in the worker
thread); the engine then waits for the running worker threads to return (a thread cannot be killed; dbt's
materializations replace a relation only when its query completes, so an interrupted model leaves the
previous relation in place); never-started models are recorded CANCELLED; `last_result` is set; the
cancellation is re-raised.

Retries and time limits. Only failures the invoker marks `retryable` (transient: a lock, I/O, memory) are
retried, up to `max_retries_per_model`, each retry logged once with its error; a deterministic failure ends
the model at its first attempt. The final error of a model is data in the result (and in the MODEL_FINISHED
event), which the caller shows — the engine logs it only at debug level, so that one error is printed once.
`model_timeout_seconds` is handed to the invoker through the scope: the invoker interrupts a model running
longer (each model of a batch on its own) and fails it as not retryable.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import anyio

from planalign.engine.graph import ModelDependencyAnalyzer
from planalign.engine.heap import long_lived_heap
from planalign.engine.invocation import (
    BatchModelInvoker,
    InvocationOutcome,
    InvocationScope,
    ModelInvoker,
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
from planalign.engine.scheduler import Scheduler, TieBreak
from planalign.engine.watchdog import (
    DEFAULT_MIN_AVAILABLE_MB,
    MemoryProbe,
    MemoryWatchdog,
    PsutilMemoryProbe,
    format_duckdb_memory_limit,
)
from planalign.errors import ConfigError, ExecutionSafetyError
from planalign.log import get_logger

# Through planalign.log, so that a host that never configures logging gets planalign's lines through stdlib
# `logging` (its own configuration decides), not printed by structlog's default at every level.
log = get_logger("planalign.engine")


@dataclass(frozen=True)
class EngineSettings:
    """The specification's model-parallelization settings (same names and defaults), plus engine knobs.

    `models_per_invocation` caps a batch (see "Batches" in `planalign.engine.scheduler`; 1: one model per
    dbt invocation). `shuffle_dispatch_seed` is for tests: it shuffles the dispatch order among ready models.
    `retry_backoff_s` is the pause before a retry; `watchdog_interval_s` and `min_available_mb` tune the
    memory watchdog (see `planalign.engine.watchdog`). `model_timeout_seconds` is how long one model may
    run before
    the invoker interrupts it (see "Retries and time limits" in the module docstring).
    """

    max_workers: int = 4
    memory_limit_mb: float = 4000.0
    enable_conditional_parallelization: bool = False
    deterministic_execution: bool = True
    resource_monitoring: bool = True
    fallback_on_resource_pressure: bool = True
    validate_execution_safety: bool = True
    abort_on_dependency_conflict: bool = True
    max_retries_per_model: int = 2
    models_per_invocation: int = 64
    shuffle_dispatch_seed: int | None = None
    retry_backoff_s: float = 0.05
    watchdog_interval_s: float = 0.5
    min_available_mb: float = DEFAULT_MIN_AVAILABLE_MB
    model_timeout_seconds: float = 1800.0

    def __post_init__(self) -> None:
        if self.max_workers < 1:
            raise ConfigError(f"max_workers must be at least 1, got {self.max_workers}")
        if self.memory_limit_mb <= 0:
            raise ConfigError(f"memory_limit_mb must be positive, got {self.memory_limit_mb}")
        if self.models_per_invocation < 1:
            raise ConfigError(f"models_per_invocation must be at least 1, got {self.models_per_invocation}")
        if self.max_retries_per_model < 0:
            raise ConfigError(f"max_retries_per_model must be 0 or more, got {self.max_retries_per_model}")
        if self.retry_backoff_s < 0 or self.watchdog_interval_s <= 0:
            raise ConfigError("retry_backoff_s must be >= 0 and watchdog_interval_s > 0")
        if not self.model_timeout_seconds > 0:
            raise ConfigError(f"model_timeout_seconds must be positive, got {self.model_timeout_seconds}")


def duckdb_memory_limit_setting(settings: EngineSettings) -> str | None:
    """The value for DuckDB's `SET memory_limit` when resource monitoring is on (e.g. "4000MB"), else None.

    The engine passes it to the invoker's optional `apply_duckdb_memory_limit(value)` before dispatching;
    callers that own the DuckDB connection can apply it themselves.
    """
    return format_duckdb_memory_limit(settings.memory_limit_mb) if settings.resource_monitoring else None


class EngineEventKind(StrEnum):
    MODEL_STARTED = "model_started"
    MODEL_FINISHED = "model_finished"
    MODEL_RETRY = "model_retry"
    MODEL_SKIPPED = "model_skipped"
    LIMIT_CHANGED = "limit_changed"
    PRESSURE = "pressure"
    FALLBACK = "fallback"


@dataclass(frozen=True)
class EngineEvent:
    """A progress event, delivered to `on_event` in the event loop thread.

    `time` is seconds since the run started, `at` the same instant as ISO-8601. `worker` is the lane,
    `limit` the concurrency limit (on invocations) at that moment, `in_flight` the number of models
    dispatched and not finished, `invocations` the number of invocations running them. MODEL_STARTED is
    sent when a model's invocation starts (for a batch, for all of its models at once); MODEL_FINISHED when
    its invocation has returned.
    """

    kind: EngineEventKind
    time: float
    at: str
    unique_id: str | None = None
    name: str | None = None
    worker: int | None = None
    attempt: int | None = None
    status: ModelStatus | None = None
    limit: int | None = None
    in_flight: int = 0
    invocations: int = 0
    message: str | None = None
    execution_class: str | None = None
    duration_s: float | None = None
    label: str | None = None


class ParallelExecutionEngine:
    """Runs model selections through a `ModelInvoker` under the dispatch policy of
    `planalign.engine.scheduler`.

    `durations` (unique_id or name → seconds, e.g. `results.load_durations(...)` of an earlier run) weights
    the critical path used for priorities and estimates. `memory_probe` replaces the psutil probe (tests);
    `clock` replaces `time.perf_counter` as the monotonic clock of the timeline.
    """

    def __init__(
        self,
        analyzer: ModelDependencyAnalyzer,
        invoker: ModelInvoker,
        settings: EngineSettings | None = None,
        *,
        on_event: Callable[[EngineEvent], None] | None = None,
        memory_probe: MemoryProbe | None = None,
        clock: Callable[[], float] | None = None,
        durations: Mapping[str, float] | None = None,
    ) -> None:
        self.analyzer = analyzer
        self.invoker = invoker
        self.settings = settings if settings is not None else EngineSettings()
        self.on_event = on_event
        self.memory_probe = memory_probe
        self.clock = clock if clock is not None else time.perf_counter
        self.durations = durations
        #: The result of the latest `execute` — also set when it was cancelled (and so returned nothing).
        self.last_result: EngineRunResult | None = None
        #: The plan of the latest `execute`.
        self.last_plan: ExecutionPlan | None = None
        self._on_event_failed = False

    def plan(self, model_ids: Sequence[str], *, label: str | None = None) -> ExecutionPlan:
        """The plan `execute` will follow: the one source of plans and estimates for callers that show them.

        The same selection (ephemeral models dropped), workers (`max_workers`, 1 when the invoker cannot run
        models concurrently — a caller with parallelization off configures `max_workers=1`), batch size
        (`models_per_invocation`, capped by the invoker) and recorded `durations` as `execute`. What a run
        cannot foresee is not in it: a failed safety validation that falls back to one worker, and memory
        pressure lowering the limit while it runs.
        """
        return self._plan(self._runnable(model_ids), self._workers(), label)

    def _runnable(self, model_ids: Sequence[str]) -> tuple[str, ...]:
        analyzer = self.analyzer
        return tuple(uid for uid in analyzer.resolve(model_ids) if not analyzer.inlined(uid))

    def _workers(self) -> int:
        return self.settings.max_workers if self.invoker.supports_concurrency else 1

    def _batch_size(self) -> int:
        invoker = self.invoker
        if self.settings.models_per_invocation <= 1 or not isinstance(invoker, BatchModelInvoker):
            return 1
        return max(1, min(self.settings.models_per_invocation, invoker.max_models_per_invocation))

    def _plan(self, selection: tuple[str, ...], workers: int, label: str | None) -> ExecutionPlan:
        return self.analyzer.plan(
            selection,
            durations=self.durations,
            enable_conditional_parallelization=self.settings.enable_conditional_parallelization,
            max_workers=workers,
            models_per_invocation=self._batch_size(),
            label=label,
        )

    async def execute(
        self,
        model_ids: Sequence[str],
        *,
        vars: Mapping[str, Any],
        label: str | None = None,
        already_built: Collection[str] = (),
    ) -> EngineRunResult:
        """Run the models (unique_ids or names) with these dbt vars; model failures are data in the result.
        Ephemeral models in `model_ids` are not run on their own (see `ModelDependencyAnalyzer.inlined`).

        Raises `SelectionError` (unknown model), `DependencyCycleError`, or `ExecutionSafetyError` (safety
        validation failed and `abort_on_dependency_conflict`). `already_built` names models outside the
        selection whose relations exist, for safety validation.
        """
        t0, wall0 = self.clock(), time.time()  # the run's wall time includes validation and planning
        with long_lived_heap():
            run = self._start(model_ids, already_built, vars=dict(vars), label=label, t0=t0, wall0=wall0)
            result = await run.execute()
        self.last_result = result
        return result

    def _start(
        self,
        model_ids: Sequence[str],
        already_built: Collection[str],
        *,
        vars: dict[str, Any],
        label: str | None,
        t0: float,
        wall0: float,
    ) -> _Run:
        """Validate and plan the selection, falling back to one worker where the settings say so."""
        analyzer = self.analyzer
        settings = self.settings
        selection = self._runnable(model_ids)
        analyzer.check_acyclic()
        workers = settings.max_workers
        fallbacks: list[str] = []

        def fallback(reason: str) -> None:
            fallbacks.append(reason)
            log.warning("falling back to sequential execution", reason=reason, label=label)

        warnings: tuple[str, ...] = ()
        if settings.validate_execution_safety:
            report = analyzer.validate_safety(
                selection,
                already_built=already_built,
                enable_conditional_parallelization=settings.enable_conditional_parallelization,
            )
            warnings = tuple(issue.message for issue in report.warnings)
            for warning in warnings:
                log.debug("execution safety warning", warning=warning, label=label)
            if not report.safe:
                if settings.abort_on_dependency_conflict:
                    raise ExecutionSafetyError(
                        f"safety validation failed for {label or 'the selection'}: {report.describe()}"
                    )
                # Recorded even when already sequential: the run goes ahead despite a failed validation.
                fallback(f"safety validation failed: {'; '.join(i.message for i in report.errors)}")
                workers = 1
        if workers > 1 and not self.invoker.supports_concurrency:
            fallback("the invoker cannot run models concurrently (dbt isolation unavailable)")
            workers = 1
        plan = self._plan(selection, workers, label)
        self.last_plan = plan
        scheduler = Scheduler(
            plan.model_ids,
            plan.dependencies,
            priority=plan.remaining_path,
            runs_alone={uid: plan.runs_alone(uid) for uid in plan.model_ids},
            batch_size=plan.models_per_invocation,
            tie_break=TieBreak.UNIQUE_ID if settings.deterministic_execution else TieBreak.ARRIVAL,
            shuffle_seed=settings.shuffle_dispatch_seed,
        )
        return _Run(
            engine=self,
            plan=plan,
            scheduler=scheduler,
            vars=vars,
            label=label,
            workers=workers,
            t0=t0,
            wall0=wall0,
            limiter=anyio.CapacityLimiter(workers),
            # Worker threads come from anyio's pool; its default limiter (40 threads, process-wide) would
            # silently cap a larger max_workers and be shared with unrelated code, so each run brings its own.
            thread_limiter=anyio.CapacityLimiter(workers),
            scope=InvocationScope(label=label, model_timeout_s=settings.model_timeout_seconds),
            free_lanes=list(range(workers)),
            fallbacks=fallbacks,
            warnings=warnings,
            records={uid: _ModelRecord() for uid in plan.model_ids},
        )

    def _emit(self, event: EngineEvent) -> None:
        if self.on_event is None or self._on_event_failed:
            return
        try:
            self.on_event(event)
        except Exception:
            # A broken progress display must not abort a run half-way: the failure is logged with its
            # traceback and the callback is not called again (rather than logging the same failure per event).
            self._on_event_failed = True
            log.exception("engine on_event callback failed; no further events are delivered", kind=event.kind)


@dataclass
class _ModelRecord:
    """What one model's invocations did, for its result; its status is the scheduler's."""

    attempts: int = 0
    started: float | None = None
    finished: float | None = None
    worker: int | None = None
    error: str | None = None
    skipped_because: str | None = None


@dataclass
class _Run:
    """One `execute` call: the `Scheduler` that decides what starts, plus this run's own I/O state — its
    limiters, lanes and invocation scope, each model's record, and the timeline. Every method runs in the
    event loop thread (the scheduler's thread-safety contract); worker threads only run `invoke`."""

    engine: ParallelExecutionEngine
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
    records: dict[str, _ModelRecord]
    intervals: list[tuple[float, float]] = field(default_factory=list)  # (start, end) of every attempt
    pressure_events: list[PressureEvent] = field(default_factory=list)
    limit_changes: list[LimitChange] = field(default_factory=list)
    invocations: int = 0  # invocations started, retries included
    wake: anyio.Event | None = None

    @property
    def settings(self) -> EngineSettings:
        return self.engine.settings

    # ------------------------------------------------------------------ helpers

    def now(self) -> float:
        return self.engine.clock() - self.t0

    def iso(self, offset: float) -> str:
        return datetime.fromtimestamp(self.wall0 + offset, tz=UTC).isoformat()

    def emit(self, kind: EngineEventKind, **details: Any) -> None:
        offset = self.now()
        self.engine._emit(
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
            self.engine.last_result = result
            log.warning("run cancelled", label=self.label, **result.counts())
            raise
        return self.result(cancelled=False)

    async def apply_memory_limit(self) -> None:
        """Hand DuckDB's memory limit to the invoker if it offers `apply_duckdb_memory_limit(value)`."""
        value = duckdb_memory_limit_setting(self.settings)
        hook = getattr(self.engine.invoker, "apply_duckdb_memory_limit", None)
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
            if self.scheduler.stalled:
                raise RuntimeError(
                    f"scheduler stalled with unresolved models: {self.scheduler.unresolved()[:5]}"
                )
            self.wake = anyio.Event()
            await self.wake.wait()

    def dispatch(self, tg: anyio.abc.TaskGroup) -> None:
        """Start every invocation the scheduler allows now, each on a free lane."""
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
        if outcome.status is OutcomeStatus.NOT_RUN and (blocked or self.scheduler.cancelled):
            failed.add(uid)
            if self.scheduler.cancelled:
                self.finish(uid, ModelStatus.CANCELLED, "run cancelled before the model started")
            return
        if outcome.status is OutcomeStatus.NOT_RUN:  # nothing before it failed: a failed attempt, then
            outcome = InvocationOutcome(
                OutcomeStatus.ERROR, f"dbt did not run the model: {outcome.message}", retryable=True
            )
        state.attempts += 1
        began, ended = self.span_of(outcome, start, end)
        if state.started is None:
            state.started = began
        self.intervals.append((began, ended))
        if outcome.ok:
            self.finish(uid, ModelStatus.SUCCESS, None, at=ended)
            return
        failed.add(uid)
        message = outcome.message
        if self.scheduler.cancelled:
            self.finish(uid, ModelStatus.CANCELLED, message or "interrupted by cancellation", at=ended)
        elif outcome.retryable and state.attempts <= self.settings.max_retries_per_model:
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
        nodes = [self.engine.analyzer.node(uid) for uid in members]
        invoker = self.engine.invoker
        try:
            with use_scope(self.scope):
                if len(nodes) == 1:
                    return {members[0]: invoker.run_model(nodes[0], vars=self.vars)}
                assert isinstance(invoker, BatchModelInvoker)
                return invoker.run_models(nodes, vars=self.vars)
        except Exception as exc:
            log.exception("invoker raised instead of returning an outcome", models=[n.name for n in nodes])
            failed = InvocationOutcome(OutcomeStatus.ERROR, f"invoker raised {type(exc).__name__}: {exc}")
            return dict.fromkeys(members, failed)

    def finish(self, uid: str, status: ModelStatus, error: str | None, *, at: float | None = None) -> None:
        state = self.records[uid]
        state.error = error
        state.finished = self.now() if at is None else at
        self.scheduler.resolve(uid, status)
        node = self.engine.analyzer.node(uid)
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
        self.wake_dispatcher()

    def skipped(self, uid: str, failed: str) -> None:
        self.records[uid].skipped_because = failed
        self.emit(
            EngineEventKind.MODEL_SKIPPED,
            unique_id=uid,
            name=self.engine.analyzer.node(uid).name,
            status=ModelStatus.SKIPPED,
            message=f"skipped because {self.engine.analyzer.node(failed).name} failed",
        )

    # ------------------------------------------------------------------ memory

    async def watch_memory(self, scope: anyio.CancelScope) -> None:
        probe = self.engine.memory_probe if self.engine.memory_probe is not None else PsutilMemoryProbe()
        watchdog = MemoryWatchdog(
            self.limiter,
            probe,
            self.settings.memory_limit_mb,
            interval_s=self.settings.watchdog_interval_s,
            min_available_mb=self.settings.min_available_mb,
            on_event=self.on_pressure,
            act=self.settings.fallback_on_resource_pressure,
            clock=self.engine.clock,
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
                status, error = ModelStatus.CANCELLED, "run cancelled before the model started"
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
            label=self.label,
            started_at=self.iso(0.0),
            completed_at=self.iso(end),
        )
