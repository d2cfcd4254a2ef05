"""`planalign run`'s progress on a terminal: the per-model lines `dbt run` prints, plus a live status line
(N/M models, what runs) that log lines do not overwrite; `--log-format json` stays one object per line."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from planalign.cli.run_display import RunProgress
from planalign.engine.results import ModelStatus
from planalign.engine.runner import EngineEvent, EngineEventKind
from planalign.log import configure_logging, get_logger
from tests.fixtures.terminal import lock_guard, screen

WIDTH = 80


def started(name: str, t: float, limit: int = 4) -> EngineEvent:
    return EngineEvent(
        EngineEventKind.MODEL_STARTED, t, "", unique_id=f"model.p.{name}", name=name, limit=limit
    )


def finished(name: str, t: float) -> EngineEvent:
    return EngineEvent(
        EngineEventKind.MODEL_FINISHED,
        t,
        "",
        unique_id=f"model.p.{name}",
        name=name,
        status=ModelStatus.SUCCESS,
        duration_s=1.0,
        limit=4,
    )


def test_run_has_a_live_line_that_log_lines_do_not_overwrite() -> None:
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=WIDTH, color_system=None)
    configure_logging(fmt="console", stream=stream)
    with RunProgress(3, console=console, auto_refresh=False) as progress:
        assert progress.live_mode
        progress(started("orders", 0.5))
        progress(started("customers", 0.5))
        progress(finished("orders", 10.0))
        get_logger("planalign.engine").info("model_retry", model="customers")
        text = progress.render_text()
        assert "1/3 models" in text and "ETA 0:20" in text and "1 running" in text and "customers" in text
        live = screen(stream.getvalue(), width=WIDTH)
        assert any("1/3 models" in row for row in live), live
    rows = screen(stream.getvalue(), width=WIDTH)
    assert any("1/3 SUCCESS   orders in 1.00s" in row for row in rows), rows
    retry = [row for row in rows if "model_retry" in row]
    assert len(retry) == 1 and "models" not in retry[0], rows
    assert not [row for row in rows if "/3 models" in row], rows  # the live line leaves no stale copy


def test_run_json_lines_have_no_live_line() -> None:
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=WIDTH)
    with RunProgress(1, stream, json_lines=True, console=console, auto_refresh=False) as progress:
        assert not progress.live_mode
        progress(started("orders", 0.1))
        progress(finished("orders", 0.2))
    kinds = [json.loads(line)["kind"] for line in stream.getvalue().splitlines()]
    assert kinds == ["model_started", "model_finished"]


def test_off_a_terminal_run_prints_plain_lines_only() -> None:
    stream = io.StringIO()
    with RunProgress(1, stream) as progress:
        progress(started("orders", 0.1))
        progress(finished("orders", 0.2))
    assert stream.getvalue().splitlines() == ["[    0.2s]    1/1 SUCCESS   orders in 1.00s"]


def test_run_progress_never_draws_while_holding_its_own_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    """As for the simulation's display: drawing under the lock that `_render` takes inside rich's refresh
    thread would deadlock against that thread and freeze the line."""
    console = Console(file=io.StringIO(), force_terminal=True, width=WIDTH, color_system=None)
    progress = RunProgress(2, console=console, auto_refresh=False)
    held: list[str] = []

    guard = lock_guard(progress, held)

    monkeypatch.setattr(console, "print", guard("print", console.print))
    with progress:
        assert progress._live is not None
        monkeypatch.setattr(progress._live, "refresh", guard("refresh", progress._live.refresh))
        progress(started("orders", 0.1))
        progress(finished("orders", 0.2))
    assert held == []
