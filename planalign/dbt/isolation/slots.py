"""`invocation_slot`: which dbt invocations may run at the same time, given what stays process-global.

Even with the isolation installed, some of dbt's state is one per process:

* Flags (`dbt.flags.set_flags`, called by each invocation's preflight): e.g. `FULL_REFRESH`,
  `POPULATE_CACHE`, `WRITE_JSON` and the log levels are read from the global flags while models execute.
  Invocations run together only when they share a key that captures every flag that differs between them (the
  invoker's key covers the command, project, profiles, target, `--full-refresh` and its extra run flags); a
  different key waits until the running group has finished, and `exclusive=True` runs alone.
* The event manager: callbacks registered on one invocation also see other invocations' events, so a caller
  must take each model's outcome from the result its own `invoke()` returns, never from events.
* The invocation id (`reset_invocation_id`) is overwritten by each invocation; artifacts written concurrently
  would carry a neighbour's id, which is one reason the invoker passes `--no-write-json`.

Patches nothing; reads the isolation status (unavailable: every invocation runs alone).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Hashable, Iterator
from contextlib import contextmanager


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
                if self._waiting[me] <= 0:
                    del self._waiting[me]  # keys come and go (one per project, target, ...): keep none
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
    one at a time. An exclusive slot (a parse, the project hooks) runs alone whatever the isolation, so it
    does not install it: preparing a project (`planalign plan`, `info`, `validate`) leaves dbt unpatched.
    """
    from planalign.dbt.isolation.gate import install

    with _GATE.hold(key, exclusive=exclusive or not install().available):
        yield
