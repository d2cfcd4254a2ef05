"""What will run, in which class, in which order and how fast it can be — planning, separate from execution.

An `ExecutionPlan` is a value computed by `ModelDependencyAnalyzer.plan` from the declared graph, the
execution classes and (optionally) durations recorded in earlier runs. The engine consumes its dependency map
and priorities; the `plan` command and the orchestrator print its phases. Phases are a description for
people and for speed estimates: the engine itself has no wave barriers and starts each model the moment its
dependencies have succeeded.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from planalign.engine.classification import ModelExecutionType


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
    classes (SEQUENTIAL models alone) and `max_workers` (unlimited when None). Without models that run
    alone and with enough workers the two are equal.
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
            "enable_conditional_parallelization": self.enable_conditional_parallelization,
        }


def simulate_makespan(
    order: Sequence[str],
    dependencies: Mapping[str, Sequence[str]],
    weights: Mapping[str, float],
    remaining_path: Mapping[str, float],
    runs_alone: Mapping[str, bool],
    max_workers: int | None,
) -> float:
    """Makespan of a simulated run under the engine's dispatch policy.

    The policy is the engine's: ready models ordered by (longest remaining path, unique_id); the head of that
    order is started if a worker is free and, for a model that runs alone, nothing is in flight; otherwise
    dispatch waits (no backfilling past a blocked head, which is what keeps SEQUENTIAL models from starving).
    """
    if not order:
        return 0.0
    workers = max_workers if max_workers is not None else len(order)
    waiting = {uid: len(dependencies[uid]) for uid in order}
    children: dict[str, list[str]] = {uid: [] for uid in order}
    for uid in order:
        for parent in dependencies[uid]:
            children[parent].append(uid)
    ready: list[tuple[float, str]] = [(-remaining_path[uid], uid) for uid in order if waiting[uid] == 0]
    heapq.heapify(ready)
    running: list[tuple[float, str]] = []  # (finish time, uid)
    alone_running = False
    now = 0.0
    while ready or running:
        while ready and len(running) < workers and not alone_running:
            _, head = ready[0]
            if runs_alone[head] and running:
                break
            heapq.heappop(ready)
            heapq.heappush(running, (now + weights[head], head))
            alone_running = runs_alone[head]
        now, done = heapq.heappop(running)
        if runs_alone[done]:
            alone_running = False
        for child in children[done]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, (-remaining_path[child], child))
    return now


#: Name prefixes (as underscore-separated tokens) that stand for a well-known group of models.
_GROUP_NAMES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("int", "hazard"), "hazard_calculations"),
    (("stg", "config"), "staging_config"),
    (("stg",), "staging"),
    (("dq",), "data_quality"),
    (("dim",), "dimensions"),
    (("fct",), "facts"),
    (("int",), "intermediate"),
)


def group_label(names: Sequence[str], stages: Sequence[str | None]) -> str | None:
    """A human label for a group of models, e.g. "hazard_calculations group" or "staging group".

    The longest common prefix of the names' underscore tokens (each name's last token excluded, so a single
    model is labelled by its family, not by itself) decides — named after the most specific well-known prefix
    it starts with, else spelled out; failing that, a shared planalign stage.
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
        for prefix, group in _GROUP_NAMES:
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
