"""One adapter registry per dbt invocation, so concurrent invocations stop resetting each other's adapter.

dbt-core does not support several `dbtRunner().invoke()` calls running at once in one process: every
invocation shares one adapter and tears it down for everyone else (on dbt-duckdb: "connection is busy with
another call" / "cannot start a transaction within a transaction").

Relies on (each verified by `check()`; anything else fails the gate):

* dbt-adapters `dbt.adapters.factory.FACTORY` — the process-wide `AdapterContainer`, exactly of that class,
  with an instance dict `adapters` — the dict `register_adapter`, `lookup_adapter`, `reset_adapters` and
  `cleanup_connections` read and write; those are what `adapter_management()` (entered by every invocation's
  preflight in dbt-core's `dbt/cli/requires.py`) and `RunnableTask.execute_with_hooks` (via
  `adapter.cleanup_connections()`) use to reset and close adapters. We switch `FACTORY`'s class to a
  subclass whose `adapters` property returns a dict *per dbt invocation context*, so those resets and
  clean-ups only reach the invocation's own adapter.
* dbt-common `dbt_common.context.get_invocation_context()` — the `InvocationContext` each invocation's
  preflight creates (`set_invocation_context`) in the calling thread, raising `LookupError` outside one —
  and dbt-core `GraphRunnableTask._pool_thread_initializer`, which copies it into dbt's own pool threads.
  The context is the registry key (weakly held, so an invocation's adapter goes away with its context).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from planalign.dbt.isolation._base import Installation, missing_attrs


def check() -> list[str]:
    """What `install()` relies on, as problems (empty: as expected)."""
    import dbt.adapters.factory as factory_mod
    import dbt.task.runnable as runnable_mod
    import dbt_common.context as context_mod

    problems = missing_attrs(factory_mod, ("FACTORY", "AdapterContainer", "adapter_management"))
    if problems:
        return problems
    container_cls = factory_mod.AdapterContainer
    factory = factory_mod.FACTORY
    if type(factory) is not container_cls:
        problems.append("dbt.adapters.factory.FACTORY is not a plain AdapterContainer")
    elif not isinstance(vars(factory).get("adapters"), dict):
        problems.append("AdapterContainer.adapters is not an instance dict")
    problems += missing_attrs(
        container_cls, ("register_adapter", "lookup_adapter", "reset_adapters", "cleanup_connections")
    )
    problems += missing_attrs(context_mod, ("get_invocation_context", "set_invocation_context"))
    problems += [
        p + " (context not propagated)"
        for p in missing_attrs(runnable_mod.GraphRunnableTask, ("_pool_thread_initializer",))
    ]
    return problems


def current_invocation_context() -> Any | None:
    """The dbt invocation context of this thread, None outside any invocation."""
    from dbt_common.context import get_invocation_context

    try:
        return get_invocation_context()
    except LookupError:
        return None


def adapters_of(inst: Installation, context: Any) -> list[Any]:
    """The adapters registered for one invocation context (a copy)."""
    with inst.registry_lock:
        return list((inst.registry.get(context) or {}).values())


def adapter_of_type(inst: Installation, context: Any, adapter_type: str) -> Any | None:
    """The invocation's adapter of `adapter_type` (FACTORY's key: the adapter's type name), if any."""
    with inst.registry_lock:
        return (inst.registry.get(context) or {}).get(adapter_type)


def install(inst: Installation, on_new_context: Callable[[Any], None]) -> None:
    """Make `FACTORY.adapters` per invocation. `on_new_context(ctx)` is called in the invoking thread when an
    invocation's preflight first asks for its adapters (the stop tokens record the context then)."""
    import dbt.adapters.factory as factory_mod

    factory = factory_mod.FACTORY
    base = type(factory)

    def _get_adapters(self: Any) -> dict[str, Any]:
        ctx = current_invocation_context()
        if ctx is None:
            # Outside any dbt invocation (e.g. planalign code calling get_adapter): the process-wide dict.
            result: dict[str, Any] = self.__dict__["adapters"]
            return result
        with inst.registry_lock:
            adapters = inst.registry.get(ctx)
            if adapters is None:
                adapters = {}
                inst.registry[ctx] = adapters
                on_new_context(ctx)
            return adapters

    def _set_adapters(self: Any, value: dict[str, Any]) -> None:
        self.__dict__["adapters"] = value

    isolated = type(
        "InvocationIsolatedAdapterContainer",
        (base,),
        {"adapters": property(_get_adapters, _set_adapters), "__module__": __name__},
    )
    inst.factory = factory
    inst.original_factory_class = base
    factory.__class__ = isolated


def restore(inst: Installation) -> None:
    if inst.factory is not None and inst.original_factory_class is not None:
        inst.factory.__class__ = inst.original_factory_class


def live_adapter_count(inst: Installation | None) -> int:
    """Adapters currently held in the per-invocation registry (diagnostics and tests)."""
    if inst is None:
        return 0
    with inst.registry_lock:
        return sum(len(adapters) for adapters in inst.registry.values())
