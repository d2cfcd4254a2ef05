"""What the isolation modules share: the record of one installation, the checks every module runs on dbt's
internals before it patches them, and a bounded cache.

No dbt import here. The checks exist because of the failure mode of patching a library: an internal renamed
upstream does not raise, it silently stops being reset or read ("wrong tables, no error"). So every attribute
a module relies on is verified once, at install time, by one of the `missing_*` helpers below, and a module
then reads or writes it directly — never through `hasattr` or `getattr(..., default)`.
"""

from __future__ import annotations

import dataclasses
import inspect
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Installation:
    """Everything `install()` changed, so `uninstall()` can restore it exactly, and the per-installation
    state of the patches (dropped with the installation)."""

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
        # Configuration the caller asked for, not a cache: never evicted (a few strings per database).
        self.instance_settings: dict[str, dict[str, str]] = {}
        # The DuckDB connection object the settings were last applied to, per path (held, so never reused).
        # Bounded: evicting an entry only makes the next open apply the same SET statements again.
        self.applied_to: LRUCache[str, Any] = LRUCache(DATABASE_CACHE_SIZE)
        # (owner, attribute name, original value) of every other patched attribute, restored in order.
        self.patches: list[tuple[Any, str, Any]] = []
        # Manifest -> its linked Graph (the graph-cache speed-up): dropped with the manifest, and at most
        # GRAPH_CACHE_SIZE of them, since each holds a graph of the whole project.
        self.graphs: PerObjectCache[Any] = PerObjectCache(GRAPH_CACHE_SIZE)
        # resolved database path -> (DuckDB connection object, {(database, schema)} known to exist) (the
        # schema-cache speed-up). Bounded: an evicted database only has its schemas listed again.
        self.known_schemas: LRUCache[str, tuple[Any, set[tuple[str, str]]]] = LRUCache(DATABASE_CACHE_SIZE)
        self.cache_lock = threading.Lock()
        # Whether stopped invocations skip their remaining nodes and nodes are timed one by one.
        self.batch_stop = False

    def patch(self, owner: Any, name: str, value: Any) -> None:
        self.patches.append((owner, name, owner.__dict__[name]))
        setattr(owner, name, value)


#: How many database files the per-database caches (schemas known to exist, settings applied) remember: a
#: process uses a handful at a time; a long-lived one (a service, a test session) opens many over its life.
DATABASE_CACHE_SIZE = 32

#: How many manifests the graph cache keeps a linked graph for: one per parsed project in use at a time.
GRAPH_CACHE_SIZE = 8


class LRUCache(Generic[K, V]):
    """A dict that keeps only its `maxsize` most recently used entries. Not thread-safe (callers lock)."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def __setitem__(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        self._data.clear()


class PerObjectCache(Generic[V]):
    """Values attached to live objects that cannot be dict keys (dbt's `Manifest` is an unhashable
    dataclass), by identity: an entry goes away when its object is garbage-collected, so its id can never be
    mistaken for a new object's. With `maxsize`, also only the most recently used entries are kept.
    Thread-safe."""

    def __init__(self, maxsize: int | None = None) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[int, tuple[weakref.ref[Any], V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, obj: Any) -> V | None:
        with self._lock:
            hit = self._data.get(id(obj))
            if hit is None or hit[0]() is not obj:
                return None
            self._data.move_to_end(id(obj))
            return hit[1]

    def setdefault(self, obj: Any, make: Callable[[], V]) -> V:
        with self._lock:
            key = id(obj)
            hit = self._data.get(key)
            if hit is not None and hit[0]() is obj:
                self._data.move_to_end(key)
                return hit[1]
            value = make()

            def drop(ref: weakref.ref[Any], key: int = key) -> None:
                with self._lock:
                    current = self._data.get(key)
                    if current is not None and current[0] is ref:
                        del self._data[key]

            self._data[key] = (weakref.ref(obj, drop), value)
            if self.maxsize is not None:
                while len(self._data) > self.maxsize:
                    self._data.popitem(last=False)
            return value

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


# ---------------------------------------------------------------------------------- install-time checks
# Each returns a list of problems (empty: as expected), phrased so that a reason naming them tells a
# maintainer exactly what changed upstream.


def _qualname(owner: Any) -> str:
    return f"{getattr(owner, '__module__', '?')}.{getattr(owner, '__qualname__', repr(owner))}"


def missing_attrs(owner: Any, names: Iterable[str], *, own: bool = False) -> list[str]:
    """The `names` that `owner` (a class or module) does not define; with `own`, in its own `__dict__` (the
    attribute a patch replaces and restores must be the owner's own, not inherited)."""
    problems = []
    for name in names:
        found = name in vars(owner) if own else _has_static(owner, name)
        if not found:
            problems.append(f"{_qualname(owner)}.{name} is missing")
    return problems


def _has_static(owner: Any, name: str) -> bool:
    try:
        inspect.getattr_static(owner, name)
    except AttributeError:
        return False
    return True


def missing_fields(cls: type, names: Iterable[str]) -> list[str]:
    """The `names` that are not dataclass fields of `cls` (dbt's nodes, configs and credentials are
    dataclasses: a field renamed upstream would otherwise just become a stray attribute when set)."""
    if not dataclasses.is_dataclass(cls):
        return [f"{_qualname(cls)} is not a dataclass"]
    fields = {f.name for f in dataclasses.fields(cls)}
    return [f"{_qualname(cls)} has no field {name!r}" for name in names if name not in fields]


def missing_assignments(func: Any, names: Iterable[str], *, where: str) -> list[str]:
    """The instance attributes in `names` that `func` (typically an `__init__`) no longer mentions: how to
    check an attribute that exists only on instances, without making one."""
    code = getattr(inspect.unwrap(func), "__code__", None)
    if code is None:
        return [f"{where} is not a Python function"]
    return [f"{where} no longer sets {name!r}" for name in names if name not in code.co_names]


def missing_parameters(func: Any, names: Iterable[str], *, where: str) -> list[str]:
    """The parameters in `names` that `func` does not take (a wrapper passes them on by name)."""
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return [f"{where} has no inspectable signature"]
    return [f"{where} no longer takes {name!r}" for name in names if name not in params]


# ------------------------------------------------------------------------------- the current installation

_current: Installation | None = None


def current_installation() -> Installation | None:
    """The installation in effect (None: the isolation is not installed)."""
    return _current


def set_current_installation(inst: Installation | None) -> None:
    global _current
    _current = inst
