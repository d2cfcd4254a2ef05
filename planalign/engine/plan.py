"""What will run, in which class, in which order and how fast it can be — planning, separate from execution.

An `ExecutionPlan` is a value computed by `build_plan` (through `ModelDependencyAnalyzer.plan`, or
`ParallelExecutionEngine.plan` for the plan an engine will really execute) from the selection's dependencies,
the execution classes and (optionally) durations recorded in earlier runs. The engine consumes its dependency
map and priorities; the `plan` command and the orchestrator print its phases. Phases are a description for
people: the engine itself has no wave barriers and starts each model the moment its dependencies have
succeeded. The speed estimate is not a description: it runs the engine's own `Scheduler` over simulated time,
with the same worker count and batch size.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from planalign.engine.classification import ModelExecutionType
from planalign.engine.scheduler import Scheduler, remaining_paths, simulate
from planalign.errors import DependencyCycleError


class PhaseMode(StrEnum):
    """PARALLEL: the phase's models may all be in flight together. SEQUENTIAL: one at a time, alone."""

    PARALLEL = "parallel"
    SEQUENTIAL = "sequential"


@dataclass(frozen=True)
class ExecutionPhase:
    """A group of models of one topological level that run together (or, SEQUENTIAL, one after another)."""

    index: int
    mode: PhaseMode
    models: tuple[str, ...]
    label: str | None = None

    def describe(self) -> str:
        """One log line in the specification's style:
        "Phase 1 (Parallel): 3 models, hazard_calculations group"."""
        count = len(self.models)
        text = (
            f"Phase {self.index} ({self.mode.value.capitalize()}): {count} model{'s' if count != 1 else ''}"
        )
        return f"{text}, {self.label}" if self.label else text


@dataclass(frozen=True)
class ExecutionPlan:
    """The plan for one selection of models.

    `model_ids` is a stable topological order (dependencies first, ties by unique_id). `dependencies` maps
    each selected model to the selected models it must wait for — including those reached only through
    unselected models, as dbt does for `--select a c` when `a → b → c`. `remaining_path` is each model's
    longest weighted path to the end of the plan (itself included): the scheduler's priority.

    Speed figures (work measured in `weights`: recorded durations in seconds when given, else 1 per model):
    `max_theoretical_speedup` = total work ÷ critical path — the graph's bound with unlimited workers and no
    execution classes; `estimated_speedup` = total work ÷ the makespan of a simulated run that honours the
    classes (SEQUENTIAL models alone), `max_workers` (unlimited when None) and `models_per_invocation` —
    the engine's own `Scheduler`, driven over simulated time. Without models that run alone and with enough
    workers the two are equal. `batches` are the invocations of that simulated run in start order: what the
    engine forms when every model takes its weight (a real run's batches follow its real timing).
    """

    model_ids: tuple[str, ...]
    names: Mapping[str, str]
    classes: Mapping[str, ModelExecutionType]
    dependencies: Mapping[str, tuple[str, ...]]
    phases: tuple[ExecutionPhase, ...]
    weights: Mapping[str, float]
    weighted: bool
    remaining_path: Mapping[str, float]
    critical_path: tuple[str, ...]
    critical_path_weight: float
    total_work: float
    estimated_speedup: float
    max_theoretical_speedup: float
    enable_conditional_parallelization: bool
    max_workers: int | None = None
    models_per_invocation: int = 1
    batches: tuple[tuple[str, ...], ...] = ()
    label: str | None = None

    def runs_alone(self, unique_id: str) -> bool:
        """Whether the scheduler must run this model with nothing else in flight."""
        return self.classes[unique_id].runs_alone(
            enable_conditional_parallelization=self.enable_conditional_parallelization
        )

    @property
    def parallelizable_count(self) -> int:
        """How many models may run next to others."""
        return sum(1 for uid in self.model_ids if not self.runs_alone(uid))

    def dependents(self) -> dict[str, tuple[str, ...]]:
        """Reverse of `dependencies`, restricted to the selection, each tuple sorted by unique_id."""
        children: dict[str, list[str]] = {uid: [] for uid in self.model_ids}
        for uid, parents in self.dependencies.items():
            for parent in parents:
                children[parent].append(uid)
        return {uid: tuple(sorted(kids)) for uid, kids in children.items()}

    def describe_lines(self) -> list[str]:
        """The specification's "Execution plan" log block, one line per entry, without indentation."""
        lines = [
            f"Total models: {len(self.model_ids)}",
            f"Parallelizable: {self.parallelizable_count}",
            f"Estimated speedup: {self.estimated_speedup:.1f}x",
            f"Phases: {len(self.phases)}",
        ]
        lines.extend(phase.describe() for phase in self.phases)
        return lines

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the `plan` command's `--json` and the run directory)."""
        return {
            "label": self.label,
            "models": [
                {
                    "unique_id": uid,
                    "name": self.names[uid],
                    "execution_class": self.classes[uid].value,
                    "runs_alone": self.runs_alone(uid),
                    "depends_on": list(self.dependencies[uid]),
                    "weight": self.weights[uid],
                    "remaining_path": self.remaining_path[uid],
                }
                for uid in self.model_ids
            ],
            "phases": [
                {"index": p.index, "mode": p.mode.value, "label": p.label, "models": list(p.models)}
                for p in self.phases
            ],
            "critical_path": list(self.critical_path),
            "critical_path_weight": self.critical_path_weight,
            "total_work": self.total_work,
            "weighted": self.weighted,
            "estimated_speedup": self.estimated_speedup,
            "max_theoretical_speedup": self.max_theoretical_speedup,
            "max_workers": self.max_workers,
            "models_per_invocation": self.models_per_invocation,
            "batches": [list(batch) for batch in self.batches],
            "enable_conditional_parallelization": self.enable_conditional_parallelization,
        }


def build_plan(
    dependencies: Mapping[str, Sequence[str]],
    *,
    classes: Mapping[str, ModelExecutionType],
    names: Mapping[str, str],
    stages: Mapping[str, str | None] | None = None,
    durations: Mapping[str, float] | None = None,
    enable_conditional_parallelization: bool = False,
    max_workers: int | None = None,
    models_per_invocation: int = 1,
    group_names: Sequence[tuple[tuple[str, ...], str]] = (),
    label: str | None = None,
) -> ExecutionPlan:
    """The plan of a selection given as `dependencies` (each model → the selected models it waits for).

    `durations` maps unique_id or model name to seconds recorded in an earlier run; models missing from it
    weigh the mean of the known ones. The estimate runs the engine's `Scheduler` over simulated time with
    `max_workers` invocation slots (unlimited when None) and batches of up to `models_per_invocation`.
    """
    order = topological(dependencies)
    deps = {uid: tuple(dependencies[uid]) for uid in order}
    weights, weighted = _weights(order, names, durations)
    alone = {
        uid: classes[uid].runs_alone(enable_conditional_parallelization=enable_conditional_parallelization)
        for uid in order
    }
    remaining = remaining_paths(order, deps, weights)
    critical_path = _critical_path(order, deps, weights)
    critical_weight = sum(weights[uid] for uid in critical_path)
    total_work = sum(weights.values())
    scheduler = Scheduler(order, deps, priority=remaining, runs_alone=alone, batch_size=models_per_invocation)
    simulated = simulate(scheduler, weights, workers=max_workers if max_workers is not None else len(order))
    return ExecutionPlan(
        model_ids=order,
        names={uid: names[uid] for uid in order},
        classes={uid: classes[uid] for uid in order},
        dependencies=deps,
        phases=_phases(order, deps, alone, names, stages or {}, group_names),
        weights=weights,
        weighted=weighted,
        remaining_path=remaining,
        critical_path=critical_path,
        critical_path_weight=critical_weight,
        total_work=total_work,
        estimated_speedup=safe_ratio(total_work, simulated.makespan),
        max_theoretical_speedup=safe_ratio(total_work, critical_weight),
        enable_conditional_parallelization=enable_conditional_parallelization,
        max_workers=max_workers,
        models_per_invocation=max(1, models_per_invocation),
        batches=simulated.batches,
        label=label,
    )


def _weights(
    order: Sequence[str], names: Mapping[str, str], durations: Mapping[str, float] | None
) -> tuple[dict[str, float], bool]:
    if not durations:
        return dict.fromkeys(order, 1.0), False
    known: dict[str, float] = {}
    for uid in order:
        value = durations.get(uid, durations.get(names[uid]))
        if value is not None and value >= 0:
            known[uid] = float(value)
    if not known:
        return dict.fromkeys(order, 1.0), False
    fallback = sum(known.values()) / len(known)
    # A recorded 0 s would make a model free and distort the critical path; a 1 ms floor keeps order.
    return {uid: max(known.get(uid, fallback), 1e-3) for uid in order}, True


def _critical_path(
    order: Sequence[str], deps: Mapping[str, tuple[str, ...]], weights: Mapping[str, float]
) -> tuple[str, ...]:
    best: dict[str, float] = {}
    via: dict[str, str | None] = {}
    for uid in order:
        parent = max(deps[uid], key=lambda p: (best[p], p), default=None)
        best[uid] = weights[uid] + (best[parent] if parent is not None else 0.0)
        via[uid] = parent
    if not order:
        return ()
    end: str | None = max(order, key=lambda u: (best[u], u))
    path: list[str] = []
    while end is not None:
        path.append(end)
        end = via[end]
    return tuple(reversed(path))


def _phases(
    order: Sequence[str],
    deps: Mapping[str, tuple[str, ...]],
    alone: Mapping[str, bool],
    names: Mapping[str, str],
    stages: Mapping[str, str | None],
    group_names: Sequence[tuple[tuple[str, ...], str]],
) -> tuple[ExecutionPhase, ...]:
    levels = _levels(order, deps)
    position = {uid: i for i, uid in enumerate(order)}
    groups: list[tuple[PhaseMode, list[str]]] = []
    for level in sorted(set(levels.values())):
        members = sorted((u for u in order if levels[u] == level), key=position.__getitem__)
        parallel = [u for u in members if not alone[u]]
        sequential = [u for u in members if alone[u]]
        if parallel:
            groups.append((PhaseMode.PARALLEL, parallel))
        if sequential:
            if groups and groups[-1][0] is PhaseMode.SEQUENTIAL:
                groups[-1][1].extend(sequential)
            else:
                groups.append((PhaseMode.SEQUENTIAL, sequential))
    phases = []
    for index, (mode, members) in enumerate(groups, start=1):
        label = group_label([names[u] for u in members], [stages.get(u) for u in members], group_names)
        phases.append(ExecutionPhase(index=index, mode=mode, models=tuple(members), label=label))
    return tuple(phases)


def _levels(order: Sequence[str], deps: Mapping[str, tuple[str, ...]]) -> dict[str, int]:
    """Longest distance from a root of the selection (0 for models with no selected dependency)."""
    levels: dict[str, int] = {}
    for uid in order:
        levels[uid] = 1 + max((levels[p] for p in deps[uid]), default=-1)
    return levels


def topological(deps: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """Kahn's algorithm with a sorted ready set: the one stable order every caller sees."""
    waiting = {uid: len(parents) for uid, parents in deps.items()}
    children: dict[str, list[str]] = {uid: [] for uid in deps}
    for uid, parents in deps.items():
        for parent in parents:
            children[parent].append(uid)
    ready = [uid for uid, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        uid = heapq.heappop(ready)
        order.append(uid)
        for child in children[uid]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, child)
    if len(order) != len(deps):
        raise DependencyCycleError("the selected models form a cycle")  # check_acyclic runs first; defensive
    return tuple(order)


def group_label(
    names: Sequence[str],
    stages: Sequence[str | None],
    group_names: Sequence[tuple[tuple[str, ...], str]] = (),
) -> str | None:
    """A human label for a group of models, e.g. "hazard_calculations group" or "int_hazard group".

    The longest common prefix of the names' underscore tokens (each name's last token excluded, so a single
    model is labelled by its family, not by itself) decides — named after the first of the project's
    `group_names` (`ExecutionDefaults.group_names`) it starts with, else spelled out; failing that, a shared
    planalign stage.
    """
    if not names:
        return None
    token_lists = [name.split("_")[:-1] for name in names]
    common: list[str] = []
    for tokens in zip(*token_lists, strict=False):
        if len(set(tokens)) != 1:
            break
        common.append(tokens[0])
    if common:
        for prefix, group in group_names:
            if tuple(common[: len(prefix)]) == prefix:
                return f"{group} group"
        return f"{'_'.join(common)} group"
    distinct_stages = set(stages)
    if len(distinct_stages) == 1 and None not in distinct_stages:
        return f"{stages[0]} group"
    return None


def safe_ratio(numerator: float, denominator: float) -> float:
    """numerator ÷ denominator, 1.0 for an empty plan (no work is neither faster nor slower)."""
    if denominator <= 0 or math.isclose(denominator, 0.0):
        return 1.0
    return numerator / denominator
