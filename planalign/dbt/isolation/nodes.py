"""The compiled state of the shared `Manifest`'s nodes: one invocation at a time compiles a node, afresh.

The shared `Manifest` (parse once, `dbtRunner(manifest=...)` for every invocation) is mutated by each run:
dbt-core's `dbt.compilation.Compiler` writes `compiled_code`, `compiled`, `extra_ctes` and
`extra_ctes_injected` onto the node it compiles and onto its ephemeral ancestors. Two concurrent invocations
of the same model with different vars would overwrite each other's SQL (observed: wrong tables, no error),
and a later invocation would reuse a stale `extra_ctes_injected` (`_recursively_prepend_ctes` returns early
when it is set). `exclusive_nodes()` therefore locks the model and its ephemeral ancestors for the whole
invocation and resets those four attributes before it, so each invocation compiles its own SQL.

Relies on (verified by `check()`, which fails the gate; and `exclusive_nodes` refuses to run without them,
because a reset that no longer resets is wrong tables also when invocations run one at a time):

* dbt-core `dbt.contracts.graph.nodes.CompiledNode` — dataclass fields `compiled`, `compiled_code`,
  `extra_ctes`, `extra_ctes_injected` (what is reset), `depends_on` and `config` (how ephemeral ancestors
  are found); `ModelNode` is a `CompiledNode`; `DependsOn.nodes` and `NodeConfig.materialized` are fields.
* dbt-core `dbt.compilation.Compiler` — `_compile_code` still writes `compiled_code`/`compiled`, and
  `_recursively_prepend_ctes` still reads `extra_ctes_injected` and writes `extra_ctes` (names in their
  code), i.e. the reset attributes are still the compiler's state.

Locks live as long as their manifest (held per manifest object, dropped when it is garbage-collected — never
evicted early, which would let two invocations compile one node at once).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from planalign.dbt.isolation._base import (
    PerObjectCache,
    missing_assignments,
    missing_attrs,
    missing_fields,
)

#: The compiler's per-node state, reset before every invocation that compiles the node.
RESET_FIELDS: dict[str, Any] = {"compiled": False, "compiled_code": None, "extra_ctes_injected": False}
#: `extra_ctes` is reset to a fresh list (a field default would be shared).
RESET_LIST_FIELDS: tuple[str, ...] = ("extra_ctes",)

_checked: list[str] | None = None
_checked_lock = threading.Lock()


def check() -> list[str]:
    """What `exclusive_nodes` relies on, as problems (empty: as expected)."""
    try:
        from dbt.artifacts.resources.v1.components import DependsOn
        from dbt.artifacts.resources.v1.config import NodeConfig
        from dbt.compilation import Compiler
        from dbt.contracts.graph.nodes import CompiledNode, ModelNode
    except ImportError as exc:
        return [f"dbt's node classes could not be imported: {exc}"]
    problems = missing_fields(
        CompiledNode, (*RESET_FIELDS, *RESET_LIST_FIELDS, "depends_on", "config", "unique_id")
    )
    if not issubclass(ModelNode, CompiledNode):
        problems.append("dbt.contracts.graph.nodes.ModelNode is no longer a CompiledNode")
    problems += missing_fields(DependsOn, ("nodes",))
    problems += missing_fields(NodeConfig, ("materialized",))
    problems += missing_attrs(Compiler, ("_compile_code", "_recursively_prepend_ctes"))
    if not problems:
        problems += missing_assignments(
            Compiler._compile_code, ("compiled_code", "compiled"), where="Compiler._compile_code"
        )
        problems += missing_assignments(
            Compiler._recursively_prepend_ctes,
            ("extra_ctes_injected", "extra_ctes"),
            where="Compiler._recursively_prepend_ctes",
        )
    return problems


def verified() -> list[str]:
    """`check()`, once per installation (`forget_check()` makes the next call check again)."""
    global _checked
    with _checked_lock:
        if _checked is None:
            _checked = check()
        return _checked


def forget_check() -> None:
    global _checked
    with _checked_lock:
        _checked = None


_NODE_LOCKS: PerObjectCache[dict[str, threading.Lock]] = PerObjectCache()
_NODE_LOCKS_GUARD = threading.Lock()


def locked_manifest_count() -> int:
    """Manifests with node locks (tests: they go away with their manifest)."""
    return len(_NODE_LOCKS)


def _ephemeral_closure(dbt_manifest: Any, unique_ids: Iterable[str]) -> set[str]:
    """The nodes and every ephemeral model they reach through ephemeral models (whose SQL they inline)."""
    from dbt.contracts.graph.nodes import CompiledNode

    nodes = dbt_manifest.nodes
    found = set(unique_ids)
    stack = list(found)
    while stack:
        node = nodes.get(stack.pop())
        if not isinstance(node, CompiledNode):
            continue  # not in the manifest, or nothing compiled (a seed, a snapshot's source...)
        for parent in node.depends_on.nodes:
            parent_node = nodes.get(parent)
            if (
                isinstance(parent_node, CompiledNode)
                and parent_node.config.materialized == "ephemeral"
                and parent not in found
            ):
                found.add(parent)
                stack.append(parent)
    return found


@contextmanager
def exclusive_nodes(dbt_manifest: Any, unique_ids: str | Iterable[str]) -> Iterator[None]:
    """Hold for the whole invocation that compiles `unique_ids` (one id or several) from `dbt_manifest`.

    Locks the nodes and their ephemeral ancestors (all of them, in one fixed order, so invocations cannot
    deadlock) against other invocations compiling them, and clears their compiled state so this invocation
    renders its own SQL with its own vars. Invocations of disjoint models never wait for each other.
    Raises `RuntimeError` when dbt's node classes are not as this module expects (see the docstring).
    """
    from dbt.contracts.graph.nodes import CompiledNode

    problems = verified()
    if problems:
        raise RuntimeError(
            "cannot reset the compiled state of dbt's nodes between invocations (a reused manifest would "
            f"build wrong tables): {'; '.join(problems)}"
        )
    wanted = [unique_ids] if isinstance(unique_ids, str) else list(unique_ids)
    ids = sorted(_ephemeral_closure(dbt_manifest, wanted))
    with _NODE_LOCKS_GUARD:
        table = _NODE_LOCKS.setdefault(dbt_manifest, dict)
        locks = [table.setdefault(uid, threading.Lock()) for uid in ids]
    for lock in locks:
        lock.acquire()
    try:
        for uid in ids:
            node = dbt_manifest.nodes.get(uid)
            if not isinstance(node, CompiledNode):
                continue
            for name, value in RESET_FIELDS.items():
                setattr(node, name, value)
            for name in RESET_LIST_FIELDS:
                setattr(node, name, [])
        yield
    finally:
        for lock in reversed(locks):
            lock.release()
