"""The live progress display's bookkeeping (no terminal needed)."""

from __future__ import annotations

import io

from planalign.orchestrator import ProgressEvent
from planalign.progress import ProgressDisplay


def test_skipped_batch_models_leave_the_in_flight_set() -> None:
    display = ProgressDisplay(io.StringIO())
    # A batch of three dispatched at once; `a` fails, so its dependent `b` in the batch is skipped.
    for uid in ("model.p.a", "model.p.b", "model.p.c"):
        display(ProgressEvent("model_started", year=2025, stage="foundation", unique_id=uid))
    display(
        ProgressEvent("model_finished", year=2025, stage="foundation", unique_id="model.p.a", status="error")
    )
    display(
        ProgressEvent("model_skipped", year=2025, stage="foundation", unique_id="model.p.b", status="skipped")
    )
    assert "in flight 1 (c)" in display._render().plain
    display(
        ProgressEvent(
            "model_finished", year=2025, stage="foundation", unique_id="model.p.c", status="success"
        )
    )
    assert "in flight 0 (idle)" in display._render().plain
