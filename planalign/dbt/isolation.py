"""Concurrent in-process dbt invocations: the only module that touches dbt internals.

dbt-core does not support several `dbtRunner().invoke()` calls running at once in one process. On dbt-duckdb
they fail with "connection is busy with another call" / "cannot start a transaction within a transaction",
because every invocation shares one adapter and tears it down for everyone else. This module makes each
invocation own its adapter while all of them share one DuckDB database per file.

What it relies on, exactly (checked by `install()`; anything unexpected → serialized fallback, never a crash):

* `dbt.adapters.factory.FACTORY` — the process-wide `AdapterContainer`. Its `adapters` dict is what
  `register_adapter`, `get_adapter`, `reset_adapters` and `cleanup_connections` read and write; those are what
  `adapter_management()` (entered by every invocation's preflight in `dbt/cli/requires.py`) and
  `RunnableTask.execute_with_hooks` (`dbt/task/runnable.py`, via `adapter.cleanup_connections()`) use to reset
  and close adapters. We switch `FACTORY`'s class to a subclass whose `adapters` property returns a dict *per
  dbt invocation context*, so those resets and clean-ups only reach the invocation's own adapter.
* `dbt_common.context` — `get_invocation_context()` / `_INVOCATION_CONTEXT_VAR`: the `InvocationContext` that
  each invocation's preflight creates (`set_invocation_context`) in the calling thread and that
  `RunnableTask._pool_thread_initializer` copies into dbt's own pool threads. It is the registry key (weakly
  held, so an invocation's adapter goes away with its context).
* `dbt.adapters.duckdb.connections.DuckDBConnectionManager` — its class attribute `_ENV` holds the one DuckDB
  environment of the process and `open()` replaces (closes) it whenever credentials differ. We replace the
  classmethods `open`, `env`, `cancel` and `close_all_connections` with versions that keep one environment per
  set of credentials (i.e. per database file), chosen through the invocation's own adapter, so two databases
  can be used at the same time. Each dbt connection still gets its own DuckDB cursor from the shared database.

Speed-ups, installed with the isolation (each skipped, with a debug log, if its internal is not as expected;
they matter because the engine makes many invocations, and their fixed overhead is the engine's cost):

* `dbt.plugins.manager.PluginManager.get_prefixed_modules` — scans every `sys.path` entry for `dbt_*` plugin
  modules on every invocation; the result is cached for the process (plugins are not installed mid-run).
* `dbt.compilation.Compiler.compile` — links and cycle-checks the whole manifest graph on every invocation;
  for the same `Manifest` object (the one handed to `dbtRunner(manifest=...)`, never mutated by a run) the
  linked `Graph` is reused. Calls with `add_test_edges` (build) are not cached.
* `dbt_common.events.event_manager.EventManager.fire_event` — builds a protobuf message for every event
  (hundreds per invocation: one per relation cached) even when nothing listens; with no logger and no
  callback registered (other than `dbt.tracking.track_behavior_change_warn`, which dbt always registers and
  which reads only a WARN-level event), events below WARN are dropped before that. The DEBUG event classes
  in `LAZY_DEBUG_EVENTS` (`dbt.adapters.cache.CacheAction`, one per relation cached, i.e. per relation in the
  schema, on every invocation; `dbt.adapters.sql.connections.SQLQuery` etc., per query) are replaced in
  those modules by stand-ins that build the real event only when it is going to be logged. (The invoker
  runs with `--log-level none --log-level-file none` exactly so that nothing listens.)
* `dbt.task.runnable.GraphRunnableTask.create_schemas` — lists and creates schemas on every invocation; on
  dbt-duckdb, skipped when the same open DuckDB database already has every required schema from an earlier
  call in this process (re-done whenever the database has been closed and reopened).

Stopping invocations, and timing each node (several models in one invocation run one after another with
`--threads 1`):

* Every invocation inside `stoppable_invocation(scope)` has a `StopToken`, registered under the caller's
  `planalign.engine.invocation.InvocationScope` (one per engine run). Stopping the scope stops only its
  tokens; a
  token interrupts only the DuckDB connections of its own invocation's adapter, which it finds through the
  invocation's `InvocationContext` (recorded when the preflight first asks the registry for its adapters).
  So cancelling one engine never touches another engine's invocations in the same process.
* `dbt.task.runnable.GraphRunnableTask.execute_nodes` / `call_runner` and `dbt.task.base.BaseRunner.do_skip`
  — `call_runner` runs each node in a pool thread through `runner.run_with_hooks`, which returns a "skipped"
  result without running anything when `runner.skip` is set (`do_skip`, dbt's own mechanism for the
  dependents of a failed node). Once its token is stopped, an invocation (whose token `execute_nodes`
  records for the task) skips every node it has not yet started, so a cancelled batch ends after the node
  it is running instead of running the rest. `call_runner` is also where each node's time limit starts: the
  running node is handed to one reaper thread, which interrupts it once it runs past the token's
  `model_timeout_s` (and records it in `token.timed_out`), or once the token is stopped, and repeats the
  interrupt every `REINTERRUPT_S` while the node still runs (a stop that lands between a node's start and
  its first query would otherwise find nothing to interrupt). Without these hooks
  (`IsolationStatus.batch_stop` False) the invoker runs one model per invocation and the limit applies to
  the whole invocation.

The shared `Manifest` (parse once, `dbtRunner(manifest=...)` for every invocation) is mutated by each run:
`dbt.compilation.Compiler` writes `compiled_code`, `compiled`, `extra_ctes` and `extra_ctes_injected` onto the
node it compiles and onto its ephemeral ancestors. Two concurrent invocations of the same model with
different vars would overwrite each other's SQL (observed: wrong tables, no error), and a later invocation
would reuse a stale `extra_ctes_injected`. `exclusive_nodes()` therefore locks the model and its ephemeral
ancestors for the whole invocation and resets those four attributes before it, so each invocation compiles
its own SQL from scratch.

What stays process-global and how we cope:

* Flags (`dbt.flags.set_flags`, called by each preflight): e.g. `FULL_REFRESH` is read from the global flags
  while models execute. `invocation_slot(key)` lets invocations run together only when they share a key (the
  invoker's key covers the command, project, target and `--full-refresh`); a different key waits until the
  running group has finished, and `exclusive=True` runs alone.
* The event manager: callbacks registered on one invocation also see other invocations' events, so a caller
  must take each model's outcome from the result its own `invoke()` returns, never from events.
* The invocation id (`reset_invocation_id`) is overwritten by each invocation; artifacts written concurrently
  would carry a neighbour's id, which is one reason the invoker passes `--no-write-json`.

Supported: dbt-core 1.11.x with dbt-duckdb 1.11.x (the versions tested). Other versions, or internals not
shaped as above, yield `IsolationStatus(available=False)` with a logged warning; callers then serialize every
invocation (`invocation_slot` is exclusive), which is slower but safe.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import itertools
import logging
import threading
import time
import weakref
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from planalign.engine.invocation import InvocationScope

logger = logging.getLogger(__name__)

#: dbt-core / dbt-duckdb `major.minor` series this module has been tested against.
SUPPORTED_DBT_CORE_SERIES: frozenset[str] = frozenset({"1.11"})
SUPPORTED_DBT_DUCKDB_SERIES: frozenset[str] = frozenset({"1.11"})


@dataclass(frozen=True)
class IsolationStatus:
    """Whether concurrent invocations are safe in this process, and why (or why not)."""

    available: bool
    reason: str
    dbt_version: str
    dbt_duckdb_version: str | None = None
    speedups: tuple[str, ...] = ()
    batch_stop: bool = False


def _package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _detect_versions() -> tuple[str, str | None]:
    """(dbt-core version, dbt-duckdb version or None). A seam for tests that simulate other versions."""
    return _package_version("dbt-core") or "unknown", _package_version("dbt-duckdb")


def _series(version: str) -> str:
    return ".".join(version.split(".")[:2])


class _Installation:
    """Everything `install()` changed, so `uninstall()` can restore it exactly."""

    def __init__(self) -> None:
        self.factory: Any = None
        self.original_factory_class: type | None = None
        self.duckdb_cm: Any = None
        self.original_duckdb_methods: dict[str, Any] = {}
        # InvocationContext -> {adapter type name -> adapter}; weak so finished invocations are dropped.
        self.registry: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
        self.registry_lock = threading.Lock()
        # (credentials, environment) pairs, one per database; guarded by DuckDBConnectionManager._LOCK.
        self.duckdb_envs: list[tuple[Any, Any]] = []
        # resolved database path -> {DuckDB setting: value}, applied whenever that database is (re)opened.
        self.instance_settings: dict[str, dict[str, str]] = {}
        # The DuckDB connection object the settings were last applied to, per path (held, so never reused).
        self.applied_to: dict[str, Any] = {}
        # (owner, attribute name, original value) of every other patched attribute, restored in order.
        self.patches: list[tuple[Any, str, Any]] = []
        # id(Manifest) -> (Manifest, Graph): the manifest is held so its id cannot be reused.
        self.graphs: dict[int, tuple[Any, Any]] = {}
        # resolved database path -> (DuckDB connection object, {(database, schema)} known to exist)
        self.known_schemas: dict[str, tuple[Any, set[tuple[str, str]]]] = {}
        self.cache_lock = threading.Lock()

    def patch(self, owner: Any, name: str, value: Any) -> None:
        self.patches.append((owner, name, owner.__dict__[name]))
        setattr(owner, name, value)


_STATE_LOCK = threading.RLock()
_status: IsolationStatus | None = None
_installation: _Installation | None = None


def _current_invocation_context() -> Any | None:
    from dbt_common.context import get_invocation_context

    try:
        return get_invocation_context()
    except LookupError:
        return None


def _make_isolated_container_class(base: type, inst: _Installation) -> type:
    """A subclass of dbt's `AdapterContainer` whose `adapters` dict depends on the current invocation."""

    def _get_adapters(self: Any) -> dict[str, Any]:
        ctx = _current_invocation_context()
        if ctx is None:
            # Outside any dbt invocation (e.g. planalign code calling get_adapter): the process-wide dict.
            result: dict[str, Any] = self.__dict__["adapters"]
            return result
        with inst.registry_lock:
            adapters = inst.registry.get(ctx)
            if adapters is None:
                adapters = {}
                inst.registry[ctx] = adapters
                _note_invocation_context(ctx)
            return adapters

    def _set_adapters(self: Any, value: dict[str, Any]) -> None:
        self.__dict__["adapters"] = value

    return type(
        "InvocationIsolatedAdapterContainer",
        (base,),
        {"adapters": property(_get_adapters, _set_adapters), "__module__": __name__},
    )


def _install_duckdb_envs(cm: Any, inst: _Installation) -> None:
    """Per-database DuckDB environments in place of dbt-duckdb's single `_ENV`."""
    from dbt.adapters.contracts.connection import ConnectionState
    from dbt.adapters.duckdb import environments
    from dbt.adapters.exceptions.connection import FailedToConnectError

    def env_for(credentials: Any) -> Any:
        # Caller holds cm._LOCK.
        for creds, env in inst.duckdb_envs:
            if creds == credentials:
                return env
        # Like dbt-duckdb dropping its old environment when credentials change — but only environments no
        # connection is using any more (handle count 0; with keep_open, the default, they stay open until
        # closed here).
        keep: list[tuple[Any, Any]] = []
        for creds, env in inst.duckdb_envs:
            if getattr(env, "handle_count", 1) == 0:
                try:
                    env.close()
                except Exception as exc:  # closing an idle database must not stop opening another
                    logger.debug("ignoring error closing idle DuckDB environment: %s", exc)
            else:
                keep.append((creds, env))
        env = environments.create(credentials)
        keep.append((credentials, env))
        inst.duckdb_envs[:] = keep
        return env

    def apply_instance_settings(credentials: Any, env: Any, handle: Any) -> None:
        # Caller holds cm._LOCK. Instance-wide settings (e.g. memory_limit) set once per opened database.
        path = _path_key(getattr(credentials, "path", None))
        if path is None:
            return
        wanted = {**inst.instance_settings.get(ANY_DATABASE, {}), **inst.instance_settings.get(path, {})}
        conn = getattr(env, "conn", None)
        if not wanted or conn is None or inst.applied_to.get(path) is conn:
            return
        cursor = handle.cursor()
        for name, value in wanted.items():
            cursor.execute(f"SET {name} = '{value}'")
        inst.applied_to[path] = conn

    def isolated_open(cls: Any, connection: Any) -> Any:
        if connection.state == ConnectionState.OPEN:
            return connection
        credentials = cls.get_credentials(connection.credentials)
        with cls._LOCK:
            try:
                env = env_for(credentials)
                connection.handle = env.handle()
                connection.state = ConnectionState.OPEN
                apply_instance_settings(credentials, env, connection.handle)
                # dbt-duckdb's relation.py tests `_ENV is not None` before calling env(); keep it truthy.
                cls._ENV = env
            except RuntimeError as e:
                connection.handle = None
                connection.state = ConnectionState.FAIL
                raise FailedToConnectError(str(e)) from e
        return connection

    def isolated_env(cls: Any) -> Any:
        ctx = _current_invocation_context()
        adapter = None
        if ctx is not None:
            with inst.registry_lock:
                adapter = (inst.registry.get(ctx) or {}).get("duckdb")
        with cls._LOCK:
            if adapter is not None:
                return env_for(cls.get_credentials(adapter.config.credentials))
            if len(inst.duckdb_envs) == 1:
                return inst.duckdb_envs[0][1]
            if cls._ENV is not None:
                return cls._ENV
            raise RuntimeError("DuckDBConnectionManager environment requested before creation!")

    def isolated_cancel(self: Any, connection: Any) -> None:
        env = isolated_env(type(self))
        env.cancel(connection)

    def isolated_close_all_connections(cls: Any) -> None:
        with cls._LOCK:
            inst.duckdb_envs.clear()
            cls._ENV = None

    for name in ("open", "env", "close_all_connections"):
        inst.original_duckdb_methods[name] = cm.__dict__[name]
    inst.original_duckdb_methods["cancel"] = cm.__dict__["cancel"]
    cm.open = classmethod(isolated_open)
    cm.env = classmethod(isolated_env)
    cm.close_all_connections = classmethod(isolated_close_all_connections)
    cm.cancel = isolated_cancel
    inst.duckdb_cm = cm


def _path_key(path: object) -> str | None:
    if not isinstance(path, str) or not path or path == ":memory:":
        return None
    return str(Path(path).resolve())


#: `set_duckdb_instance_setting` key for "every DuckDB database file dbt opens in this process".
ANY_DATABASE = "*"


def set_duckdb_instance_setting(database_path: Path | None, name: str, value: str) -> bool:
    """Apply a DuckDB instance-wide setting (e.g. `memory_limit`) to `database_path` — or, when None, to
    every database file — whenever dbt opens it (and at once to databases already open).

    Returns False — and changes nothing — when the isolation is not installed (then no hook sees the
    database being opened; the caller should say the setting was not applied).
    """
    if not name.replace("_", "").isalnum() or "'" in value:
        raise ValueError(f"refusing unsafe DuckDB setting {name!r}={value!r}")
    inst = _installation
    if inst is None or inst.duckdb_cm is None:
        return False
    key = ANY_DATABASE if database_path is None else _path_key(str(database_path))
    if key is None:
        return False
    with inst.duckdb_cm._LOCK:
        inst.instance_settings.setdefault(key, {})[name] = value
        for creds, env in inst.duckdb_envs:
            path = _path_key(getattr(creds, "path", None))
            conn = getattr(env, "conn", None)
            if path is not None and conn is not None and key in (ANY_DATABASE, path):
                conn.execute(f"SET {name} = '{value}'")
    return True


#: DEBUG events dbt builds many times per invocation (per relation cached, per query), by the module that
#: builds them; each name is replaced in that module by a lazy stand-in (see `_install_speedups`).
LAZY_DEBUG_EVENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("dbt.adapters.cache", ("CacheAction",)),
    ("dbt.adapters.sql.connections", ("SQLQuery", "SQLQueryStatus", "SQLCommit", "ConnectionUsed")),
)


def _install_speedups(inst: _Installation) -> list[str]:
    """Install each speed-up whose internals look as expected; return the names of those installed."""
    installed: list[str] = []

    try:
        from dbt.plugins.manager import PluginManager

        original_modules = PluginManager.__dict__["get_prefixed_modules"].__func__
        modules_cache: list[Any] = []

        def cached_prefixed_modules(cls: Any) -> Any:
            with inst.cache_lock:
                if not modules_cache:
                    modules_cache.append(original_modules(cls))
                return dict(modules_cache[0])

        inst.patch(PluginManager, "get_prefixed_modules", classmethod(cached_prefixed_modules))
        installed.append("plugin-discovery-cache")
    except (ImportError, KeyError, AttributeError) as exc:
        logger.debug("plugin discovery cache not installed: %r", exc)

    try:
        from dbt.compilation import Compiler

        original_compile = Compiler.__dict__["compile"]

        def cached_compile(self: Any, manifest: Any, write: bool = True, add_test_edges: bool = False) -> Any:
            if add_test_edges:
                return original_compile(self, manifest, write=write, add_test_edges=add_test_edges)
            with inst.cache_lock:
                hit = inst.graphs.get(id(manifest))
            if hit is not None and hit[0] is manifest:
                return hit[1]
            graph = original_compile(self, manifest, write=write, add_test_edges=add_test_edges)
            with inst.cache_lock:
                inst.graphs[id(manifest)] = (manifest, graph)
            return graph

        inst.patch(Compiler, "compile", cached_compile)
        installed.append("graph-cache")
    except (ImportError, KeyError) as exc:
        logger.debug("graph cache not installed: %r", exc)

    try:
        from dbt.tracking import track_behavior_change_warn
        from dbt_common.events.base_types import DebugLevel, EventLevel
        from dbt_common.events.event_manager import EventManager

        original_fire = EventManager.__dict__["fire_event"]
        probe = EventManager()
        if not (isinstance(probe.loggers, list) and isinstance(probe.callbacks, list)):
            raise AttributeError("EventManager.loggers/callbacks are not lists")

        class LazyDebugEvent:
            """Stands in for a DEBUG-level dbt event class: building the real event parses a protobuf, which
            only pays off if something listens; `fire_event_fast` builds it when something does."""

            __slots__ = ("kwargs", "real")

            def __init__(self, real: type, kwargs: dict[str, Any]) -> None:
                self.real = real
                self.kwargs = kwargs

            def level_tag(self) -> Any:
                return EventLevel.DEBUG

            def materialize(self) -> Any:
                return self.real(**self.kwargs)

        def lazy(real: type) -> Any:
            def make(**kwargs: Any) -> LazyDebugEvent:
                return LazyDebugEvent(real, kwargs)

            return make

        def fire_event_fast(
            self: Any,
            e: Any,
            level: Any = None,
            node: Any = None,
            force_warn_or_error_handling: bool = False,
        ) -> None:
            # Building an event's protobuf message is most of its cost; with no logger and no callback nothing
            # would read it. Warnings still take the full path, where --warn-error may turn them into errors.
            if (
                not self.loggers
                and all(cb is track_behavior_change_warn for cb in self.callbacks)
                and not force_warn_or_error_handling
                and (level or e.level_tag()) not in (EventLevel.WARN, EventLevel.ERROR)
            ):
                return
            if isinstance(e, LazyDebugEvent):
                e = e.materialize()
            original_fire(
                self, e, level=level, node=node, force_warn_or_error_handling=force_warn_or_error_handling
            )

        inst.patch(EventManager, "fire_event", fire_event_fast)
        for module, names in LAZY_DEBUG_EVENTS:
            mod = importlib.import_module(module)
            for name in names:
                real = mod.__dict__[name]
                if issubclass(real, DebugLevel):
                    inst.patch(mod, name, lazy(real))
        installed.append("unobserved-event-skip")
    except (ImportError, KeyError, AttributeError) as exc:
        logger.debug("event fast path not installed: %r", exc)

    cm = inst.duckdb_cm
    try:
        from dbt.task.runnable import GraphRunnableTask

        original_create = GraphRunnableTask.__dict__["create_schemas"]
    except (ImportError, KeyError) as exc:
        logger.debug("schema cache not installed: %r", exc)
        return installed

    def duckdb_conn_of(adapter: Any) -> tuple[str, Any] | None:
        credentials = getattr(getattr(adapter, "config", None), "credentials", None)
        if cm is None or getattr(credentials, "type", None) != "duckdb":
            return None
        path = _path_key(getattr(credentials, "path", None))
        if path is None:
            return None
        with cm._LOCK:
            for creds, env in inst.duckdb_envs:
                if creds == credentials:
                    conn = getattr(env, "conn", None)
                    return (path, conn) if conn is not None else None
        return None

    def cached_create_schemas(self: Any, adapter: Any, required_schemas: Any) -> Any:
        wanted = {(str(r.database or "").lower(), str(r.schema or "").lower()) for r in required_schemas}
        current = duckdb_conn_of(adapter)
        if current is not None:
            with inst.cache_lock:
                known = inst.known_schemas.get(current[0])
            if known is not None and known[0] is current[1] and wanted <= known[1]:
                return None
        result = original_create(self, adapter, required_schemas)
        after = duckdb_conn_of(adapter)
        if after is not None:
            with inst.cache_lock:
                known = inst.known_schemas.get(after[0])
                if known is not None and known[0] is after[1]:
                    known[1].update(wanted)
                else:
                    inst.known_schemas[after[0]] = (after[1], set(wanted))
        return result

    inst.patch(GraphRunnableTask, "create_schemas", cached_create_schemas)
    installed.append("schema-cache")
    return installed


#: How often the interrupt of a stopped or timed-out node is repeated while that node still runs: an
#: interrupt that lands between a node's start and its first query finds nothing to interrupt.
REINTERRUPT_S = 1.0


class StopToken:
    """One invocation inside `stoppable_invocation()`: whether it is stopped, which of its nodes ran out of
    time, and the way to its own adapter's connections (its dbt `InvocationContext`, recorded when the
    invocation's preflight first asks for its adapters; held weakly)."""

    __slots__ = ("__weakref__", "context", "last_interrupt", "model_timeout_s", "stopped", "timed_out")

    def __init__(self, model_timeout_s: float | None) -> None:
        self.stopped = False
        self.model_timeout_s = model_timeout_s
        #: unique_id of each node interrupted for running longer than `model_timeout_s` (None: the whole
        #: invocation, when nodes cannot be timed one by one) → the limit it exceeded.
        self.timed_out: dict[str | None, float] = {}
        self.context: weakref.ref[Any] | None = None
        self.last_interrupt = 0.0

    def stop(self) -> int:
        """Start no further node and interrupt the running queries; returns how many were interrupted."""
        self.stopped = True
        interrupted = self.interrupt_queries()
        _REAPER.wake()  # it repeats the interrupt while the running node goes on
        return interrupted

    def interrupt_queries(self) -> int:
        """Interrupt the queries running on this invocation's own DuckDB connections — no one else's.

        The interrupted statement fails inside the invocation with DuckDB's "INTERRUPT Error", so that node
        returns an error result and its transaction is rolled back (a DuckDB statement is atomic: the
        database is left as it was before the statement). Without the isolation installed there is no
        per-invocation registry to reach, and nothing is interrupted.
        """
        self.last_interrupt = time.monotonic()
        inst = _installation
        context = self.context() if self.context is not None else None
        if inst is None or context is None:
            return 0
        with inst.registry_lock:
            adapters = list((inst.registry.get(context) or {}).values())
        interrupted = 0
        for adapter in adapters:
            manager = getattr(adapter, "connections", None)
            if manager is None:
                continue
            with manager.lock:
                connections = list(manager.thread_connections.values())
            for connection in connections:
                handle = getattr(connection, "handle", None)
                if handle is None or not hasattr(handle, "cursor"):
                    continue
                try:
                    handle.cursor().interrupt()
                    interrupted += 1
                except Exception as exc:  # a connection closing under us is not a failure of the interrupt
                    logger.debug(
                        "could not interrupt connection %s: %s", getattr(connection, "name", "?"), exc
                    )
        return interrupted


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

    def running_nodes(self) -> list[str]:
        with self._cond:
            return sorted(n.node_id for n in self._running.values() if n.node_id is not None)

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
                if not token.stopped and limit is not None and node.node_id not in token.timed_out:
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
            status = _status
            if model_timeout_s is not None and not (status is not None and status.batch_stop):
                whole = _REAPER.add(token, None)
            yield token
    finally:
        if whole is not None:
            _REAPER.remove(whole)
        _STOP_TOKEN.reset(reset)


def _note_invocation_context(ctx: Any) -> None:
    """Called when an invocation's preflight first asks for its adapters (in the invoking thread): the
    invocation's token can now reach them."""
    token = _STOP_TOKEN.get()
    if token is not None and token.context is None:
        token.context = weakref.ref(ctx)


def _install_batch_stop(inst: _Installation) -> bool:
    """Make stopped invocations skip the nodes they have not started, and time each node they run (see the
    module docstring)."""
    try:
        from dbt.task.base import BaseRunner
        from dbt.task.runnable import GraphRunnableTask

        original_execute_nodes = GraphRunnableTask.__dict__["execute_nodes"]
        original_call_runner = GraphRunnableTask.__dict__["call_runner"]
        honours_skip = "skip" in BaseRunner.__dict__["run_with_hooks"].__code__.co_names
        can_skip = callable(BaseRunner.__dict__["do_skip"])
    except (ImportError, KeyError, AttributeError) as exc:
        logger.debug("batch stop not installed: %r", exc)
        return False
    if not (honours_skip and can_skip):
        logger.debug("batch stop not installed: BaseRunner.run_with_hooks no longer honours `skip`")
        return False
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
        key = _REAPER.add(token, getattr(runner.node, "unique_id", None))
        try:
            return original_call_runner(self, runner)
        finally:
            _REAPER.remove(key)

    inst.patch(GraphRunnableTask, "execute_nodes", stoppable_execute_nodes)
    inst.patch(GraphRunnableTask, "call_runner", stoppable_call_runner)
    return True


def _check_and_install() -> IsolationStatus:
    core_version, duckdb_version = _detect_versions()

    def unavailable(reason: str) -> IsolationStatus:
        logger.warning(
            "dbt invocation isolation unavailable (%s); dbt invocations will run one at a time", reason
        )
        return IsolationStatus(False, reason, core_version, duckdb_version)

    if _series(core_version) not in SUPPORTED_DBT_CORE_SERIES:
        supported = ", ".join(sorted(f"{s}.x" for s in SUPPORTED_DBT_CORE_SERIES))
        return unavailable(f"dbt-core {core_version} is not a supported version ({supported})")
    if duckdb_version is not None and _series(duckdb_version) not in SUPPORTED_DBT_DUCKDB_SERIES:
        supported = ", ".join(sorted(f"{s}.x" for s in SUPPORTED_DBT_DUCKDB_SERIES))
        return unavailable(f"dbt-duckdb {duckdb_version} is not a supported version ({supported})")
    try:
        import dbt.adapters.factory as factory_mod
        import dbt.task.runnable as runnable_mod
        import dbt_common.context as context_mod
    except ImportError as exc:
        return unavailable(f"dbt internals could not be imported: {exc}")

    factory = getattr(factory_mod, "FACTORY", None)
    container_cls = getattr(factory_mod, "AdapterContainer", None)
    problems: list[str] = []
    if container_cls is None or type(factory) is not container_cls:
        problems.append("dbt.adapters.factory.FACTORY is not a plain AdapterContainer")
    elif not isinstance(factory.__dict__.get("adapters"), dict):
        problems.append("AdapterContainer.adapters is not an instance dict")
    for name in ("register_adapter", "lookup_adapter", "reset_adapters", "cleanup_connections"):
        if container_cls is not None and not callable(getattr(container_cls, name, None)):
            problems.append(f"AdapterContainer.{name} is missing")
    if not callable(getattr(factory_mod, "adapter_management", None)):
        problems.append("dbt.adapters.factory.adapter_management is missing")
    if not callable(getattr(context_mod, "get_invocation_context", None)):
        problems.append("dbt_common.context.get_invocation_context is missing")
    if not hasattr(getattr(runnable_mod, "GraphRunnableTask", None), "_pool_thread_initializer"):
        problems.append("GraphRunnableTask._pool_thread_initializer is missing (context not propagated)")

    duckdb_cm: Any = None
    if duckdb_version is not None:
        try:
            from dbt.adapters.duckdb.connections import DuckDBConnectionManager

            duckdb_cm = DuckDBConnectionManager
        except ImportError as exc:
            problems.append(f"dbt-duckdb could not be imported: {exc}")
        else:
            for name in ("open", "env", "cancel", "close_all_connections", "_ENV", "_LOCK"):
                if name not in duckdb_cm.__dict__:
                    problems.append(f"DuckDBConnectionManager.{name} is missing")
    if problems:
        return unavailable("; ".join(problems))

    inst = _Installation()
    inst.factory = factory
    inst.original_factory_class = type(factory)
    try:
        if duckdb_cm is not None:
            _install_duckdb_envs(duckdb_cm, inst)
        factory.__class__ = _make_isolated_container_class(type(factory), inst)
        speedups = _install_speedups(inst)
        batch_stop = _install_batch_stop(inst)
    except Exception as exc:  # a failed patch must leave dbt untouched and fall back, not crash
        _restore(inst)
        return unavailable(f"installing the isolation failed: {exc!r}")

    global _installation
    _installation = inst
    return IsolationStatus(
        True,
        "per-invocation adapter registry and per-database DuckDB environments installed",
        core_version,
        duckdb_version,
        tuple(speedups),
        batch_stop,
    )


def _restore(inst: _Installation) -> None:
    for owner, name, original in reversed(inst.patches):
        setattr(owner, name, original)
    inst.patches.clear()
    inst.graphs.clear()
    inst.known_schemas.clear()
    if inst.factory is not None and inst.original_factory_class is not None:
        inst.factory.__class__ = inst.original_factory_class
    cm = inst.duckdb_cm
    if cm is not None:
        for name, original in inst.original_duckdb_methods.items():
            setattr(cm, name, original)
        with cm._LOCK:
            # Hand dbt-duckdb back a single environment (the most recently used), as it expects.
            envs = inst.duckdb_envs
            cm._ENV = envs[-1][1] if envs else None
    inst.duckdb_envs.clear()


def install() -> IsolationStatus:
    """Install the isolation once per process (idempotent, thread-safe) and report whether it is active."""
    global _status
    with _STATE_LOCK:
        if _status is None:
            _status = _check_and_install()
            if _status.available:
                logger.info("dbt invocation isolation active: dbt-core %s", _status.dbt_version)
        return _status


def isolation_status() -> IsolationStatus:
    """The isolation status of this process, installing it on first use."""
    return install()


def uninstall() -> None:
    """Restore dbt's own adapter registry and DuckDB environment handling (tests; re-`install()` after).

    Call it only while no dbt invocation is running.
    """
    global _status, _installation
    with _STATE_LOCK:
        if _installation is not None:
            _restore(_installation)
        _installation = None
        _status = None


def close_idle_databases(database_path: Path | None = None) -> int:
    """Close the DuckDB databases (all, or the one at `database_path`) that no dbt connection is using.

    dbt-duckdb 1.11 keeps a database open for the life of the process once opened (`keep_open` defaults to
    true), which holds DuckDB's file lock; call this when a run is over and another process needs the file.
    A later invocation simply reopens it. Returns how many were closed.
    """
    inst = _installation
    if inst is None or inst.duckdb_cm is None:
        return 0
    key = None if database_path is None else _path_key(str(database_path))
    closed = 0
    with inst.duckdb_cm._LOCK:
        for creds, env in inst.duckdb_envs:
            if key is not None and _path_key(getattr(creds, "path", None)) != key:
                continue
            if getattr(env, "handle_count", 1) == 0 and getattr(env, "conn", None) is not None:
                env.close()
                closed += 1
    return closed


def live_adapter_count() -> int:
    """Adapters currently held in the per-invocation registry (diagnostics and tests)."""
    inst = _installation
    if inst is None:
        return 0
    with inst.registry_lock:
        return sum(len(adapters) for adapters in inst.registry.values())


_NODE_LOCKS: dict[tuple[int, str], threading.Lock] = {}
_NODE_LOCKS_GUARD = threading.Lock()


def _ephemeral_closure(dbt_manifest: Any, unique_ids: Iterable[str]) -> set[str]:
    """The nodes and every ephemeral model they reach through ephemeral models (whose SQL they inline)."""
    nodes = dbt_manifest.nodes
    found = set(unique_ids)
    stack = list(found)
    while stack:
        node = nodes.get(stack.pop())
        for parent in getattr(getattr(node, "depends_on", None), "nodes", None) or ():
            parent_node = nodes.get(parent)
            materialized = getattr(getattr(parent_node, "config", None), "materialized", None)
            if parent_node is not None and materialized == "ephemeral" and parent not in found:
                found.add(parent)
                stack.append(parent)
    return found


@contextmanager
def exclusive_nodes(dbt_manifest: Any, unique_ids: str | Iterable[str]) -> Iterator[None]:
    """Hold for the whole invocation that compiles `unique_ids` (one id or several) from `dbt_manifest`.

    Locks the nodes and their ephemeral ancestors (all of them, in one fixed order, so invocations cannot
    deadlock) against other invocations compiling them, and clears their compiled state so this invocation
    renders its own SQL with its own vars. Invocations of disjoint models never wait for each other.
    """
    wanted = [unique_ids] if isinstance(unique_ids, str) else list(unique_ids)
    ids = sorted(_ephemeral_closure(dbt_manifest, wanted))
    with _NODE_LOCKS_GUARD:
        locks = [_NODE_LOCKS.setdefault((id(dbt_manifest), uid), threading.Lock()) for uid in ids]
    for lock in locks:
        lock.acquire()
    try:
        for uid in ids:
            node = dbt_manifest.nodes.get(uid)
            if node is None:
                continue
            if hasattr(node, "compiled"):
                node.compiled = False
            if hasattr(node, "compiled_code"):
                node.compiled_code = None
            if hasattr(node, "extra_ctes_injected"):
                node.extra_ctes_injected = False
            if hasattr(node, "extra_ctes"):
                node.extra_ctes = []
        yield
    finally:
        for lock in reversed(locks):
            lock.release()


class _InvocationGate:
    """A shared/exclusive gate keyed by the process-global flags an invocation sets.

    Holders with the same key run together; a holder with another key (or an exclusive one) waits until the
    current group has drained. Newcomers do not join a running group while a holder with another key waits,
    so a waiting key cannot be starved.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self._key: Hashable | None = None
        self._exclusive = False
        self._waiting: Counter[tuple[Hashable, bool]] = Counter()

    def _may_enter(self, key: Hashable, exclusive: bool) -> bool:
        if self._active == 0:
            return True
        if exclusive or self._exclusive or self._key != key:
            return False
        return all(k == (key, False) for k, n in self._waiting.items() if n > 0)

    @contextmanager
    def hold(self, key: Hashable, *, exclusive: bool) -> Iterator[None]:
        me = (key, exclusive)
        with self._cond:
            self._waiting[me] += 1
            try:
                while not self._may_enter(key, exclusive):
                    self._cond.wait()
            finally:
                self._waiting[me] -= 1
            self._active += 1
            self._key = key
            self._exclusive = exclusive
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                if self._active == 0:
                    self._key = None
                    self._exclusive = False
                self._cond.notify_all()


_GATE = _InvocationGate()


@contextmanager
def invocation_slot(key: Hashable, *, exclusive: bool = False) -> Iterator[None]:
    """Hold this around every dbt invocation in the process.

    Invocations run concurrently only when the isolation is available and they share `key` (which must
    capture every process-global flag that differs between them, e.g. `--full-refresh`); otherwise they run
    one at a time.
    """
    status = install()
    with _GATE.hold(key, exclusive=exclusive or not status.available):
        yield


# ----------------------------------------------------------------------------------------------------
# The target's rendered profile output, without an invocation (`planalign run` finds its database).
#
# Relies on: `dbt.config.profile.read_profile(profiles_dir)` (the raw profiles.yml mapping) and
# `Profile.render_profile(raw_profile, profile_name, target_override, renderer)` → (target_name, rendered
# output dict), with `dbt.config.renderer.ProfileRenderer(cli_vars)`; rendering calls `env_var()`, which
# reads the invocation context of `dbt_common.context` — so a fresh one is set inside a private
# `contextvars.Context`, leaving the caller's untouched. Nothing is patched.


def render_target_output(
    project_dir: Path, profiles_dir: Path | None, target: str | None, vars: dict[str, Any] | None
) -> tuple[str, dict[str, Any]]:
    """(target name, rendered output mapping, e.g. {"type": "duckdb", "path": ...}) of the project's profile.

    `profiles_dir` None means dbt's default (`DBT_PROFILES_DIR`, else the working directory if it holds a
    profiles.yml, else ~/.dbt). Raises dbt's own exception when the profile does not render.
    """
    import contextvars
    import os

    import yaml

    project = yaml.safe_load((project_dir / "dbt_project.yml").read_text()) or {}
    profile_name = str(project.get("profile") or "")
    if profiles_dir is None:
        from dbt.cli.resolvers import default_profiles_dir

        profiles_dir = Path(os.environ.get("DBT_PROFILES_DIR") or default_profiles_dir())

    def render() -> tuple[str, dict[str, Any]]:
        from dbt.config.profile import Profile, read_profile
        from dbt.config.renderer import ProfileRenderer
        from dbt_common.context import set_invocation_context

        set_invocation_context(dict(os.environ))
        raw = read_profile(str(profiles_dir))
        if profile_name not in raw:
            raise KeyError(f"no profile named {profile_name!r} in {profiles_dir}/profiles.yml")
        name, output = Profile.render_profile(
            raw[profile_name], profile_name, target, ProfileRenderer(vars or {})
        )
        return str(name), dict(output)

    return contextvars.Context().run(render)


# ----------------------------------------------------------------------------------------------------
# Project hooks (`on-run-start` / `on-run-end`) once per run of many invocations.
#
# dbt 1.11 runs a project's hooks inside each `dbt run` invocation: `RunTask.before_run` calls
# `safe_run_hooks(adapter, RunHookType.Start, {})` before `execute_nodes()`, `RunTask.after_run` calls
# `safe_run_hooks(adapter, RunHookType.End, extras)` after it (extras: `schemas`, `database_schemas`,
# `results`), and `safe_run_hooks` takes the hooks from `RunTask.get_hooks_by_type(hook_type)` (the
# manifest's `operation` nodes tagged with the hook type). `GraphRunnableTask.execute_with_hooks` skips
# all of it when nothing is selected. A caller that splits one run into many invocations would run the
# hooks in each. So:
#
# * `RunTask.get_hooks_by_type` returns no hooks for a task whose `self.manifest` is a manifest registered
#   with `suppress_project_hooks(manifest)` (the model invocations of a run);
# * inside `only_project_hooks(hook_type, extras)` (set in the thread that calls `dbtRunner().invoke`, where
#   dbt calls before_run/execute_nodes/after_run), `get_hooks_by_type` returns the hooks of `hook_type` only,
#   `RunTask.execute_nodes` runs no node (returns []), and `safe_run_hooks` of the end hooks sees `extras` in
#   place of the (empty) extras of that invocation.
#
# The patches are installed once, independently of `install()`, and delegate to the methods current at call
# time (so they compose with the batch-stop patch of `GraphRunnableTask.execute_nodes`).

_HOOKS_SUPPRESSED: dict[int, Any] = {}
_HOOKS_SUPPRESSED_LOCK = threading.Lock()
_HOOKS_ONLY: ContextVar[tuple[str, dict[str, Any]] | None] = ContextVar("planalign_hooks_only", default=None)
_HOOK_PATCH_LOCK = threading.Lock()
_hook_patch_installed = False


def _install_hook_control() -> None:
    global _hook_patch_installed
    with _HOOK_PATCH_LOCK:
        if _hook_patch_installed:
            return
        from dbt.task.run import RunTask
        from dbt.task.runnable import GraphRunnableTask

        for name in ("get_hooks_by_type", "safe_run_hooks"):
            if name not in RunTask.__dict__:
                raise RuntimeError(f"dbt's RunTask has no {name}; project hooks cannot be run once per run")
        original_get_hooks = RunTask.__dict__["get_hooks_by_type"]
        original_safe_run_hooks = RunTask.__dict__["safe_run_hooks"]
        own_execute_nodes = RunTask.__dict__.get("execute_nodes")

        def get_hooks_by_type(self: Any, hook_type: Any) -> Any:
            only = _HOOKS_ONLY.get()
            if only is not None:
                return original_get_hooks(self, hook_type) if str(hook_type) == only[0] else []
            with _HOOKS_SUPPRESSED_LOCK:
                suppressed = _HOOKS_SUPPRESSED.get(id(self.manifest)) is self.manifest
            return [] if suppressed else original_get_hooks(self, hook_type)

        def safe_run_hooks(self: Any, adapter: Any, hook_type: Any, extra_context: Any) -> Any:
            only = _HOOKS_ONLY.get()
            if only is not None and str(hook_type) == only[0] and only[1]:
                extra_context = {**(extra_context or {}), **only[1]}
            return original_safe_run_hooks(self, adapter, hook_type, extra_context)

        def execute_nodes(self: Any) -> Any:
            if _HOOKS_ONLY.get() is not None:
                return []
            run_nodes: Any = own_execute_nodes or GraphRunnableTask.execute_nodes
            return run_nodes(self)

        RunTask.get_hooks_by_type = get_hooks_by_type  # type: ignore[method-assign]
        RunTask.safe_run_hooks = safe_run_hooks  # type: ignore[method-assign]
        RunTask.execute_nodes = execute_nodes  # type: ignore[method-assign]
        _hook_patch_installed = True


@contextmanager
def suppress_project_hooks(dbt_manifest: Any) -> Iterator[None]:
    """While inside, `dbt run` invocations given this `Manifest` object run no on-run-start/-end hooks."""
    _install_hook_control()
    with _HOOKS_SUPPRESSED_LOCK:
        _HOOKS_SUPPRESSED[id(dbt_manifest)] = dbt_manifest
    try:
        yield
    finally:
        with _HOOKS_SUPPRESSED_LOCK:
            _HOOKS_SUPPRESSED.pop(id(dbt_manifest), None)


@contextmanager
def only_project_hooks(hook_type: str, extras: dict[str, Any] | None = None) -> Iterator[None]:
    """While inside (in this thread), a `dbt run` invocation runs only the project hooks of `hook_type`
    ("on-run-start" or "on-run-end") and no node; `extras` replace the end hooks' `schemas`,
    `database_schemas` and `results` (which that invocation, having run nothing, would leave empty)."""
    if hook_type not in ("on-run-start", "on-run-end"):
        raise ValueError(f"hook_type must be on-run-start or on-run-end, got {hook_type!r}")
    _install_hook_control()
    token = _HOOKS_ONLY.set((hook_type, dict(extras or {})))
    try:
        yield
    finally:
        _HOOKS_ONLY.reset(token)


def hook_run_results(dbt_manifest: Any, rows: Iterable[tuple[str, str, str | None, float]]) -> list[Any]:
    """dbt `RunResult`s for the end hooks' `results` (unique_id, status, message, execution time), the
    way dbt hands a run's node results to on-run-end. Relies on `dbt.artifacts.schemas.run.RunResult` and
    `dbt.artifacts.schemas.results.RunStatus`."""
    from dbt.artifacts.schemas.results import RunStatus
    from dbt.artifacts.schemas.run import RunResult

    results = []
    for unique_id, status, message, execution_time in rows:
        results.append(
            RunResult(
                status=RunStatus(status),
                timing=[],
                thread_id="planalign",
                execution_time=execution_time,
                adapter_response={},
                message=message,
                failures=None,
                node=dbt_manifest.nodes[unique_id],
                batch_results=None,
            )
        )
    return results
