"""planalign.log: one structlog configuration for structlog and stdlib loggers, console or JSON lines."""

from __future__ import annotations

import io
import json
import logging
import threading

import pytest

from planalign.log import configure_library_logging, configure_logging, get_logger


def json_lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_format_writes_one_object_per_line_from_every_source() -> None:
    stream = io.StringIO()
    configure_logging(fmt="json", stream=stream)
    log = get_logger("planalign.test", run_id="r1")
    log.info("stage finished", stage="foundation", models=8, wall_time_s=1.25)
    logging.getLogger("planalign.stdlib").warning("plain %s logging", "stdlib")
    worker = threading.Thread(target=lambda: get_logger("planalign.worker").info("from a worker", lane=2))
    worker.start()
    worker.join()

    first, second, third = json_lines(stream)
    assert list(first)[:4] == ["timestamp", "level", "logger", "event"]
    assert {
        k: first[k] for k in ("level", "logger", "event", "run_id", "stage", "models", "wall_time_s")
    } == {
        "level": "info",
        "logger": "planalign.test",
        "event": "stage finished",
        "run_id": "r1",
        "stage": "foundation",
        "models": 8,
        "wall_time_s": 1.25,
    }
    assert str(first["timestamp"]).endswith("Z")
    assert (second["logger"], second["level"], second["event"]) == (
        "planalign.stdlib",
        "warning",
        "plain stdlib logging",
    )
    assert (third["event"], third["lane"]) == ("from a worker", 2)


def test_json_exceptions_are_structured_without_locals() -> None:
    stream = io.StringIO()
    configure_logging(fmt="json", stream=stream)
    secret = "do-not-log-me"
    try:
        raise RuntimeError("model failed")
    except RuntimeError:
        get_logger("planalign.test").exception("stage failed", secret_len=len(secret))
    [record] = json_lines(stream)
    assert record["level"] == "error"
    exceptions = record["exception"]
    assert isinstance(exceptions, list) and len(exceptions) == 1
    exc = exceptions[0]
    assert (exc["exc_type"], exc["exc_value"]) == ("RuntimeError", "model failed")
    assert "do-not-log-me" not in stream.getvalue()


def test_console_format_is_readable_and_uncoloured_off_a_terminal() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)
    get_logger("planalign.test").info("engine initialized", max_workers=4)
    line = stream.getvalue()
    assert "engine initialized" in line and "max_workers=4" in line and "planalign.test" in line
    assert "\x1b[" not in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_reconfiguring_replaces_instead_of_stacking() -> None:
    first, second = io.StringIO(), io.StringIO()
    log = get_logger("planalign.test")  # obtained before any configuration
    configure_logging(fmt="console", stream=first)
    configure_logging(fmt="json", stream=second)
    log.info("once")
    assert first.getvalue() == ""
    assert [r["event"] for r in json_lines(second)] == ["once"]


@pytest.mark.parametrize("verbose", [False, True])
def test_verbose_controls_debug_and_third_party_info(verbose: bool) -> None:
    stream = io.StringIO()
    configure_logging(fmt="json", verbose=verbose, stream=stream)
    get_logger("planalign.test").debug("plan detail")
    get_logger("planalign.test").info("stage finished")
    logging.getLogger("some.library").info("library chatter")
    logging.getLogger("some.library").warning("library warning")
    events = [r["event"] for r in json_lines(stream)]
    if verbose:
        assert events == ["plan detail", "stage finished", "library chatter", "library warning"]
    else:
        assert events == ["stage finished", "library warning"]


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="log format"):
        configure_logging(fmt="xml")  # type: ignore[arg-type]


def test_embedded_use_hands_events_to_the_hosts_logging(caplog: pytest.LogCaptureFixture) -> None:
    """Without `configure_logging`, a host's stdlib logging setup decides; planalign adds no handler."""
    configure_library_logging()
    handlers = list(logging.getLogger().handlers)
    caplog.set_level(logging.INFO, logger="planalign")
    log = get_logger("planalign.embedded", run_id="r7")
    log.info("stage finished", models=8)
    try:
        raise KeyError("missing")
    except KeyError:
        log.exception("stage failed")
    assert logging.getLogger().handlers == handlers
    info, error = caplog.records
    assert (info.name, info.levelname, info.getMessage()) == (
        "planalign.embedded",
        "INFO",
        "stage finished run_id='r7' models=8",
    )
    assert error.getMessage() == "stage failed run_id='r7'"
    assert error.exc_info is not None and error.exc_info[0] is KeyError
