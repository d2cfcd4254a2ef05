"""`planalign run --log-level debug` shows more than `info` (#26 leftover: it behaved exactly like info,
because a successful run logs nothing at debug): each invocation's models, its seconds and outcomes, and (in
the real invoker) the dbt command line it ran. The engine runs fake models here; `configure_output` is what
`planalign run` calls with its flags."""

from __future__ import annotations

import anyio
import pytest

from planalign.cli.run import configure_output
from planalign.engine.runner import EngineSettings, ParallelExecutionEngine
from planalign.project_run.flags import DbtFlags
from tests.engine.fakes import FakeInvoker, make_analyzer

GRAPH = {"orders": [], "payments": ["orders"]}


def _run_with(flags: DbtFlags, capsys: pytest.CaptureFixture[str]) -> str:
    configure_output(flags, "default")
    capsys.readouterr()
    engine = ParallelExecutionEngine(make_analyzer(GRAPH), FakeInvoker(duration=0.0), EngineSettings())

    async def run() -> None:
        result = await engine.execute(list(GRAPH), vars={}, label="run")
        assert result.success

    anyio.run(run)
    captured = capsys.readouterr()
    return captured.out + captured.err


def test_debug_shows_each_invocation_with_its_models_time_and_outcome(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = _run_with(DbtFlags(log_level="debug"), capsys)
    started = [line for line in text.splitlines() if "invocation started" in line]
    finished = [line for line in text.splitlines() if "invocation finished" in line]
    assert len(started) == 2 and len(finished) == 2, text
    assert any("orders" in line for line in finished) and any("payments" in line for line in finished)
    assert all("seconds=" in line and "success" in line for line in finished), finished


@pytest.mark.parametrize("level", ["info", "warn", "error", "none"])
def test_other_levels_do_not(level: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert "invocation" not in _run_with(DbtFlags(log_level=level), capsys)


def test_quiet_is_error_level(capsys: pytest.CaptureFixture[str]) -> None:
    assert "invocation" not in _run_with(DbtFlags(log_level="debug", quiet=True), capsys)
