"""Fakes for engine tests: tiny in-memory manifests and scriptable invokers (no dbt)."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio

from planalign.engine.classification import ModelClassifier, ModelExecutionType
from planalign.engine.graph import ModelDependencyAnalyzer
from planalign.engine.invocation import InvocationOutcome, OutcomeStatus, current_scope
from planalign.engine.nodes import ManifestNode, ProjectManifest

PKG = "proj"


def uid(name: str) -> str:
    return f"model.{PKG}.{name}"


def make_manifest(
    graph: Mapping[str, Iterable[str]],
    *,
    classes: Mapping[str, str] | None = None,
    seeds: Iterable[str] = (),
    materialized: Mapping[str, str] | None = None,
    stages: Mapping[str, str] | None = None,
) -> ProjectManifest:
    """graph: model name → names it depends on (models or seeds)."""
    seeds = set(seeds)
    classes = classes or {}
    nodes: dict[str, ManifestNode] = {}
    for seed in seeds:
        nodes[f"seed.{PKG}.{seed}"] = ManifestNode(f"seed.{PKG}.{seed}", seed, "seed", PKG)
    for name, deps in graph.items():
        planalign: dict[str, Any] = {}
        if name in classes:
            planalign["execution"] = classes[name]
        if stages and name in stages:
            planalign["stage"] = stages[name]
        nodes[uid(name)] = ManifestNode(
            unique_id=uid(name),
            name=name,
            resource_type="model",
            package_name=PKG,
            depends_on=tuple(f"seed.{PKG}.{d}" if d in seeds else uid(d) for d in deps),
            materialized=(materialized or {}).get(name, "table"),
            meta={"planalign": planalign} if planalign else {},
        )
    return ProjectManifest(project_dir=Path("/fake/project"), nodes=nodes)


def make_analyzer(
    graph: Mapping[str, Iterable[str]],
    *,
    default_class: ModelExecutionType = ModelExecutionType.PARALLEL_SAFE,
    **kwargs: Any,
) -> ModelDependencyAnalyzer:
    return ModelDependencyAnalyzer(make_manifest(graph, **kwargs), ModelClassifier(default_class))


OK = InvocationOutcome(OutcomeStatus.SUCCESS)


def fail(message: str = "boom", *, retryable: bool = False) -> InvocationOutcome:
    return InvocationOutcome(OutcomeStatus.ERROR, message, retryable=retryable)


class FakeInvoker:
    """Records every call; each model "runs" for `duration` seconds (or until its gate opens).

    `script[name]` lists outcomes for successive attempts (the last one repeats). `log` holds ("start"|"end",
    name) in the order they happened, under one lock, so tests can reason about overlap without timing.
    `scopes` records the engine's `InvocationScope` current in each call, by model name.
    """

    def __init__(
        self,
        *,
        duration: float = 0.005,
        durations: Mapping[str, float] | None = None,
        script: Mapping[str, list[InvocationOutcome]] | None = None,
        gates: Mapping[str, threading.Event] | None = None,
        barriers: Mapping[str, threading.Barrier] | None = None,
        supports_concurrency: bool = True,
        on_start: Callable[[str], None] | None = None,
    ) -> None:
        self.duration = duration
        self.durations = dict(durations or {})
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.gates = dict(gates or {})
        self.barriers = dict(barriers or {})
        self._supports_concurrency = supports_concurrency
        self.on_start = on_start
        self.lock = threading.Lock()
        self.log: list[tuple[str, str]] = []
        self.running: set[str] = set()
        self.max_in_flight = 0
        self.calls: dict[str, int] = {}
        self.seen_vars: list[Mapping[str, Any]] = []
        self.scopes: dict[str, Any] = {}
        #: Set when any call was interrupted (by an `InterruptibleFakeInvoker`'s scope), or by a test.
        self.interrupted = threading.Event()

    @property
    def supports_concurrency(self) -> bool:
        return self._supports_concurrency

    @property
    def in_flight(self) -> int:
        with self.lock:
            return len(self.running)

    def starts(self) -> list[str]:
        return [name for kind, name in self.log if kind == "start"]

    @contextlib.contextmanager
    def stoppable_call(self) -> Iterator[threading.Event]:
        """The event that stops one call. The plain fake cannot be stopped: only a test sets `interrupted`."""
        yield self.interrupted

    def run_model(self, node: ManifestNode, *, vars: Mapping[str, Any]) -> InvocationOutcome:
        with self.stoppable_call() as stop:
            return self.run_one(node, vars, stop)

    def run_one(
        self, node: ManifestNode, vars: Mapping[str, Any], stop: threading.Event
    ) -> InvocationOutcome:
        name = node.name
        with self.lock:
            self.log.append(("start", name))
            self.running.add(name)
            self.max_in_flight = max(self.max_in_flight, len(self.running))
            self.calls[name] = self.calls.get(name, 0) + 1
            attempt = self.calls[name]
            self.seen_vars.append(dict(vars))
            self.scopes[name] = current_scope()
        try:
            if self.on_start is not None:
                self.on_start(name)
            if name in self.barriers:
                self.barriers[name].wait(timeout=5)
            if name in self.gates:
                gate = self.gates[name]
                deadline = time.monotonic() + 5
                while not gate.wait(0.005) and not stop.is_set() and time.monotonic() < deadline:
                    pass
            else:
                stop.wait(self.durations.get(name, self.duration))
            if stop.is_set():
                scope = current_scope()
                if scope is not None and scope.failed_fast is not None:
                    # As the real invoker does: interrupted because another model failed fast.
                    return InvocationOutcome(OutcomeStatus.NOT_RUN, "interrupted: the run failed fast")
                return fail("interrupted")
            outcomes = self.script.get(name)
            if outcomes:
                return outcomes[min(attempt, len(outcomes)) - 1]
            return OK
        finally:
            with self.lock:
                self.running.discard(name)
                self.log.append(("end", name))


class InterruptibleFakeInvoker(FakeInvoker):
    """Registers each call under the engine's current `InvocationScope`, as the real invoker does: when that
    scope is stopped, the calls of that scope — and only those — return an "interrupted" error (a batch
    starts no further model). `interrupted` records that some call was stopped."""

    @contextlib.contextmanager
    def stoppable_call(self) -> Iterator[threading.Event]:
        stop = threading.Event()
        scope = current_scope()
        if scope is None:
            yield stop
            return

        def hook() -> int:
            stop.set()
            self.interrupted.set()
            return 1

        with scope.stoppable(hook):
            yield stop


def intervals(log: list[tuple[str, str]]) -> dict[str, tuple[int, int]]:
    """name → (start position, end position) in the invoker log (last attempt's end)."""
    spans: dict[str, list[int]] = {}
    for position, (kind, name) in enumerate(log):
        if kind == "start":
            spans.setdefault(name, [position, position])
        else:
            spans[name][1] = position
    return {name: (s, e) for name, (s, e) in spans.items()}


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


async def wait_until(predicate: Callable[[], bool], *, limit: int = 500) -> None:
    """Poll in 10 ms steps (at most `limit` steps): for conditions set by worker threads."""
    for _ in range(limit):
        if predicate():
            return
        await anyio.sleep(0.01)
    raise AssertionError("condition not reached")


class FakeBatchInvoker(InterruptibleFakeInvoker):
    """A `BatchModelInvoker`: `run_models` runs its models one after another, in the order given, as dbt does
    with `--threads 1`. A model whose dependency in the batch did not succeed is NOT_RUN, and so is every
    model after its scope was stopped. `batches` records the names in each call (single-model calls too).

    `not_run` names models the "invoker" declines to run, for no reason the engine can see, on every call.
    `timed` reports each model's own start and end (as the real invoker does with dbt's node timing).
    """

    def __init__(
        self,
        *,
        max_models_per_invocation: int = 64,
        not_run: Iterable[str] = (),
        timed: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._max = max_models_per_invocation
        self.not_run = set(not_run)
        self.timed = timed
        self.batches: list[list[str]] = []

    @property
    def max_models_per_invocation(self) -> int:
        return self._max

    def run_model(self, node: ManifestNode, *, vars: Mapping[str, Any]) -> InvocationOutcome:
        return self.run_models([node], vars=vars)[node.unique_id]

    def run_models(
        self, nodes: Sequence[ManifestNode], *, vars: Mapping[str, Any]
    ) -> dict[str, InvocationOutcome]:
        assert 1 <= len(nodes) <= self._max, f"batch of {len(nodes)} exceeds {self._max}"
        with self.lock:
            self.batches.append([n.name for n in nodes])
        outcomes: dict[str, InvocationOutcome] = {}
        with self.stoppable_call() as stop:
            for node in nodes:
                blocked = any(
                    outcomes.get(dep) is not None and not outcomes[dep].ok for dep in node.depends_on
                )
                if blocked or stop.is_set() or node.name in self.not_run:
                    outcomes[node.unique_id] = InvocationOutcome(OutcomeStatus.NOT_RUN, "not run")
                    continue
                started = time.time()
                outcome = self.run_one(node, vars, stop)
                if self.timed:
                    outcome = dataclasses.replace(outcome, started_at=started, completed_at=time.time())
                outcomes[node.unique_id] = outcome
                scope = current_scope()
                if not outcome.ok and scope is not None:
                    # As the real invoker does: a failure is reported as the model ends, so that a
                    # fail-fast scope stops before the next model of the batch starts.
                    scope.model_failed(node.unique_id, retryable=outcome.retryable)
        return outcomes


def batch_invoker_kinds() -> list[Any]:
    """pytest params: the same test over one model per invocation and over batches."""
    import pytest

    return [pytest.param(1, id="single"), pytest.param(16, id="batches")]
