"""The boundary between the scheduler and dbt.

The scheduler (`planalign.parallel_execution_engine`) only ever talks to a `ModelInvoker`. The real one,
`DbtInvoker`, runs one model — or, as a `BatchModelInvoker`, several — per `dbtRunner().invoke()` call
inside the calling worker thread, isolated from concurrent invocations by `planalign.dbt_isolation`. Tests use
fake invokers to exercise scheduling without dbt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from planalign.manifest import ManifestNode


class OutcomeStatus(StrEnum):
    """`NOT_RUN`: the invocation did not run the model — in a batch, because a model before it in the batch
    did not succeed, or because the run was being cancelled. It is not an attempt."""

    SUCCESS = "success"
    ERROR = "error"
    NOT_RUN = "not_run"


@dataclass(frozen=True)
class InvocationOutcome:
    """What one attempt at one model produced. Errors are data: an invoker never raises for a model failure.

    `retryable` is False for failures a retry cannot fix (compilation errors, missing relations caused by the
    project itself); the engine retries only retryable failures, up to `max_retries_per_model`.

    `started_at` / `completed_at` (epoch seconds, `time.time()`) are when the model itself began and ended
    inside its invocation (dbt's node timing), if the invoker knows; the engine otherwise uses the span of
    the whole invocation.
    """

    status: OutcomeStatus
    message: str | None = None
    retryable: bool = False
    rows_affected: int | None = None
    started_at: float | None = None
    completed_at: float | None = None

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
    yet started when the invoker's `interrupt_all()` is called. `max_models_per_invocation` is the largest
    batch it accepts (1 when batches are not safe, e.g. without a way to stop a batch on cancellation).
    """

    @property
    def max_models_per_invocation(self) -> int: ...

    def run_models(
        self, nodes: Sequence[ManifestNode], *, vars: Mapping[str, Any]
    ) -> Mapping[str, InvocationOutcome]: ...
