"""The boundary between the scheduler and dbt.

The scheduler (`planalign.parallel_execution_engine`) only ever talks to a `ModelInvoker`. The real one,
`DbtInvoker`, runs one model per `dbtRunner().invoke()` call inside the calling worker thread, isolated from
concurrent invocations by `planalign.dbt_isolation`. Tests use fake invokers to exercise scheduling without
dbt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from planalign.manifest import ManifestNode


class OutcomeStatus(StrEnum):
    SUCCESS = "success"
    ERROR = "error"


@dataclass(frozen=True)
class InvocationOutcome:
    """What one attempt at one model produced. Errors are data: an invoker never raises for a model failure.

    `retryable` is False for failures a retry cannot fix (compilation errors, missing relations caused by the
    project itself); the engine retries only retryable failures, up to `max_retries_per_model`.
    """

    status: OutcomeStatus
    message: str | None = None
    retryable: bool = False
    rows_affected: int | None = None

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
