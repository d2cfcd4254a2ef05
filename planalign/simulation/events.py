"""What a simulation run tells its caller while it runs: `ProgressEvent`s, through `on_progress`.

The CLI's live display (`planalign.cli.progress`) and services embedding the async API consume them; the
orchestrator translates the engine's per-model events into these, tagged with the year and stage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

ProgressKind = Literal[
    "model_started",
    "model_finished",
    "model_skipped",
    "stage_started",
    "stage_finished",
    "year_started",
    "year_finished",
    "limit_changed",
    "run_planned",
    "phase_started",
]


@dataclass(frozen=True)
class ProgressEvent:
    """What `on_progress` receives. `year` is None for the once-per-simulation build."""

    kind: ProgressKind
    year: int | None = None
    stage: str | None = None
    unique_id: str | None = None
    status: str | None = None
    in_flight: int | None = None
    limit: int | None = None
    message: str | None = None
    elapsed_s: float = 0.0
    #: How many: the years to build (run_planned), the stage's models (stage_started).
    total: int | None = None


ProgressCallback = Callable[[ProgressEvent], None]
