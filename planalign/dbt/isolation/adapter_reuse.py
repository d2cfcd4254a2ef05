"""Two speed-ups for server warehouses (every adapter but dbt-duckdb; PostgreSQL is the tested one), both
removing per-invocation work that `dbt run` pays once per run: the engine makes one dbt invocation per model
on a server warehouse (`planalign.dbt.workers`), and each paid them again.

* `adapter-reuse` — an adapter, once its invocation has ended *cleanly*, is parked in a pool of the engine
  run (the caller's `planalign.engine.invocation.InvocationScope`) and handed to a later invocation of the
  same run whose configuration has the same key, instead of dbt constructing a new one (dbt-adapters
  `AdapterContainer.register_adapter`: the adapter version lookup, the `AdapterRegistered` event, the
  adapter's `__init__` with its connection manager, relation cache and behaviour flags).
  Why per-invocation semantics are kept:

  - **One invocation at a time.** An adapter is taken out of the pool (under a lock) before it is put into
    one invocation's registry (`planalign.dbt.isolation.adapters`), and parked only after it has been
    removed from that registry, so at any moment it is in at most one invocation's registry — which is what
    a stop reaches (`StopToken.interrupt_queries` → `adapters_of(context)`): a stop cancels exactly the
    queries of the invocation it belongs to, never a later user of the same adapter.
  - **Clean ends only.** The invoker parks an invocation's adapters only when dbt returned success, nothing
    raised, the invocation was not stopped (Ctrl-C, fail-fast, a timeout) and no node ran out of time, and
    when the adapter's connection manager holds no connection (dbt's `adapter_management` /
    `execute_with_hooks` closed them all: `cleanup_connections`). Anything else: the adapter is dropped,
    never reused — a cancelled lane gets a fresh adapter.
  - **Same configuration.** The pool key is the adapter type and everything the config cache keys the
    dependencies on (`planalign.dbt.isolation.config_cache`): project root, packages path, profile by
    content (credentials, target), vars, every flag but the node selection, the environment. A changed
    profile, target or vars → no match → a fresh adapter.
  - **Fresh per-invocation state.** On reuse the adapter is given the new invocation's `RuntimeConfig`
    (`BaseAdapter.config` and its connection manager's `profile`, what `__init__` set from it) and an empty
    relation cache (`RelationsCache.clear()`: a fresh adapter's is empty; the previous invocation's entries
    would hide relations other lanes created since). dbt's own `setup_manifest` then sets the macro context
    generator, the macro resolver and the query header on it, as on a new adapter.

  Outside an engine run nothing is pooled. DuckDB adapters are never pooled (their connections hold the
  per-database environments and the file lock, `planalign.dbt.isolation.duckdb`): server adapters only.

* `idle-hook-connection-skip` — dbt-core `RunTask.safe_run_hooks(adapter, hook_type, extra_context)` calls
  `adapter.clear_transaction()` before looking at the hooks; with no hooks of that type (the model
  invocations of a run, whose project hooks run once per run, `planalign.dbt.isolation.hooks`) and the
  thread's connection never opened yet (dbt opens connections lazily, `ConnectionState.INIT`), that call only
  opens a new session to send an empty `BEGIN; COMMIT` — a PostgreSQL backend process started for nothing,
  twice per invocation (before and after the node). It is skipped then, and the unopened connection is
  removed from the thread's connections (`clear_thread_connection`, as dbt does with a broken one): left
  there, a stop of the invocation would open it — dbt's `cancel_open` reads each connection's `handle`,
  which opens a lazy one — and terminate it, and the end hook phase would then fail on the terminated
  session. With hooks, or an open connection, dbt's method runs unchanged. Server adapters only, as above.

Relies on (verified by `check()`): dbt-adapters `dbt.adapters.factory.AdapterContainer.register_adapter(self,
config, mp_context, adapter_registered_log_level)` (own method) and its `lock`; `BaseAdapter.__init__`
setting `config`, `cache`, `connections`; `BaseConnectionManager.__init__` setting `profile`,
`thread_connections`, `lock`, and its `get_if_exists` and `clear_thread_connection`;
`RelationsCache.clear`; `Connection.state` with `ConnectionState.INIT`; dbt-core
`dbt.cli.requires.setup_manifest` calling `register_adapter`,
`set_macro_context_generator`, `set_macro_resolver` and `set_query_header`; `RunTask.safe_run_hooks`
(own method) calling `get_hooks_by_type` and `clear_transaction`, and `RunStatus.Success`.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from planalign.dbt.isolation import config_cache, hooks
from planalign.dbt.isolation._base import (
    Installation,
    missing_assignments,
    missing_attrs,
    missing_parameters,
)
from planalign.dbt.isolation.adapters import current_invocation_context

#: Adapters parked per engine run and key at most: one per worker lane is what a run uses; more is waste.
POOL_SIZE = 16

# engine run (InvocationScope) -> {key -> parked adapters}; weak, so a run's adapters go with the run.
_POOLS: weakref.WeakKeyDictionary[Any, dict[Hashable, list[Any]]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()
# The installations this speed-up is installed in (a skipped speed-up parks nothing).
_INSTALLED: weakref.WeakSet[Installation] = weakref.WeakSet()


@dataclass
class ReuseStats:
    """Process-wide counters (diagnostics and tests): adapters taken from a pool, parked, dropped."""

    reused: int = 0
    parked: int = 0
    dropped: int = 0


STATS = ReuseStats()


def check() -> list[str]:
    """What `install()` relies on, as problems (empty: as expected)."""
    import dbt.cli.requires as requires
    from dbt.adapters.base.connections import BaseConnectionManager
    from dbt.adapters.base.impl import BaseAdapter
    from dbt.adapters.cache import RelationsCache
    from dbt.adapters.contracts.connection import Connection, ConnectionState
    from dbt.adapters.factory import AdapterContainer
    from dbt.artifacts.schemas.results import RunStatus
    from dbt.task.run import RunTask

    problems = missing_attrs(AdapterContainer, ("register_adapter",), own=True)
    problems += missing_attrs(RunTask, ("safe_run_hooks", "get_hooks_by_type"), own=True)
    problems += missing_attrs(RelationsCache, ("clear",))
    problems += missing_attrs(BaseConnectionManager, ("get_if_exists", "clear_thread_connection"))
    problems += missing_attrs(Connection, ("state",))
    problems += missing_attrs(ConnectionState, ("INIT",))
    problems += missing_attrs(RunStatus, ("Success",))
    problems += missing_attrs(requires, ("setup_manifest",))
    if problems:
        return problems
    problems += missing_assignments(AdapterContainer.__init__, ("lock",), where="AdapterContainer.__init__")
    problems += missing_assignments(
        BaseAdapter.__init__, ("config", "cache", "connections"), where="BaseAdapter.__init__"
    )
    problems += missing_assignments(
        BaseConnectionManager.__init__,
        ("profile", "thread_connections", "lock"),
        where="BaseConnectionManager.__init__",
    )
    problems += missing_parameters(
        AdapterContainer.register_adapter,
        ("config", "mp_context", "adapter_registered_log_level"),
        where="AdapterContainer.register_adapter",
    )
    problems += missing_parameters(
        RunTask.safe_run_hooks, ("adapter", "hook_type", "extra_context"), where="RunTask.safe_run_hooks"
    )
    setup_names = requires.setup_manifest.__code__.co_names
    problems += [
        f"dbt.cli.requires.setup_manifest no longer calls {name}"
        for name in (
            "register_adapter",
            "set_macro_context_generator",
            "set_macro_resolver",
            "set_query_header",
        )
        if name not in setup_names
    ]
    hook_names = hooks.dbt_safe_run_hooks().__code__.co_names
    problems += [
        f"RunTask.safe_run_hooks no longer calls {name}"
        for name in ("get_hooks_by_type", "clear_transaction")
        if name not in hook_names
    ]
    return problems


def _key(config: Any) -> Hashable:
    """What two invocations' configurations must share for one's adapter to serve the other (see the module
    docstring): the config cache's dependency key, plus the adapter type."""
    return (config.credentials.type, *config_cache.runtime_config_key(config))


def _take(config: Any) -> Any | None:
    """A parked adapter for `config` in the current engine run, taken out of the pool; None if none."""
    from planalign.engine.invocation import current_scope

    scope = current_scope()
    if scope is None or config.credentials.type == "duckdb":
        return None
    key = _key(config)
    with _LOCK:
        parked = (_POOLS.get(scope) or {}).get(key)
        if not parked:
            return None
        adapter = parked.pop()
        STATS.reused += 1
    # The new invocation's configuration and an empty relation cache, as a new adapter would have.
    adapter.config = config
    adapter.connections.profile = config
    adapter.cache.clear()
    return adapter


def finish_invocation(inst: Installation | None, context: Any, *, clean: bool) -> int:
    """At the end of an invocation (in the invoking thread, after `dbtRunner.invoke` returned): park its
    server adapters for the next invocation of the engine run when it ended `clean` (module docstring),
    else drop them. Either way they leave the invocation's registry first, so a late stop of this
    invocation can reach none of them. Returns how many were parked."""
    from planalign.engine.invocation import current_scope

    scope = current_scope()
    if inst is None or context is None or inst not in _INSTALLED:
        return 0
    with inst.registry_lock:
        registry = inst.registry.get(context)
        adapters = {} if registry is None else {k: v for k, v in registry.items() if k != "duckdb"}
        for name in adapters:
            del registry[name]  # type: ignore[union-attr]  # adapters is empty when registry is None
    parked = 0
    for adapter in adapters.values():
        manager = adapter.connections
        with manager.lock:
            idle = not manager.thread_connections
        if not (clean and idle and scope is not None and not scope.stopped):
            STATS.dropped += 1
            continue
        key = _key(adapter.config)
        with _LOCK:
            pool = _POOLS.setdefault(scope, {}).setdefault(key, [])
            if len(pool) < POOL_SIZE:
                pool.append(adapter)
                STATS.parked += 1
                parked += 1
            else:
                STATS.dropped += 1
    return parked


def parked_adapters(scope: Any | None = None) -> int:
    """Adapters parked in one engine run's pool, or in every live run's (diagnostics and tests)."""
    with _LOCK:
        runs = list(_POOLS.values()) if scope is None else [_POOLS.get(scope) or {}]
        return sum(len(p) for pools in runs for p in pools.values())


def install(inst: Installation) -> None:
    """Replace `AdapterContainer.register_adapter` (take a parked adapter when one matches) and
    `RunTask.safe_run_hooks` (skip an empty hook phase's idle connection). The caller has run `check()`."""
    from dbt.adapters.contracts.connection import ConnectionState
    from dbt.adapters.factory import AdapterContainer
    from dbt.artifacts.schemas.results import RunStatus
    from dbt.task.run import RunTask

    hooks.install_hook_control()  # so this patch wraps theirs, and uninstall() restores theirs
    original_register = AdapterContainer.__dict__["register_adapter"]
    original_hooks = RunTask.__dict__["safe_run_hooks"]

    def register_adapter(
        self: Any, config: Any, mp_context: Any, adapter_registered_log_level: Any = None
    ) -> None:
        if current_invocation_context() is not None:
            name = config.credentials.type
            adapters = self.adapters  # this invocation's registry
            with self.lock:
                if name in adapters:
                    return
            adapter = _take(config)
            if adapter is not None:
                with self.lock:
                    adapters.setdefault(name, adapter)
                return
        if adapter_registered_log_level is None:
            original_register(self, config, mp_context)
        else:
            original_register(self, config, mp_context, adapter_registered_log_level)

    def safe_run_hooks(self: Any, adapter: Any, hook_type: Any, extra_context: Any) -> Any:
        if adapter.type() != "duckdb" and not self.get_hooks_by_type(hook_type):
            connection = adapter.connections.get_if_exists()
            if connection is None or connection.state == ConnectionState.INIT:
                # dbt would open a session only to BEGIN and COMMIT nothing. The unopened connection is
                # dropped too: a stop's cancel reads every connection's `handle`, which opens a lazy one.
                if connection is not None:
                    adapter.connections.clear_thread_connection()
                return RunStatus.Success
        return original_hooks(self, adapter, hook_type, extra_context)

    inst.patch(AdapterContainer, "register_adapter", register_adapter)
    inst.patch(RunTask, "safe_run_hooks", safe_run_hooks)
    _INSTALLED.add(inst)
