"""The boundary between the scheduler and dbt.

The scheduler (`planalign.engine.runner`) only ever talks to a `ModelInvoker`. The real one,
`DbtInvoker`, runs one model — or, as a `BatchModelInvoker`, several — per `dbtRunner().invoke()` call
inside the calling worker thread, isolated from concurrent invocations by `planalign.dbt.isolation`. Tests use
fake invokers to exercise scheduling without dbt.

Stopping is scoped. The engine runs every invoker call of one `execute` inside that run's `InvocationScope`
(`use_scope`, in the worker thread); an invoker that can stop what it runs registers each invocation under
`current_scope()`, and the engine's cancellation stops only that scope. Several engines in one process (a
service running two simulations) therefore never stop each other's invocations.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from planalign.engine.nodes import ManifestNode

#: The configuration key of the per-model time limit, named in the error of a model that exceeds it.
MODEL_TIMEOUT_SETTING = "orchestrator.threading.model_parallelization.safety.model_timeout_seconds"


class OutcomeStatus(StrEnum):
    """`NOT_RUN`: the invocation did not run the model — in a batch, because a model before it in the batch
    did not succeed, or because the run was being cancelled. It is not an attempt."""

    SUCCESS = "success"
    ERROR = "error"
    NOT_RUN = "not_run"


@dataclass(frozen=True)
class InvocationOutcome:
    """What one attempt at one model produced. Errors are data: an invoker never raises for a model failure.

    `retryable` is True only for failures a retry may fix (a lock held by another process, an I/O error, an
    out-of-memory error); deterministic failures — compilation errors, SQL errors such as a failed
    conversion, an unknown column or table, a violated constraint — and a model that ran out of time are not
    retried. The engine retries only retryable failures, up to `max_retries_per_model`.

    `started_at` / `completed_at` (epoch seconds, `time.time()`) are when the model itself began and ended
    inside its invocation (dbt's node timing), if the invoker knows; the engine otherwise uses the span of
    the whole invocation.
    """

    status: OutcomeStatus
    message: str | None = None
    retryable: bool = False
    started_at: float | None = None
    completed_at: float | None = None
    #: The formatted traceback when the attempt failed with an exception (dbt's or Python's), for debugging.
    traceback: str | None = None
    #: dbt's timing steps of the model in this attempt, (name, start, end) in epoch seconds: `compile` and
    #: `execute`, which dbt's run_results.json lists per node; empty when the invoker does not know them.
    steps: tuple[tuple[str, float, float], ...] = ()

    @property
    def ok(self) -> bool:
        return self.status is OutcomeStatus.SUCCESS


@runtime_checkable
class ModelInvoker(Protocol):
    """Runs one model. Called from worker threads; implementations must be safe to call concurrently when
    `supports_concurrency` is True, and the engine serializes all calls when it is False."""

    @property
    def supports_concurrency(self) -> bool: ...

    def run_model(self, node: ManifestNode, *, vars: Mapping[str, Any]) -> InvocationOutcome: ...


@runtime_checkable
class BatchModelInvoker(ModelInvoker, Protocol):
    """Also runs several models in one invocation, which is how the engine amortizes the fixed cost of an
    invocation (for dbt ~30 ms of set-up, against ~15 ms for compiling and running a small model).

    `run_models` runs the given models — listed in dependency order; each one's dependencies are either
    earlier in the list or already built — one at a time, in that order, and returns an outcome for every
    one of them. A model whose dependency in the batch did not succeed is `NOT_RUN`; so is every model not
    yet started when its `InvocationScope` is stopped. `max_models_per_invocation` is the largest
    batch it accepts (1 when batches are not safe, e.g. without a way to stop a batch on cancellation).
    """

    @property
    def max_models_per_invocation(self) -> int: ...

    def run_models(
        self, nodes: Sequence[ManifestNode], *, vars: Mapping[str, Any]
    ) -> Mapping[str, InvocationOutcome]: ...


@runtime_checkable
class RecordsDurations(Protocol):
    """An invoker that knows the per-model durations its previous run recorded (`DbtInvoker`: the
    `planalign_run_results.json` of its dbt target, which every `planalign run` writes). The engine plans
    with them when its caller gave no `durations`, so a repeated `planalign run` puts the longest remaining
    path in seconds first — the critical-path priority dbt's depth-ordered queue lacks. An empty mapping
    (no earlier run) plans in model counts, as before."""

    def recorded_durations(self) -> Mapping[str, float]: ...


class InvocationScope:
    """The invocations of one engine run: what a cancellation of that run stops, and their time limit.

    An invoker registers a stop hook for each invocation it runs under the current scope (`stoppable`);
    `stop()` calls the hooks of the invocations registered at that moment and, because a scope stays
    stopped, at once the hook of any invocation registered later (one dispatched just before the
    cancellation), so nothing started for a cancelled run runs on. Hooks of other scopes are never called.

    `model_timeout_s` is how long one model may run in an invocation of this scope before the invoker
    interrupts it (None: no limit); see `MODEL_TIMEOUT_SETTING`.

    Fail-fast (`fail_fast=True`, dbt's `--fail-fast`): the first *final* failure of a model — one that will
    not be retried, as `is_final` decides — stops the scope at once, from whichever thread reports it
    (`model_failed`). An invoker that runs several models in one invocation reports each failure as the
    model ends, so the rest of its batch never starts; the engine reports the failures it records itself,
    for invokers that cannot. `failed_fast` names the model that stopped the scope.
    """

    def __init__(
        self,
        *,
        label: str | None = None,
        model_timeout_s: float | None = None,
        fail_fast: bool = False,
        is_final: Callable[[str, bool], bool] | None = None,
    ) -> None:
        """`is_final(unique_id, retryable)`: whether a failure of that model ends it (no retry left); by
        default a failure is final unless it is retryable."""
        if model_timeout_s is not None and not model_timeout_s > 0:
            raise ValueError(f"model_timeout_s must be positive, got {model_timeout_s}")
        self.label = label
        self.model_timeout_s = model_timeout_s
        self.fail_fast = fail_fast
        self._is_final = is_final or (lambda _uid, retryable: not retryable)
        self._failed_fast: str | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self._hooks: dict[int, Callable[[], int]] = {}
        self._ids = itertools.count()

    def __repr__(self) -> str:
        return f"InvocationScope(label={self.label!r}, stopped={self._stopped})"

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def failed_fast(self) -> str | None:
        """The unique_id of the model whose failure stopped this fail-fast scope (None: not stopped so)."""
        return self._failed_fast

    def model_failed(self, unique_id: str, *, retryable: bool) -> bool:
        """Report a failed attempt at `unique_id` (any thread). In a fail-fast scope a final failure stops
        the scope, unless it is stopped already; returns whether this call stopped it."""
        if not self.fail_fast or not self._is_final(unique_id, retryable):
            return False
        with self._lock:
            if self._stopped or self._failed_fast is not None:
                return False
            self._failed_fast = unique_id
        self.stop()
        return True

    @contextmanager
    def stoppable(self, hook: Callable[[], int]) -> Iterator[None]:
        """Hold around one invocation: `hook` stops it (and returns how many queries it interrupted). It is
        called at once if the scope is already stopped."""
        with self._lock:
            key = next(self._ids)
            self._hooks[key] = hook
            stopped = self._stopped
        try:
            if stopped:
                hook()
            yield
        finally:
            with self._lock:
                self._hooks.pop(key, None)

    def stop(self) -> int:
        """Stop every invocation of this scope, now and from now on; returns how many queries were
        interrupted. A hook that raises does not keep the others from running; the first error is raised
        after all of them ran."""
        with self._lock:
            self._stopped = True
            hooks = list(self._hooks.values())
        interrupted = 0
        error: Exception | None = None
        for hook in hooks:
            try:
                interrupted += hook()
            except Exception as exc:
                error = error or exc
        if error is not None:
            raise error
        return interrupted


_CURRENT_SCOPE: ContextVar[InvocationScope | None] = ContextVar("planalign_invocation_scope", default=None)


def current_scope() -> InvocationScope | None:
    """The scope of the invoker call running in this thread (None outside the engine)."""
    return _CURRENT_SCOPE.get()


@contextmanager
def use_scope(scope: InvocationScope) -> Iterator[InvocationScope]:
    """Make `scope` current for the invoker calls made inside (in this thread)."""
    reset = _CURRENT_SCOPE.set(scope)
    try:
        yield scope
    finally:
        _CURRENT_SCOPE.reset(reset)
