"""Stopping a server warehouse's queries (every adapter but dbt-duckdb; PostgreSQL is the tested one).

A stopped or timed-out invocation (`planalign.dbt.isolation.stop`) cancels its adapter's open connections
the way dbt's own runner does on Ctrl-C (dbt-core `GraphRunnableTask._cancel_connections`): when the adapter
`is_cancelable()`, `adapter.cancel_open_connections()` inside `adapter.connection_named(...)` — a connection
of the cancelling thread, from which dbt-postgres runs `pg_terminate_backend(pid)` for every other open
connection of that adapter (dbt-adapters `SQLConnectionManager.cancel_open` skips the cancelling thread's
own). The terminated session's transaction is rolled back by the server, so the model's relation is left as
it was. The adapter is the invocation's own (its per-invocation registry), so no other invocation's
connections are touched. An adapter that cannot cancel is left to finish its query (a warning, once per
adapter type).

Relies on (verified by `check()`, part of the gate): dbt-adapters `BaseAdapter.cancel_open_connections`,
`connection_named`, `is_cancelable`, `type` and `connections` (its `lock` and `thread_connections`), and
`Connection.handle` / `state` with `ConnectionState.OPEN`.
"""

from __future__ import annotations

import logging
from typing import Any

from planalign.dbt.isolation._base import missing_attrs

logger = logging.getLogger(__name__)


def check() -> list[str]:
    """What `cancel_server_queries` relies on, as problems (empty: as expected)."""
    from dbt.adapters.base.impl import BaseAdapter
    from dbt.adapters.contracts.connection import Connection, ConnectionState

    problems = missing_attrs(
        BaseAdapter, ("cancel_open_connections", "connection_named", "is_cancelable", "type")
    )
    problems += missing_attrs(Connection, ("handle", "state"))
    problems += missing_attrs(ConnectionState, ("OPEN",))
    return problems


_UNCANCELABLE_LOGGED: set[str] = set()


def cancel_server_queries(adapter: Any) -> int:
    """Cancel the open connections of one invocation's server-warehouse adapter through dbt's own cancel
    path (see the module docstring); returns how many open connections it reached. Runs in the cancelling
    thread (the engine's, or the reaper's), never in the invocation's."""
    from dbt.adapters.contracts.connection import ConnectionState

    kind = adapter.type()
    if not adapter.is_cancelable():
        if kind not in _UNCANCELABLE_LOGGED:
            _UNCANCELABLE_LOGGED.add(kind)
            logger.warning("dbt-%s cannot cancel queries: a stopped model's query runs to its end", kind)
        return 0
    manager = adapter.connections
    with manager.lock:
        open_connections = [
            c
            for c in manager.thread_connections.values()
            # state first: reading `handle` opens a lazy (never opened) connection
            if c.state == ConnectionState.OPEN and c.handle is not None
        ]
    if not open_connections:
        return 0
    try:
        with adapter.connection_named("planalign-cancel"):
            cancelled = adapter.cancel_open_connections()
    except Exception as exc:  # the invocation may be closing its connections at this very moment
        logger.debug("could not cancel the %s connections: %s", kind, exc)
        return 0
    logger.debug("cancelled %s connections: %s", kind, cancelled)
    return len(open_connections)
