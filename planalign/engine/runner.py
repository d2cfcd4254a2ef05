"""The async driver of the scheduler: run a selection of models as fast as the graph and the classes allow.

One coroutine (`EngineRun.dispatch_loop`, in `planalign.engine.run`) owns the run's `Scheduler`; it and
every task that touches it run in the event loop, so it needs no locks. Each dispatched invocation — one
model, or a batch of models — becomes a task that takes a token of an `anyio.CapacityLimiter` (max_workers
tokens; the memory watchdog lowers `total_tokens` under pressure) and calls the invoker in a worker thread
via `anyio.to_thread.run_sync`. When an invocation returns, its task records each model's outcome and wakes
the dispatcher, which starts what has become ready — there are no wave barriers.

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

import dataclasses
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from planalign.engine.events import EngineEvent, EngineEventKind
from planalign.engine.graph import ModelDependencyAnalyzer
from planalign.engine.heap import long_lived_heap
from planalign.engine.invocation import BatchModelInvoker, InvocationScope, ModelInvoker, RecordsDurations
from planalign.engine.plan import ExecutionPlan
from planalign.engine.results import EngineRunResult
from planalign.engine.run import EngineRun, ModelRecord
from planalign.engine.scheduler import Scheduler, TieBreak
from planalign.engine.settings import EngineSettings
from planalign.engine.watchdog import MemoryProbe, format_duckdb_memory_limit
from planalign.errors import ExecutionSafetyError
from planalign.log import get_logger

#: The engine's public API; its event types are part of it (`execute(listeners=...)` receive them).
__all__ = [
    "EngineEvent",
    "EngineEventKind",
    "EngineSettings",
    "InvokerCapabilities",
    "ParallelExecutionEngine",
    "capabilities_of",
    "duckdb_memory_limit_setting",
    "plan_for",
]

# Through planalign.log, so that a host that never configures logging gets planalign's lines through stdlib
# `logging` (its own configuration decides), not printed by structlog's default at every level.
log = get_logger("planalign.engine")


@dataclass(frozen=True)
class InvokerCapabilities:
    """What the invoker can do, as far as a plan depends on it: run invocations at once (`concurrent`), and
    how many models one invocation may run (`max_models_per_invocation`; 1: no batches). A run takes them
    from its invoker (`capabilities_of`); a view that runs nothing from what the invoker would be
    (`planalign.dbt.workers.capabilities`)."""

    concurrent: bool
    max_models_per_invocation: int = 1


def capabilities_of(invoker: ModelInvoker) -> InvokerCapabilities:
    """An invoker's capabilities (`BatchModelInvoker`s batch; a plain `ModelInvoker` runs one model)."""
    batch = invoker.max_models_per_invocation if isinstance(invoker, BatchModelInvoker) else 1
    return InvokerCapabilities(bool(invoker.supports_concurrency), max(1, batch))


def plan_for(
    analyzer: ModelDependencyAnalyzer,
    model_ids: Sequence[str],
    settings: EngineSettings,
    capabilities: InvokerCapabilities,
    durations: Mapping[str, float] | None = None,
    *,
    label: str | None = None,
    workers: int | None = None,
) -> ExecutionPlan:
    """The one plan function: the plan of `model_ids` (ephemeral ones dropped) under these settings, with an
    invoker of these capabilities and these recorded per-model `durations` — what a run follows
    (`ParallelExecutionEngine.plan`, `execute`) and what every view that runs nothing shows (`planalign
    plan`, `info`, `validate`, the specification's API), so that the estimate shown is the one recorded.

    Workers: `max_workers`, 1 when the invoker cannot run invocations at once (`workers` overrides, for a
    run that fell back to one worker). Batch size: `models_per_invocation`, capped by the invoker."""
    selection = [uid for uid in analyzer.resolve(model_ids) if not analyzer.inlined(uid)]
    if workers is None:
        workers = settings.max_workers if capabilities.concurrent else 1
    batch = 1
    if settings.models_per_invocation > 1:
        batch = max(1, min(settings.models_per_invocation, capabilities.max_models_per_invocation))
    return analyzer.plan(
        selection,
        durations=durations,
        enable_conditional_parallelization=settings.enable_conditional_parallelization,
        max_workers=workers,
        models_per_invocation=batch,
        label=label,
    )


def duckdb_memory_limit_setting(settings: EngineSettings) -> str | None:
    """The value for DuckDB's `SET memory_limit` when resource monitoring is on (e.g. "4000MB"), else None.

    The engine passes it to the invoker's optional `apply_duckdb_memory_limit(value)` before dispatching;
    callers that own the DuckDB connection can apply it themselves.
    """
    return format_duckdb_memory_limit(settings.memory_limit_mb) if settings.resource_monitoring else None


class Listeners:
    """The event listeners of one `execute` call, as one callable: each event goes to each listener in turn.
    A listener that raises is logged with its traceback and not called again in this run — a broken
    progress display must not abort a run half-way, nor log the same failure per event — while the other
    listeners go on receiving. Called from the run's event-loop thread only."""

    def __init__(self, listeners: Sequence[Callable[[EngineEvent], None]]) -> None:
        self._listeners = list(listeners)

    def __call__(self, event: EngineEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                self._listeners.remove(listener)
                log.exception("engine event listener failed; it receives no further events", kind=event.kind)


class ParallelExecutionEngine:
    """Runs model selections through a `ModelInvoker` under the dispatch policy of
    `planalign.engine.scheduler`.

    `durations` (unique_id or name → seconds, e.g. `results.load_durations(...)` of an earlier run) weights
    the critical path used for priorities and estimates; when None, an invoker that `RecordsDurations`
    supplies its previous run's, read once at the first plan (so `planalign run` reuses its last run's).
    `memory_probe` replaces the psutil probe (tests);
    `clock` replaces `time.perf_counter` as the monotonic clock of the timeline.
    """

    def __init__(
        self,
        analyzer: ModelDependencyAnalyzer,
        invoker: ModelInvoker,
        settings: EngineSettings | None = None,
        *,
        memory_probe: MemoryProbe | None = None,
        clock: Callable[[], float] | None = None,
        durations: Mapping[str, float] | None = None,
    ) -> None:
        self.analyzer = analyzer
        self.invoker = invoker
        self.settings = settings if settings is not None else EngineSettings()
        self.memory_probe = memory_probe
        self.clock = clock if clock is not None else time.perf_counter
        self.durations = durations
        #: The result of the latest `execute` — also set when it was cancelled (and so returned nothing).
        self.last_result: EngineRunResult | None = None
        #: The plan of the latest `execute`.
        self.last_plan: ExecutionPlan | None = None

    def plan(self, model_ids: Sequence[str], *, label: str | None = None) -> ExecutionPlan:
        """The plan `execute` will follow: the one source of plans and estimates for callers that show them.

        The same selection (ephemeral models dropped), workers (`max_workers`, 1 when the invoker cannot run
        models concurrently — a caller with parallelization off configures `max_workers=1`), batch size
        (`models_per_invocation`, capped by the invoker) and recorded `durations` as `execute`. What a run
        cannot foresee is not in it: a failed safety validation that falls back to one worker, and memory
        pressure lowering the limit while it runs.
        """
        return self._plan(model_ids, None, label)

    def _runnable(self, model_ids: Sequence[str]) -> tuple[str, ...]:
        analyzer = self.analyzer
        return tuple(uid for uid in analyzer.resolve(model_ids) if not analyzer.inlined(uid))

    def _durations(self) -> Mapping[str, float] | None:
        if self.durations is None and isinstance(self.invoker, RecordsDurations):
            self.durations = dict(self.invoker.recorded_durations())
        return self.durations

    def _plan(self, model_ids: Sequence[str], workers: int | None, label: str | None) -> ExecutionPlan:
        return plan_for(
            self.analyzer,
            model_ids,
            self.settings,
            capabilities_of(self.invoker),
            self._durations(),
            label=label,
            workers=workers,
        )

    def replace(self, **changes: Any) -> ParallelExecutionEngine:
        """A new engine with the same collaborators (analyzer, invoker, memory probe, clock,
        recorded durations) and these changes: `settings=`, or any field of `EngineSettings` by name."""
        settings = changes.pop("settings", self.settings)
        fields = {f for f in EngineSettings.__dataclass_fields__}
        settings = dataclasses.replace(settings, **{k: changes.pop(k) for k in list(changes) if k in fields})
        kwargs: dict[str, Any] = {
            "memory_probe": self.memory_probe,
            "clock": self.clock,
            "durations": self.durations,
        }
        unknown = set(changes) - {"analyzer", "invoker", *kwargs}
        if unknown:
            raise TypeError(f"ParallelExecutionEngine.replace() got unknown fields {sorted(unknown)}")
        kwargs.update({k: v for k, v in changes.items() if k in kwargs})
        return ParallelExecutionEngine(
            changes.get("analyzer", self.analyzer), changes.get("invoker", self.invoker), settings, **kwargs
        )

    async def execute(
        self,
        model_ids: Sequence[str],
        *,
        vars: Mapping[str, Any],
        label: str | None = None,
        already_built: Collection[str] = (),
        fail_fast: bool | None = None,
        listeners: Sequence[Callable[[EngineEvent], None]] = (),
    ) -> EngineRunResult:
        """Run the models (unique_ids or names) with these dbt vars; model failures are data in the result.
        Ephemeral models in `model_ids` are not run on their own (see `ModelDependencyAnalyzer.inlined`).

        `fail_fast` (dbt's `--fail-fast`; None: `settings.fail_fast`): the first model that fails for good
        stops the run — nothing new starts (not even the rest of a running batch), running queries are
        interrupted, and every model not finished is CANCELLED, its error saying the run failed fast
        (`EngineRunResult.failed_fast` names the model). The call returns the result; it does not raise.

        `listeners` receive this run's `EngineEvent`s (progress, the report's timeline), and only this run's:
        one engine may run several selections at once, each shown by its own display (as anyio and prefect
        take listeners per call). A listener that raises is logged once and not called again in this run.

        Raises `SelectionError` (unknown model), `DependencyCycleError`, or `ExecutionSafetyError` (safety
        validation failed and `abort_on_dependency_conflict`). `already_built` names models outside the
        selection whose relations exist, for safety validation.
        """
        t0, wall0 = self.clock(), time.time()  # the run's wall time includes validation and planning
        with long_lived_heap():
            run = self._start(
                model_ids,
                already_built,
                vars=dict(vars),
                label=label,
                t0=t0,
                wall0=wall0,
                fail_fast=self.settings.fail_fast if fail_fast is None else fail_fast,
                listeners=listeners,
            )
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
        fail_fast: bool = False,
        listeners: Sequence[Callable[[EngineEvent], None]] = (),
    ) -> EngineRun:
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
        records = {uid: ModelRecord() for uid in plan.model_ids}

        def is_final(uid: str, retryable: bool) -> bool:
            # Read from invoker threads: `attempts` changes only between this model's invocations.
            record = records.get(uid)
            attempts = record.attempts + 1 if record is not None else 1
            return not retryable or attempts > settings.max_retries_per_model

        def cancelled(result: EngineRunResult) -> None:
            self.last_result = result

        return EngineRun(
            analyzer=analyzer,
            invoker=self.invoker,
            settings=settings,
            clock=self.clock,
            emit_event=Listeners(listeners),
            memory_probe=self.memory_probe,
            on_cancelled=cancelled,
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
            scope=InvocationScope(
                label=label,
                model_timeout_s=settings.model_timeout_seconds,
                fail_fast=fail_fast,
                is_final=is_final,
            ),
            free_lanes=list(range(workers)),
            fallbacks=fallbacks,
            warnings=warnings,
            records=records,
            duckdb_memory_limit=duckdb_memory_limit_setting(settings),
        )
