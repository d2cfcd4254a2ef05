"""Optional speed-ups, installed with the isolation. They matter because the engine makes many invocations,
and their fixed overhead is the engine's cost. Each is checked first; one whose internals are not as
expected is skipped — logged at WARNING with the reason, and listed in `IsolationStatus.skipped_speedups`
(`planalign info` shows it) — and everything still works, only slower.

* `plugin-discovery-cache` — dbt-core `dbt.plugins.manager.PluginManager.get_prefixed_modules` (its own
  classmethod) scans every `sys.path` entry for `dbt_*` plugin modules on every invocation; the result is
  cached for the process (plugins are not installed mid-run).
* `graph-cache` — dbt-core `dbt.compilation.Compiler.compile(self, manifest, write, add_test_edges)` links
  and cycle-checks the whole manifest graph on every invocation; for the same `Manifest` object (the one
  handed to `dbtRunner(manifest=...)`, whose graph no run changes) the linked `Graph` is reused. Calls with
  `add_test_edges` (build) are not cached. The cache holds a graph per live manifest, at most
  `GRAPH_CACHE_SIZE`, dropped with its manifest.
* `unobserved-event-skip` — dbt-common `dbt_common.events.event_manager.EventManager.fire_event(self, e,
  level, node, force_warn_or_error_handling)` builds a protobuf message for every event (hundreds per
  invocation: one per relation cached) even when nothing listens; with no logger and no callback
  registered in the manager's `loggers`/`callbacks` lists (other than dbt-core's
  `dbt.tracking.track_behavior_change_warn`, which dbt always registers and which reads only a WARN-level
  event), events below WARN (`dbt_common.events.base_types.EventLevel`) are dropped before that. The DEBUG
  event classes (`DebugLevel` subclasses) in `LAZY_DEBUG_EVENTS` (dbt-adapters' `dbt.adapters.cache.
  CacheAction`, one per relation cached; `dbt.adapters.sql.connections.SQLQuery` etc., per query) are
  replaced in those modules by stand-ins that build the real event only when it is going to be logged.
  (The invoker runs with `--log-level none --log-level-file none` exactly so that nothing listens.)
* `schema-cache` — dbt-core `dbt.task.runnable.GraphRunnableTask.create_schemas(self, adapter,
  required_schemas)` lists and creates schemas on every invocation; on dbt-duckdb, skipped when the same
  open DuckDB database already has every required schema from an earlier call in this process (re-done
  whenever the database has been closed and reopened); on a server warehouse, when an earlier invocation
  of the same engine run found them on the same server database (`planalign.dbt.isolation.server_cache`,
  once per run, as `dbt run` lists them). Reads the relations' `database` and `schema`
  (dbt-adapters `BaseRelation`) and, through `planalign.dbt.isolation.duckdb`, the adapter's open database.
  Remembers at most `DATABASE_CACHE_SIZE` databases.
* `context-cycle-break` — every node dbt compiles, runs or tests gets a Jinja context: a dict holding a
  `dbt.clients.jinja.MacroGenerator` for every macro of the project and its packages, each generator holding
  the dict — a reference cycle, which only CPython's cycle collector frees. A simulation builds ~140,000
  such generators; they outlive the young generations while their node runs and are freed by full
  collections that hold the GIL for 40-120 ms each — the event loop of an async host stalled that long
  (issue #19 item 10). dbt-core's context builders (`CONTEXT_BUILDERS`: `generate_runtime_model_context`
  as imported by name into `dbt.compilation`, `dbt.task.run` and `dbt.task.test`, and
  `generate_runtime_macro_context` as `dbt.cli.requires` hands it to each invocation's adapter) are wrapped
  to note each context built in the thread of a node's `dbt.task.base.BaseRunner.safe_run(self,
  manifest)`; when that node's `safe_run` returns, its contexts are cleared, which breaks the cycles, and
  reference counting frees them at once. Nothing reads a node's contexts after its `safe_run` (its result
  is built inside it); contexts built outside a node (hooks, the adapter's own macros before the first
  node) are left to the collector as before.
* `behavior-flags-copy` — dbt-adapters `BaseAdapter.__init__` sets `self.behavior =
  DEFAULT_BASE_BEHAVIOR_FLAGS` (the module's list), and the `behavior` property's setter runs
  `flags.extend(self._behavior_flags)` on it: every adapter of a type with its own flags (dbt-postgres has
  one) appends them to that module-wide list for good, so the n-th adapter of the process renders n flags —
  quadratic, with an adapter per invocation (measured on PostgreSQL: 150 one-model invocations spent most
  of their time there, docs/benchmarks.md "PostgreSQL"). The setter is handed a copy instead; the flags an
  adapter sees are the ones dbt means (the defaults and its own).
* `behavior-source-frames` — each of those flags names its source module with `inspect.stack()`; the same
  name is read from the frames directly (`planalign.dbt.isolation.behavior_source`).
* `jinja-compile-cache`, `macro-namespace-flatten` — see modules `jinja_cache`, `namespace_flatten`.
* `config-cache` — the profile, project and dependencies' configs, loaded once per engine run under a key of
  everything that can differ between invocations (`planalign.dbt.isolation.config_cache`).
* `adapter-reuse` — server adapters reused by the invocations of one engine run, one at a time, and no
  session opened for an empty hook phase (`planalign.dbt.isolation.adapter_reuse`).
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from planalign.dbt.isolation import adapter_reuse, behavior_source, config_cache, jinja_cache, server_cache
from planalign.dbt.isolation import duckdb as duckdb_envs
from planalign.dbt.isolation import namespace_flatten as namespaces
from planalign.dbt.isolation._base import Installation, missing_attrs, missing_parameters

logger = logging.getLogger(__name__)

#: DEBUG events dbt builds many times per invocation (per relation cached, per query), by the module that
#: builds them; each name is replaced in that module by a lazy stand-in.
LAZY_DEBUG_EVENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("dbt.adapters.cache", ("CacheAction",)),
    ("dbt.adapters.sql.connections", ("SQLQuery", "SQLQueryStatus", "SQLCommit", "ConnectionUsed")),
)


@dataclass(frozen=True)
class SpeedUp:
    name: str
    check: Callable[[], list[str]]
    install: Callable[[Installation], None]


# ------------------------------------------------------------------------------ plugin-discovery-cache


def _check_plugins() -> list[str]:
    from dbt.plugins.manager import PluginManager

    problems = missing_attrs(PluginManager, ("get_prefixed_modules",), own=True)
    if not problems and not isinstance(PluginManager.__dict__["get_prefixed_modules"], classmethod):
        problems.append("PluginManager.get_prefixed_modules is no longer a classmethod")
    return problems


def _install_plugins(inst: Installation) -> None:
    from dbt.plugins.manager import PluginManager

    original_modules = PluginManager.__dict__["get_prefixed_modules"].__func__
    modules_cache: list[Any] = []

    def cached_prefixed_modules(cls: Any) -> Any:
        with inst.cache_lock:
            if not modules_cache:
                modules_cache.append(original_modules(cls))
            return dict(modules_cache[0])

    inst.patch(PluginManager, "get_prefixed_modules", classmethod(cached_prefixed_modules))


# ----------------------------------------------------------------------------------------- graph-cache


def _check_graph() -> list[str]:
    from dbt.compilation import Compiler

    problems = missing_attrs(Compiler, ("compile",), own=True)
    if not problems:
        problems += missing_parameters(
            Compiler.compile, ("manifest", "write", "add_test_edges"), where="Compiler.compile"
        )
    return problems


def _install_graph(inst: Installation) -> None:
    from dbt.compilation import Compiler

    original_compile = Compiler.__dict__["compile"]

    def cached_compile(self: Any, manifest: Any, write: bool = True, add_test_edges: bool = False) -> Any:
        if add_test_edges:
            return original_compile(self, manifest, write=write, add_test_edges=add_test_edges)
        hit = inst.graphs.get(manifest)
        if hit is not None:
            return hit
        graph = original_compile(self, manifest, write=write, add_test_edges=add_test_edges)
        return inst.graphs.setdefault(manifest, lambda: graph)

    inst.patch(Compiler, "compile", cached_compile)


# ------------------------------------------------------------------------------- unobserved-event-skip


def _check_events() -> list[str]:
    import dbt.tracking
    import dbt_common.events.base_types as base_types
    from dbt_common.events.event_manager import EventManager

    problems = missing_attrs(EventManager, ("fire_event",), own=True)
    problems += missing_attrs(dbt.tracking, ("track_behavior_change_warn",))
    problems += missing_attrs(base_types, ("DebugLevel", "EventLevel"))
    if problems:
        return problems
    problems += missing_parameters(
        EventManager.fire_event,
        ("e", "level", "node", "force_warn_or_error_handling"),
        where="EventManager.fire_event",
    )
    probe = EventManager()
    if not (isinstance(probe.loggers, list) and isinstance(probe.callbacks, list)):
        problems.append("EventManager.loggers/callbacks are not lists")
    for level in ("DEBUG", "WARN", "ERROR"):
        problems += missing_attrs(base_types.EventLevel, (level,))
    for module, names in LAZY_DEBUG_EVENTS:
        mod = importlib.import_module(module)
        for name in names:
            real = vars(mod).get(name)
            if not (isinstance(real, type) and issubclass(real, base_types.DebugLevel)):
                problems.append(f"{module}.{name} is not a DEBUG-level event class")
    return problems


def _install_events(inst: Installation) -> None:
    from dbt.tracking import track_behavior_change_warn
    from dbt_common.events.base_types import EventLevel
    from dbt_common.events.event_manager import EventManager

    original_fire = EventManager.__dict__["fire_event"]

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
            inst.patch(mod, name, lazy(vars(mod)[name]))


# ---------------------------------------------------------------------------------------- schema-cache


def _check_schemas() -> list[str]:
    from dbt.adapters.base.relation import BaseRelation
    from dbt.task.runnable import GraphRunnableTask

    problems = missing_attrs(GraphRunnableTask, ("create_schemas",), own=True)
    if not problems:
        problems += missing_parameters(
            GraphRunnableTask.create_schemas,
            ("adapter", "required_schemas"),
            where="GraphRunnableTask.create_schemas",
        )
    problems += missing_attrs(BaseRelation, ("database", "schema"))
    return problems + server_cache.check()


def _install_schemas(inst: Installation) -> None:
    from dbt.task.runnable import GraphRunnableTask

    original_create = GraphRunnableTask.__dict__["create_schemas"]

    def cached_create_schemas(self: Any, adapter: Any, required_schemas: Any) -> Any:
        wanted = {(str(r.database or "").lower(), str(r.schema or "").lower()) for r in required_schemas}
        current = duckdb_envs.open_connection_of(inst, adapter) or server_cache.server_database_of(adapter)
        if current is not None:
            with inst.cache_lock:
                known = inst.known_schemas.get(current[0])
            if known is not None and known[0] is current[1] and wanted <= known[1]:
                return None
        result = original_create(self, adapter, required_schemas)
        after = duckdb_envs.open_connection_of(inst, adapter) or server_cache.server_database_of(adapter)
        if after is not None:
            with inst.cache_lock:
                known = inst.known_schemas.get(after[0])
                if known is not None and known[0] is after[1]:
                    known[1].update(wanted)
                else:
                    inst.known_schemas[after[0]] = (after[1], set(wanted))
        return result

    inst.patch(GraphRunnableTask, "create_schemas", cached_create_schemas)


# ---------------------------------------------------------------------------------- context-cycle-break

#: Where dbt-core builds the Jinja contexts of a node's work: (module, name of the builder it imported).
CONTEXT_BUILDERS: tuple[tuple[str, str], ...] = (
    ("dbt.compilation", "generate_runtime_model_context"),
    ("dbt.task.run", "generate_runtime_model_context"),
    ("dbt.task.test", "generate_runtime_model_context"),
    ("dbt.cli.requires", "generate_runtime_macro_context"),
)


def _check_contexts() -> list[str]:
    from dbt.task.base import BaseRunner

    problems = missing_attrs(BaseRunner, ("safe_run",), own=True)
    if not problems:
        problems += missing_parameters(BaseRunner.safe_run, ("manifest",), where="BaseRunner.safe_run")
    for module, name in CONTEXT_BUILDERS:
        problems += missing_attrs(importlib.import_module(module), (name,), own=True)
    return problems


def _install_contexts(inst: Installation) -> None:
    from dbt.task.base import BaseRunner

    node_work = threading.local()  # .contexts: those built by the node this thread is running, else None

    def noting(build: Callable[..., Any]) -> Callable[..., Any]:
        def build_and_note(*args: Any, **kwargs: Any) -> Any:
            context = build(*args, **kwargs)
            contexts = getattr(node_work, "contexts", None)
            if contexts is not None and isinstance(context, dict):
                contexts.append(context)
            return context

        return build_and_note

    original_safe_run = BaseRunner.__dict__["safe_run"]

    def safe_run_and_clear(self: Any, manifest: Any) -> Any:
        outer = getattr(node_work, "contexts", None)
        node_work.contexts = []
        try:
            return original_safe_run(self, manifest)
        finally:
            contexts, node_work.contexts = node_work.contexts, outer
            for context in contexts:
                context.clear()

    inst.patch(BaseRunner, "safe_run", safe_run_and_clear)
    for module, name in CONTEXT_BUILDERS:
        mod = importlib.import_module(module)
        inst.patch(mod, name, noting(vars(mod)[name]))


#: Every speed-up, in the order they are installed. The schema cache needs the per-database DuckDB
#: environments (it reads the open database through them); without dbt-duckdb it never hits.
# ---------------------------------------------------------------------------------- behavior-flags-copy


def _check_behavior() -> list[str]:
    from dbt.adapters.base.impl import BaseAdapter

    behavior = BaseAdapter.__dict__.get("behavior")
    if not isinstance(behavior, property) or behavior.fset is None:
        return ["BaseAdapter.behavior is no longer a property with a setter"]
    return missing_attrs(BaseAdapter, ("_behavior_flags",))


def _install_behavior(inst: Installation) -> None:
    from dbt.adapters.base.impl import BaseAdapter

    original: property = BaseAdapter.__dict__["behavior"]
    setter = original.fset
    assert setter is not None  # checked by _check_behavior

    def copying_setter(self: Any, flags: list[Any]) -> None:
        setter(self, list(flags))

    inst.patch(BaseAdapter, "behavior", original.setter(copying_setter))


SPEEDUPS: tuple[SpeedUp, ...] = (
    SpeedUp("plugin-discovery-cache", _check_plugins, _install_plugins),
    SpeedUp("graph-cache", _check_graph, _install_graph),
    SpeedUp("unobserved-event-skip", _check_events, _install_events),
    SpeedUp("schema-cache", _check_schemas, _install_schemas),
    SpeedUp("context-cycle-break", _check_contexts, _install_contexts),
    SpeedUp("behavior-flags-copy", _check_behavior, _install_behavior),
    SpeedUp("behavior-source-frames", behavior_source.check, behavior_source.install),  # see its module
    SpeedUp("config-cache", config_cache.check, config_cache.install),  # see its module
    SpeedUp("adapter-reuse", adapter_reuse.check, adapter_reuse.install),  # see its module
    SpeedUp("jinja-compile-cache", jinja_cache.check, jinja_cache.install),  # see its module
    SpeedUp("macro-namespace-flatten", namespaces.check, namespaces.install),  # see its module
)


def install(inst: Installation) -> tuple[list[str], list[tuple[str, str]]]:
    """Install each speed-up whose internals are as expected: (names installed, (name, reason) skipped)."""
    installed: list[str] = []
    skipped: list[tuple[str, str]] = []
    for speedup in SPEEDUPS:
        try:
            problems = speedup.check()
        except (ImportError, AttributeError, KeyError, TypeError) as exc:
            problems = [f"checking it failed: {exc!r}"]
        if problems:
            reason = "; ".join(problems)
            logger.warning("dbt speed-up %s not installed (slower, still correct): %s", speedup.name, reason)
            skipped.append((speedup.name, reason))
            continue
        speedup.install(inst)
        installed.append(speedup.name)
    return installed, skipped
