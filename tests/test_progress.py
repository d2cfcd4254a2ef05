"""The live progress display's bookkeeping (no terminal needed)."""

from __future__ import annotations

import io

from planalign.cli.progress import ProgressDisplay
from planalign.simulation.events import ProgressEvent


def test_skipped_batch_models_leave_the_in_flight_set() -> None:
    display = ProgressDisplay(io.StringIO())
    display(ProgressEvent("stage_started", year=2025, stage="foundation", total=3))
    # A batch of three dispatched at once; `a` fails, so its dependent `b` in the batch is skipped.
    for uid in ("model.p.a", "model.p.b", "model.p.c"):
        display(ProgressEvent("model_started", year=2025, stage="foundation", unique_id=uid))
    display(
        ProgressEvent("model_finished", year=2025, stage="foundation", unique_id="model.p.a", status="error")
    )
    display(
        ProgressEvent("model_skipped", year=2025, stage="foundation", unique_id="model.p.b", status="skipped")
    )
    assert "1 running: c" in display.render_text()
    assert "2/3 models" in display.render_text()  # the failed and the skipped model are done with
    display(
        ProgressEvent(
            "model_finished", year=2025, stage="foundation", unique_id="model.p.c", status="success"
        )
    )
    text = display.render_text()
    assert "running" not in text and "between steps" in text
