"""Logging: one structlog configuration, in one place.

Both structlog loggers (`get_logger`) and plain `logging` loggers (libraries, anything using
`logging.getLogger`) go through one stdlib handler on the root logger, so every line — from the main thread
or a dbt worker thread — has the same shape and goes to the same stream:

- `console` (default): readable `HH:MM:SS level     event  key=value … [logger]` lines, coloured on a
  terminal (unless `NO_COLOR` is set);
- `json`: one JSON object per line with `timestamp` (ISO 8601, UTC), `level`, `logger`, `event` and the bound
  keys; exceptions as structured tracebacks.

Levels: planalign's loggers log at INFO and above, DEBUG too with `verbose`; other libraries' loggers only
WARNING and above (INFO with `verbose`), so third-party chatter never buries the simulation's output.

`configure_logging` is idempotent: calling it again replaces the previous configuration (format, level,
stream) instead of stacking handlers. Loggers obtained before a reconfiguration follow the new one.

While a live display is up (`planalign.cli.progress`), `log_to_console(console)` writes every line through
that
display's rich `Console`, which prints it above the live status line. Writing to the terminal directly would
put the line onto the status line, and the next refresh would erase the wrong row and leave a stale copy.

Embedded use (a service importing planalign, never calling `configure_logging`): unless the host has
configured structlog itself, importing this module routes planalign's structlog loggers into plain `logging`
as `event key=value` messages and adds no handler, so the host's logging configuration decides what is shown
and where — nothing is printed to stdout behind its back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

import structlog
from structlog.typing import EventDict, Processor

if TYPE_CHECKING:
    from rich.console import Console

LogFormat = Literal["console", "json"]

#: Loggers under this name are planalign's own and follow `verbose`; everything else is "third party".
PACKAGE_LOGGER = "planalign"

_HANDLER_NAME = "planalign-structlog"


def configure_logging(
    *,
    fmt: LogFormat = "console",
    verbose: bool = False,
    stream: TextIO | None = None,
) -> None:
    """Route structlog and stdlib logging to `stream` (default: the current `sys.stderr`) in `fmt`."""
    if fmt not in ("console", "json"):
        raise ValueError(f"log format must be 'console' or 'json', not {fmt!r}")
    out = stream if stream is not None else sys.stderr

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Processor
    if fmt == "json":
        shared.append(structlog.processors.TimeStamper(fmt="iso", utc=True))
        final: list[Processor] = [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            _leading_keys_first,
        ]
        renderer = structlog.processors.JSONRenderer(default=str)
    else:
        shared.append(structlog.processors.TimeStamper(fmt="%H:%M:%S", utc=False))
        final = [structlog.stdlib.ProcessorFormatter.remove_processors_meta, _short_paths]
        renderer = structlog.dev.ConsoleRenderer(
            colors=_wants_colour(out), exception_formatter=structlog.dev.plain_traceback
        )

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )

    handler = logging.StreamHandler(out)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[*final, renderer],
        )
    )

    root = logging.getLogger()
    # A library's import-time `logging.basicConfig()` (snowplow_tracker, which dbt imports) leaves a handler
    # printing `WARNING:planalign.engine:...` beside ours: ours replaces it.
    for old in [h for h in root.handlers if _is_basic_config(h)]:
        root.removeHandler(old)
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger(PACKAGE_LOGGER).setLevel(logging.DEBUG if verbose else logging.INFO)


def _is_basic_config(handler: logging.Handler) -> bool:
    """The handler `logging.basicConfig()` adds: an unnamed stream handler with the stdlib's basic format."""
    formatter = handler.formatter
    return (
        type(handler) is logging.StreamHandler
        and handler.get_name() is None
        and formatter is not None
        and formatter._fmt == logging.BASIC_FORMAT
    )


class _ConsoleWriter:
    """A text stream that hands each complete line to a rich `Console` (which, while a `Live` display is up,
    prints it above the display). The line is already rendered (by the log's formatter), so rich adds no
    markup, highlighting or wrapping of its own; ANSI colours the renderer put in are kept."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._pending = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        from rich.text import Text

        with self._lock:
            self._pending += text
            *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self.console.print(Text.from_ansi(line), soft_wrap=True, highlight=False, markup=False)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            rest, self._pending = self._pending, ""
        if rest:
            self.write(rest + "\n")

    def isatty(self) -> bool:
        return self.console.is_terminal


@contextlib.contextmanager
def log_to_console(console: Console) -> Iterator[None]:
    """For the duration, every line of planalign's log handler goes through `console` (see the module
    docstring); afterwards to its own stream again. Without `configure_logging` (embedded use) there is no
    handler of ours and nothing changes: the host's handlers are the host's business."""
    handlers = [h for h in logging.getLogger().handlers if h.get_name() == _HANDLER_NAME]
    swapped: list[tuple[logging.StreamHandler[Any], Any]] = []
    writer = _ConsoleWriter(console)
    for handler in handlers:
        if isinstance(handler, logging.StreamHandler):
            swapped.append((handler, handler.setStream(writer)))
    try:
        yield
    finally:
        writer.flush()
        for handler, stream in swapped:
            handler.setStream(stream)


def configure_library_logging() -> None:
    """Hand planalign's structlog events to stdlib `logging` as plain messages, adding no handler (the host
    application's logging setup applies). Done at import unless structlog is already configured."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            _render_plain,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


_KEY_VALUES = structlog.processors.KeyValueRenderer(sort_keys=False)


def _render_plain(logger: Any, method: str, event_dict: EventDict) -> tuple[tuple[str], dict[str, Any]]:
    """`stage finished models=8`: the event as text, then the bound keys, for a host's own log format;
    an exception goes to `logging` as `exc_info`, so the host's formatter renders it as it does any other."""
    exc_info = event_dict.pop("exc_info", None)
    event = str(event_dict.pop("event", ""))
    rest = _KEY_VALUES(logger, method, event_dict) if event_dict else ""
    return ((f"{event} {rest}" if rest else event),), ({"exc_info": exc_info} if exc_info else {})


def get_logger(name: str, **initial_values: Any) -> structlog.stdlib.BoundLogger:
    """A structlog logger named `name` (use `__name__`), optionally with keys bound to every line."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name, **initial_values)
    return logger


_LEADING_KEYS = ("timestamp", "level", "logger", "event")


def _leading_keys_first(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """JSON lines read better (and diff better) with the fixed keys first, then the bound ones."""
    ordered = {key: event_dict.pop(key) for key in _LEADING_KEYS if key in event_dict}
    ordered.update(event_dict)
    return ordered


def _wants_colour(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


if not structlog.is_configured():
    configure_library_logging()


def shown_path(path: str | os.PathLike[str], *, cwd: Path | None = None, home: Path | None = None) -> str:
    """A path as a person reads it on their terminal: relative to the working directory when inside it,
    else under `~` when inside the home directory, else as given. Machine paths such as
    /home/alice/work/planalign/runs/... say nothing the short form does not, and push the message off the
    line. (JSON logs keep full paths: a program reads those.)"""
    given = Path(path)
    absolute = given if given.is_absolute() else Path.cwd() / given
    for base, prefix in ((cwd or Path.cwd(), ""), (home or Path.home(), "~/")):
        try:
            inside = absolute.relative_to(base)
        except ValueError:
            continue
        text = str(inside)
        return (prefix + text) if text != "." else (prefix.rstrip("/") or ".")
    return str(given)


def _short_paths(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """Console logs: every absolute path among the values shown as `shown_path` does."""
    for key, value in list(event_dict.items()):
        if key != "event" and isinstance(value, str) and os.path.isabs(value) and "\n" not in value:
            event_dict[key] = shown_path(value)
    return event_dict
