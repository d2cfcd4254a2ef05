"""The engine's progress events: what the listeners of `ParallelExecutionEngine.execute(listeners=...)`
receive while a run goes on.

The live display, the `run` command's lines and the orchestrator's progress events are built from these;
the report's timeline is built from the results, not from events.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from planalign.engine.results import ModelStatus


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
