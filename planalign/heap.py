"""Keeping CPython's garbage collector from stalling every thread — the event loop included — during a run.

Why this exists: a full (generation-2) collection walks every tracked object while holding the GIL. A parsed
dbt manifest is about 200,000 such objects, and dbt allocates fast enough to trigger a full collection every
second or two, so on this project each one froze the whole process for 60–120 ms (250 ms and more on a loaded
machine) — an async host's event loop with it. Almost all of those objects live for the whole run, so they
are moved to the permanent generation (`gc.freeze`), where collections no longer look at them; a full
collection then walks only what the run allocated since, 20–50 ms. Parsing itself creates those objects in
one burst, so collections are paused for its duration (they would find nothing to free).

Both are process-wide switches, shared by every simulation in the process, so they are reference-counted:
the first run to start freezes, and the last one to end unfreezes (everything frozen returns to the oldest
generation and is collected normally again, so nothing leaks once the runs are over). Freezing and
unfreezing are constant-time list splices. Thread-safe: any thread may enter either context.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_runs = 0
_pauses = 0
_enabled_before_pause = True


@contextmanager
def long_lived_heap() -> Iterator[None]:
    """For the duration of a run: what is alive when it starts (and what `bulk_load` loads during it) is
    frozen out of the collector's reach."""
    global _runs
    with _lock:
        _runs += 1
        gc.freeze()
    try:
        yield
    finally:
        with _lock:
            _runs -= 1
            if _runs == 0:
                gc.unfreeze()


@contextmanager
def bulk_load() -> Iterator[None]:
    """No automatic collections while a large, long-lived structure is built; inside a run, what it built
    is frozen when it ends, so the first collection afterwards does not walk it either. Restores the
    collector's enabled state as the caller had it."""
    global _pauses, _enabled_before_pause
    with _lock:
        if _pauses == 0:
            _enabled_before_pause = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _lock:
            if _runs > 0:
                gc.freeze()
            _pauses -= 1
            if _pauses == 0 and _enabled_before_pause:
                gc.enable()
