"""The `behavior-source-frames` speed-up: naming a behavior flag's source without `inspect.stack()`.

dbt-common's `dbt_common.behavior_flags.BehaviorFlagRendered.__init__` evaluates
`flag.get("source", self._default_source())` for every behavior flag of every adapter — the default is
computed even when the flag names its source — and the staticmethod `_default_source()` walks
`inspect.stack()`, which builds a `FrameInfo` with source context for every frame of the call stack (reading
files through `linecache`), to return the name of the first module on the stack that is not
`dbt_common.behavior_flags`. dbt creates one adapter per `dbt run`; planalign's engine creates one per
invocation (`planalign.dbt.isolation.adapters`), one per model on a server warehouse. Measured on PostgreSQL
(3 flags per adapter, docs/benchmarks.md "PostgreSQL: client CPU"): 5 ms of CPU per call, 15 ms of the
18 ms it took to create an adapter.

The replacement returns the same name from the frames themselves (`sys._getframe`, each frame's module from
its globals' `__name__`, as `inspect.getmodule` finds it for code of an imported module), skipping frames of
code that belongs to no imported module (as `inspect.getmodule` returning None is skipped), and "Unknown"
when no frame qualifies, as dbt-common does. The name only labels the event dbt fires when a flag is unset
and read; nothing else reads it. Relies on `BehaviorFlagRendered._default_source` being a staticmethod of
no arguments, verified by `check()`.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

from planalign.dbt.isolation._base import Installation, missing_attrs


def check() -> list[str]:
    import dbt_common.behavior_flags as behavior_flags

    problems = missing_attrs(behavior_flags, ("BehaviorFlagRendered",))
    if problems:
        return problems
    raw = behavior_flags.BehaviorFlagRendered.__dict__.get("_default_source")
    if not isinstance(raw, staticmethod):
        return ["BehaviorFlagRendered._default_source is no longer a staticmethod"]
    if inspect.signature(raw.__func__).parameters:
        return ["BehaviorFlagRendered._default_source now takes arguments"]
    return []


def default_source(skip: str) -> str:
    """The name of the innermost module on this thread's stack other than `skip` (and this module)."""
    frame: Any = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__")
        if name not in (skip, __name__) and isinstance(name, str) and name in sys.modules:
            return name
        frame = frame.f_back
    return "Unknown"


def install(inst: Installation) -> None:
    import dbt_common.behavior_flags as behavior_flags

    skip = behavior_flags.__name__

    def _default_source() -> str:
        return default_source(skip)

    inst.patch(behavior_flags.BehaviorFlagRendered, "_default_source", staticmethod(_default_source))
