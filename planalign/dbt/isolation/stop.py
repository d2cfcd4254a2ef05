"""Stopping invocations, and timing each node (several models in one invocation run one after another with
`--threads 1`).

* Every invocation inside `stoppable_invocation(scope)` has a `StopToken`, registered under the caller's
  `planalign.engine.invocation.InvocationScope` (one per engine run). Stopping the scope stops only its
  tokens; a token interrupts only the DuckDB connections of its own invocation's adapter, which it finds
  through the invocation's `InvocationContext` (recorded when the preflight first asks the adapter registry
  for its adapters, `note_invocation_context`). So cancelling one engine never touches another engine's
  invocations in the same process.
* Batch stop: once its token is stopped, an invocation skips every node it has not yet started, so a
  cancelled batch ends after the node it is running instead of running the rest. The start of each node is
  also where its time limit starts: the running node is handed to one reaper thread, which interrupts it
  once it runs past the token's `model_timeout_s` (and records it in `token.timed_out`), or once the token
  is stopped, and repeats the interrupt every `REINTERRUPT_S` while the node still runs (a stop that lands
  between a node's start and its first query would otherwise find nothing to interrupt). Without the batch
  stop (`IsolationStatus.batch_stop` False) the invoker runs one model per invocation and the limit applies
  to the whole invocation.

Relies on:

* for the batch stop (verified by `check_batch_stop()`; when not as expected the batch stop is skipped, with
  a warning): dbt-core `dbt.task.runnable.GraphRunnableTask.execute_nodes` and `call_runner(self, runner)`
  (its own methods, patched): `call_runner` runs each node in a pool thread through
  `runner.run_with_hooks`, which returns a "skipped" result without running anything when `runner.skip` is
  set (`dbt.task.base.BaseRunner.do_skip(cause=...)`, dbt's own mechanism for the dependents of a failed
  node; `run_with_hooks` must still read `skip`); `BaseRunner.__init__` sets `node`, whose `unique_id`
  (`dbt.contracts.graph.nodes.BaseNode` field) names it.
* for interrupting (verified by `check_interrupt()`, part of the gate): dbt-adapters `BaseAdapter.__init__`
  setting `connections` (the adapter's connection manager), `BaseConnectionManager.__init__` setting
  `lock` and `thread_connections` (one `Connection` per thread), `Connection.handle` and `name`; dbt-duckdb
  `dbt.adapters.duckdb.environments.local.DuckDBConnectionWrapper.cursor()`, whose DuckDB cursor has
  `interrupt()`. Every other adapter (a server warehouse) through its own cancel: see
  `planalign.dbt.isolation.server_cancel`.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from planalign.dbt.isolation import adapters, server_cancel
from planalign.dbt.isolation._base import (
    Installation,
    current_installation,
    missing_assignments,
    missing_attrs,
    missing_fields,
    missing_parameters,
)
from planalign.dbt.isolation.server_cancel import cancel_server_queries

if TYPE_CHECKING:
    from planalign.engine.invocation import InvocationScope

logger = logging.getLogger(__name__)

#: How often the interrupt of a stopped or timed-out node is repeated while that node still runs: an
#: interrupt that lands between a node's start and its first query finds nothing to interrupt.
REINTERRUPT_S = 1.0


def check_interrupt() -> list[str]:
    """What `StopToken.interrupt_queries` relies on, as problems (empty: as expected)."""
    from dbt.adapters.base.connections import BaseConnectionManager
    from dbt.adapters.base.impl import BaseAdapter
    from dbt.adapters.contracts.connection import Connection

    problems = missing_assignments(BaseAdapter.__init__, ("connections",), where="BaseAdapter.__init__")
    problems += missing_assignments(
        BaseConnectionManager.__init__, ("lock", "thread_connections"), where="BaseConnectionManager.__init__"
    )
    problems += missing_attrs(Connection, ("handle", "name"))
    problems += server_cancel.check()
    try:
        from dbt.adapters.duckdb.environments.local import DuckDBConnectionWrapper
    except ImportError:
        return problems  # no dbt-duckdb: nothing to interrupt, nothing to check
    problems += missing_attrs(DuckDBConnectionWrapper, ("cursor",))
    return problems


def _duckdb_handle_type() -> type[Any] | None:
    try:
        from dbt.adapters.duckdb.environments.local import DuckDBConnectionWrapper
    except ImportError:
        return None
    return DuckDBConnectionWrapper


class StopToken:
    """One invocation inside `stoppable_invocation()`: whether it is stopped, which of its nodes ran out of
    time, and the way to its own adapter's connections (its dbt `InvocationContext`, recorded when the
    invocation's preflight first asks for its adapters; held weakly)."""

    __slots__ = (
        "__weakref__",
        "context",
        "interrupted",
        "last_interrupt",
        "model_timeout_s",
        "on_node_error",
        "stopped",
        "timed_out",
    )

    def __init__(self, model_timeout_s: float | None) -> None:
        self.stopped = False
        self.model_timeout_s = model_timeout_s
        #: unique_id of each node interrupted for running longer than `model_timeout_s` (None: the whole
        #: invocation, when nodes cannot be timed one by one) → the limit it exceeded.
        self.timed_out: dict[str | None, float] = {}
        #: unique_ids of the nodes that were running when the token was stopped (their queries interrupted).
        self.interrupted: set[str] = set()
        #: Called in dbt's pool thread with (unique_id, message) as soon as a node ends in an error, before
        #: the invocation starts its next node (the invoker's fail-fast report to its scope).
        self.on_node_error: Callable[[str, str | None], None] | None = None
        self.context: weakref.ref[Any] | None = None
        self.last_interrupt = 0.0

    def stop(self) -> int:
        """Start no further node and interrupt the running queries; returns how many were interrupted."""
        self.stopped = True
        self.interrupted.update(_REAPER.running_nodes(self))
        interrupted = self.interrupt_queries()
        _REAPER.wake()  # it repeats the interrupt while the running node goes on
        return interrupted

    def interrupt_queries(self) -> int:
        """Interrupt the queries running on this invocation's own connections — no one else's: DuckDB's by
        `cursor().interrupt()`, a server warehouse's through its adapter's cancel (module docstring).

        The interrupted statement fails inside the invocation with DuckDB's "INTERRUPT Error", so that node
        returns an error result and its transaction is rolled back (a DuckDB statement is atomic: the
        database is left as it was before the statement); on PostgreSQL the session is terminated, so its
        open transaction is rolled back by the server. Without the isolation installed there is no
        per-invocation registry to reach, and nothing is interrupted.
        """
        self.last_interrupt = time.monotonic()
        inst = current_installation()
        context = self.context() if self.context is not None else None
        handle_type = _duckdb_handle_type()
        if inst is None or context is None:
            return 0
        interrupted = 0
        for adapter in adapters.adapters_of(inst, context):
            if adapter.type() != "duckdb":
                interrupted += cancel_server_queries(adapter)
                continue
            manager = adapter.connections
            with manager.lock:
                connections = list(manager.thread_connections.values())
            for connection in connections:
                handle = connection.handle
                if handle_type is None or not isinstance(handle, handle_type):
                    continue  # closed (None), or not a DuckDB connection
                try:
                    handle.cursor().interrupt()
                    interrupted += 1
                except Exception as exc:  # a connection closing under us is not a failure of the interrupt
                    logger.debug("could not interrupt connection %s: %s", connection.name, exc)
        return interrupted


#: dbt's node statuses that end a model in failure (its `NodeStatus` values; `fail` and `partial success`
#: come from tests and microbatch models).
_FAILED_STATUSES = frozenset({"error", "fail", "partial success", "runtime error"})

_STOP_TOKEN: ContextVar[StopToken | None] = ContextVar("planalign_stop_token", default=None)


@dataclass
class _RunningNode:
    token: StopToken
    node_id: str | None
    deadline: float | None  # time.monotonic()


class _Reaper:
    """One daemon thread for the process that enforces time limits and makes stops stick: it interrupts the
    running node of an invocation once the node passes its deadline (recording it in `timed_out`) or once
    the invocation is stopped, and again every `REINTERRUPT_S` while that node still runs. It sleeps until
    the earliest deadline, so it costs nothing while models run within their limits."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._running: dict[int, _RunningNode] = {}
        self._keys = itertools.count()
        self._wake_at: float | None = None  # when the thread wakes up next; None: only when woken
        self._thread: threading.Thread | None = None

    def add(self, token: StopToken, node_id: str | None) -> int:
        limit = token.model_timeout_s
        deadline = None if limit is None else time.monotonic() + limit
        with self._cond:
            key = next(self._keys)
            self._running[key] = _RunningNode(token, node_id, deadline)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="planalign-dbt-reaper", daemon=True)
                self._thread.start()
            if token.stopped or (
                deadline is not None and (self._wake_at is None or deadline < self._wake_at)
            ):
                self._cond.notify()
        return key

    def remove(self, key: int) -> None:
        with self._cond:
            self._running.pop(key, None)

    def wake(self) -> None:
        with self._cond:
            self._cond.notify()

    def running_nodes(self, token: StopToken | None = None) -> list[str]:
        """The nodes running now (of `token` only, when given)."""
        with self._cond:
            return sorted(
                n.node_id
                for n in self._running.values()
                if n.node_id is not None and (token is None or n.token is token)
            )

    def _due(self, now: float) -> tuple[list[_RunningNode], float | None]:
        """(nodes to interrupt now, when to look again). Caller holds the condition."""
        due: list[_RunningNode] = []
        wake_at: float | None = None
        for node in self._running.values():
            token = node.token
            at: float | None = node.deadline
            if token.stopped or (node.deadline is not None and now >= node.deadline):
                at = token.last_interrupt + REINTERRUPT_S
                if now >= at:
                    due.append(node)
                    at = now + REINTERRUPT_S
            if at is not None and (wake_at is None or at < wake_at):
                wake_at = at
        return due, wake_at

    def _loop(self) -> None:
        while True:
            with self._cond:
                due, wake_at = self._due(time.monotonic())
                if not due:
                    self._wake_at = wake_at
                    self._cond.wait(None if wake_at is None else max(0.0, wake_at - time.monotonic()))
                    continue
            for node in due:
                token, limit = node.token, node.token.model_timeout_s
                if token.stopped and node.node_id is not None:
                    # A node that started between the stop and its own registration was not among the
                    # nodes the stop recorded: it is interrupted by the stop all the same (not failed).
                    token.interrupted.add(node.node_id)
                elif not token.stopped and limit is not None and node.node_id not in token.timed_out:
                    token.timed_out[node.node_id] = limit
                    logger.debug("interrupting %s: running longer than %s s", node.node_id, limit)
                try:
                    token.interrupt_queries()
                except Exception:  # the reaper must outlive one failed interrupt; the node may go on
                    logger.exception("interrupting %s failed", node.node_id)


_REAPER = _Reaper()


def running_nodes() -> list[str]:
    """The unique_ids of the nodes running now inside `stoppable_invocation()`s (diagnostics and tests)."""
    return _REAPER.running_nodes()


@contextmanager
def stoppable_invocation(
    scope: InvocationScope | None = None, *, model_timeout_s: float | None = None
) -> Iterator[StopToken]:
    """Hold around a dbt invocation (in the thread that invokes it); yields its `StopToken`.

    Stopping the token (`scope.stop()` when registered under `scope`) interrupts the invocation's running
    query and makes it start no further node — each is reported skipped (needs `batch_stop`). A node that
    runs longer than `model_timeout_s` is interrupted, and its unique_id recorded in `token.timed_out`; the
    limit applies to each node on its own from the moment dbt starts it (compiling included), and to the
    whole invocation when dbt's nodes cannot be hooked (`batch_stop` False, one model per invocation then).
    """
    token = StopToken(model_timeout_s)
    reset = _STOP_TOKEN.set(token)
    whole = None
    try:
        with contextlib.ExitStack() as stack:
            if scope is not None:
                stack.enter_context(scope.stoppable(token.stop))
            inst = current_installation()
            if model_timeout_s is not None and not (inst is not None and inst.batch_stop):
                whole = _REAPER.add(token, None)
            yield token
    finally:
        if whole is not None:
            _REAPER.remove(whole)
        _STOP_TOKEN.reset(reset)


def note_invocation_context(ctx: Any) -> None:
    """Called when an invocation's preflight first asks for its adapters (in the invoking thread): the
    invocation's token can now reach them."""
    token = _STOP_TOKEN.get()
    if token is not None and token.context is None:
        token.context = weakref.ref(ctx)


def check_batch_stop() -> list[str]:
    """What `install_batch_stop` relies on, as problems (empty: as expected)."""
    from dbt.contracts.graph.nodes import BaseNode
    from dbt.task.base import BaseRunner
    from dbt.task.runnable import GraphRunnableTask

    problems = missing_attrs(GraphRunnableTask, ("execute_nodes", "call_runner"), own=True)
    problems += missing_attrs(BaseRunner, ("run_with_hooks", "do_skip"), own=True)
    if problems:
        return problems
    problems += missing_parameters(
        GraphRunnableTask.call_runner, ("runner",), where="GraphRunnableTask.call_runner"
    )
    problems += missing_parameters(BaseRunner.do_skip, ("cause",), where="BaseRunner.do_skip")
    if "skip" not in BaseRunner.__dict__["run_with_hooks"].__code__.co_names:
        problems.append("BaseRunner.run_with_hooks no longer honours `skip`")
    problems += missing_assignments(BaseRunner.__init__, ("node",), where="BaseRunner.__init__")
    problems += missing_fields(BaseNode, ("unique_id",))
    return problems


def install_batch_stop(inst: Installation) -> None:
    """Make stopped invocations skip the nodes they have not started, and time each node they run (see the
    module docstring). The caller has run `check_batch_stop()`."""
    from dbt.task.runnable import GraphRunnableTask

    original_execute_nodes = GraphRunnableTask.__dict__["execute_nodes"]
    original_call_runner = GraphRunnableTask.__dict__["call_runner"]
    tokens: weakref.WeakKeyDictionary[Any, StopToken] = weakref.WeakKeyDictionary()
    tokens_lock = threading.Lock()

    def stoppable_execute_nodes(self: Any) -> Any:
        # Runs in the invoking thread, where the token is visible; the nodes run in dbt's pool threads.
        token = _STOP_TOKEN.get()
        if token is not None:
            with tokens_lock:
                tokens[self] = token
        return original_execute_nodes(self)

    def stoppable_call_runner(self: Any, runner: Any) -> Any:
        with tokens_lock:
            token = tokens.get(self)
        if token is None:
            return original_call_runner(self, runner)
        if token.stopped:
            runner.do_skip(cause=None)
            return original_call_runner(self, runner)
        key = _REAPER.add(token, runner.node.unique_id)
        try:
            result = original_call_runner(self, runner)
        finally:
            _REAPER.remove(key)
        report = token.on_node_error
        if report is not None and str(getattr(result.status, "value", result.status)) in _FAILED_STATUSES:
            report(runner.node.unique_id, getattr(result, "message", None))
        return result

    inst.patch(GraphRunnableTask, "execute_nodes", stoppable_execute_nodes)
    inst.patch(GraphRunnableTask, "call_runner", stoppable_call_runner)
    inst.batch_stop = True
