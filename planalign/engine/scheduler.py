"""The dispatch policy as one pure data structure: the ready set, the priorities and how batches are formed.

`Scheduler` decides which models start next and together; it does no I/O, knows no clock and no asyncio.
Two drivers run the same instance type, so what the engine does and what the plan estimates cannot drift
apart: `planalign.engine.runner` feeds it the outcomes of real invocations, and `simulate` (here) feeds it
simulated completions to estimate a run's makespan, speedup and batches.

Dispatch policy. Ready models are ordered by (longest remaining critical path, unique_id) — the path weighted
by recorded durations when the plan has them. The head of that order starts when an invocation slot is free
and, if it must run alone (SEQUENTIAL, or CONDITIONAL without `enable_conditional_parallelization`), when
nothing else is in flight; otherwise dispatch waits. Never starting a lower-priority model past a blocked head
is what keeps a model that runs alone from being starved by a stream of parallel ones.

Batches (`batch_size` > 1). A dbt invocation has a fixed cost of ~30 ms before its first model, about twice
what a small model costs inside it, and Python threads share one GIL, so one model per invocation spends most
of its time starting dbt. An invocation therefore takes, after its head: more ready models, up to an equal
share of the ready models over the invocations that may start now (so independent models still spread over
the workers, as dbt's threads would take them); then, highest priority first, models not yet ready whose
every unfinished dependency is in the batch (so a chain runs in one invocation); at most `batch_size` in all.
Models that run alone are batched only with each other — the consecutive ones at the head of the ready order,
and their descendants that run alone — and such a batch runs with nothing else in flight, so each of them
still runs alone. A batch is listed in dependency order, the order its invoker runs it. Its models are
resolved when its invocation has returned (the driver learns their outcomes then), so a model that depends on
an early member of a running batch waits for the batch to end.

Tie-breaks (`TieBreak`): UNIQUE_ID (deterministic) as above; ARRIVAL breaks ties by the order models became
ready. `shuffle_seed` (tests only) orders ready models at random, to show that results do not depend on
dispatch order.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from planalign.engine.results import ModelStatus


class TieBreak(StrEnum):
    """How ready models of equal priority are ordered."""

    UNIQUE_ID = "unique_id"
    ARRIVAL = "arrival"


class Scheduler:
    """The ready set, priorities and batch formation of one run (see the module docstring for the policy).

    The driver's protocol: `next_batch(limit)` until it returns None, start each batch; when a batch's
    invocation returns, `resolve` each of its models (SUCCESS readies dependents; after an ERROR,
    `skip_descendants`), then `release` the batch, then dispatch again. `cancel()` stops all dispatch.

    Thread-safety: none, by design. Every method must be called from one thread — the engine's event loop
    thread (all its callers are coroutines of one run), or the thread running `simulate`. Worker threads never
    touch it: they receive a batch's node list and return outcomes, which the owner feeds back in. Unlike
    dbt-core's `GraphQueue` (`core/dbt/graph/queue.py`), which worker threads pull from under a lock, this
    needs no lock because one coroutine-driven owner serializes all access; do not share an instance across
    threads or event loops.
    """

    def __init__(
        self,
        order: Sequence[str],
        dependencies: Mapping[str, Sequence[str]],
        *,
        priority: Mapping[str, float],
        runs_alone: Mapping[str, bool],
        batch_size: int = 1,
        tie_break: TieBreak = TieBreak.UNIQUE_ID,
        shuffle_seed: int | None = None,
    ) -> None:
        """`order` is the plan's topological order, `dependencies` each model's selected dependencies,
        `priority` its longest remaining path (higher starts first), `runs_alone` its class's rule."""
        self._order = tuple(order)
        self._position = {uid: i for i, uid in enumerate(self._order)}
        self._dependencies = {uid: tuple(dependencies[uid]) for uid in self._order}
        children: dict[str, list[str]] = {uid: [] for uid in self._order}
        for uid in self._order:
            for parent in self._dependencies[uid]:
                children[parent].append(uid)
        self._children = {uid: tuple(sorted(kids)) for uid, kids in children.items()}
        self._priority = {uid: float(priority[uid]) for uid in self._order}
        self._alone = {uid: bool(runs_alone[uid]) for uid in self._order}
        self._batch_size = max(1, batch_size)
        self._tie_break = tie_break
        self._rng = random.Random(shuffle_seed) if shuffle_seed is not None else None
        self._sequence = itertools.count()
        self._waiting = {uid: len(self._dependencies[uid]) for uid in self._order}
        self._status: dict[str, ModelStatus] = {}
        self._resolution_order: list[str] = []
        self._dispatched: set[str] = set()  # members of an invocation that has not been released
        self._ready: list[tuple[float, Any, str]] = []
        self._in_flight = 0  # dispatched and not yet resolved
        self._invocations_running = 0
        self._alone_running = False
        self._cancelled = False
        for uid in self._order:
            if self._waiting[uid] == 0:
                self._push_ready(uid)

    # ------------------------------------------------------------------ state

    @property
    def done(self) -> bool:
        """Every model is resolved."""
        return len(self._status) == len(self._order)

    @property
    def stalled(self) -> bool:
        """Models are unresolved, yet nothing runs and nothing is ready: a driver bug, never a valid state."""
        return not self.done and self._invocations_running == 0 and not self._ready

    @property
    def cancelled(self) -> bool:
        """`cancel()` was called."""
        return self._cancelled

    @property
    def in_flight(self) -> int:
        """Models dispatched and not yet resolved."""
        return self._in_flight

    @property
    def invocations_running(self) -> int:
        """Batches dispatched and not yet released."""
        return self._invocations_running

    @property
    def resolution_order(self) -> tuple[str, ...]:
        """Models in the order they were resolved."""
        return tuple(self._resolution_order)

    def status(self, uid: str) -> ModelStatus | None:
        """The model's final status, None while it is unresolved."""
        return self._status.get(uid)

    def unresolved(self) -> list[str]:
        return [uid for uid in self._order if uid not in self._status]

    # ------------------------------------------------------------------ dispatch

    def next_batch(self, limit: int) -> tuple[str, ...] | None:
        """The next invocation to start now, at most `limit` invocations running; None if none may start.
        The batch's models count as dispatched until `release`."""
        if not self._ready or self._alone_running or self._cancelled:
            return None
        if self._invocations_running >= limit:
            return None
        head = self._ready[0][2]
        alone = self._alone[head]
        if alone and self._invocations_running:
            return None
        heapq.heappop(self._ready)
        batch = self._gather(head, alone, limit - self._invocations_running)
        self._dispatched.update(batch)
        self._in_flight += len(batch)
        self._invocations_running += 1
        self._alone_running = alone
        return batch

    def release(self, batch: Sequence[str]) -> None:
        """The batch's invocation has returned (its models resolved): its slot is free again."""
        self._invocations_running -= 1
        if self._alone_running and self._alone[batch[0]]:
            self._alone_running = False
        self._dispatched.difference_update(batch)

    def resolve(self, uid: str, status: ModelStatus) -> None:
        """Record a model's final status. SUCCESS readies the dependents it was the last to wait for; after
        ERROR the driver calls `skip_descendants`."""
        self._mark(uid, status)
        if status is not ModelStatus.SUCCESS:
            return
        for child in self._children[uid]:
            self._waiting[child] -= 1
            if (
                self._waiting[child] == 0
                and child not in self._status
                and child not in self._dispatched
                and not self._cancelled
            ):
                self._push_ready(child)

    def skip_descendants(self, failed: str, on_skip: Callable[[str], None] | None = None) -> list[str]:
        """Resolve every unresolved descendant of `failed` as SKIPPED; `on_skip(uid)` is called right after
        each is marked (so a driver's progress events count it as done at that moment)."""
        skipped: list[str] = []
        stack = list(self._children[failed])
        while stack:
            uid = stack.pop()
            if uid in self._status:
                continue
            self._mark(uid, ModelStatus.SKIPPED)
            skipped.append(uid)
            if on_skip is not None:
                on_skip(uid)
            stack.extend(self._children[uid])
        return skipped

    def cancel(self) -> None:
        """Start nothing more: the ready set is dropped and no model becomes ready again."""
        self._cancelled = True
        self._ready.clear()

    # ------------------------------------------------------------------ internals

    def _mark(self, uid: str, status: ModelStatus) -> None:
        self._status[uid] = status
        self._resolution_order.append(uid)
        if uid in self._dispatched:
            self._in_flight -= 1

    def _key(self, uid: str) -> tuple[float, Any, str]:
        if self._rng is not None:
            return (self._rng.random(), 0, uid)
        if self._tie_break is TieBreak.UNIQUE_ID:
            return (-self._priority[uid], uid, uid)
        return (-self._priority[uid], next(self._sequence), uid)

    def _push_ready(self, uid: str) -> None:
        heapq.heappush(self._ready, self._key(uid))

    def _gather(self, head: str, alone: bool, free: int) -> tuple[str, ...]:
        """The models one invocation runs, headed by the ready model `head`; `free` is how many invocations
        may start now, this one included. All models of a batch run alone, or none."""
        size = self._batch_size
        if size <= 1:
            return (head,)
        batch = [head]
        # Parallel models are shared out over the invocations that may start now; models that run alone
        # would run one after another anyway.
        share = size if alone else min(size, -(-(len(self._ready) + 1) // free))
        while len(batch) < share and self._ready and self._alone[self._ready[0][2]] == alone:
            batch.append(heapq.heappop(self._ready)[2])
        members = set(batch)
        frontier: list[tuple[tuple[float, Any, str], str]] = []
        offered: set[str] = set()

        def offer_children(uid: str) -> None:
            for child in self._children[uid]:
                if child not in offered and self._joins(child, members, alone):
                    offered.add(child)
                    heapq.heappush(frontier, (self._key(child), child))

        for uid in batch:
            offer_children(uid)
        while frontier and len(batch) < size:
            _, child = heapq.heappop(frontier)
            batch.append(child)
            members.add(child)
            offer_children(child)
        batch.sort(key=self._position.__getitem__)
        return tuple(batch)

    def _joins(self, uid: str, members: set[str], alone: bool) -> bool:
        """A model not yet ready may join a batch of its kind (running alone or not) when every dependency
        it still waits for is in the batch: the invocation then runs it after them."""
        if uid in self._status or uid in self._dispatched or self._waiting[uid] == 0:
            return False
        if self._alone[uid] != alone:
            return False
        return all(
            dep in members or self._status.get(dep) is ModelStatus.SUCCESS for dep in self._dependencies[uid]
        )


@dataclass(frozen=True)
class SimulatedRun:
    """What `simulate` found: the makespan (in the weights' unit) and the invocations in start order."""

    makespan: float
    batches: tuple[tuple[str, ...], ...]


def simulate(scheduler: Scheduler, weights: Mapping[str, float], *, workers: int) -> SimulatedRun:
    """Drive `scheduler` over simulated time, every model succeeding: each batch takes the sum of its models'
    weights (its invoker runs them one after another) on one of `workers` invocation slots.

    Completions are processed one at a time, earliest first (ties by the batch's first model), each followed
    by a dispatch, as the engine does when an invocation returns. The fixed cost of an invocation is not in
    the weights, so batches never look faster here than one model per invocation; what they change is which
    models wait for which.
    """
    now = 0.0
    running: list[tuple[float, str, int, tuple[str, ...]]] = []
    started: list[tuple[str, ...]] = []
    sequence = itertools.count()
    while not scheduler.done:
        while (batch := scheduler.next_batch(workers)) is not None:
            started.append(batch)
            end = now + sum(weights[uid] for uid in batch)
            heapq.heappush(running, (end, batch[0], next(sequence), batch))
        if not running:
            raise RuntimeError(f"simulated run stalled with unresolved models: {scheduler.unresolved()[:5]}")
        now, _, _, batch = heapq.heappop(running)
        for uid in batch:
            scheduler.resolve(uid, ModelStatus.SUCCESS)
        scheduler.release(batch)
    return SimulatedRun(makespan=now, batches=tuple(started))


def remaining_paths(
    order: Sequence[str], dependencies: Mapping[str, Iterable[str]], weights: Mapping[str, float]
) -> dict[str, float]:
    """Each model's longest weighted path to the end of the selection, itself included: its priority."""
    children: dict[str, list[str]] = {uid: [] for uid in order}
    for uid in order:
        for parent in dependencies[uid]:
            children[parent].append(uid)
    remaining: dict[str, float] = {}
    for uid in reversed(order):
        remaining[uid] = weights[uid] + max((remaining[c] for c in children[uid]), default=0.0)
    return remaining
