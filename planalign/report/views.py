"""What the charts and the tables compute from a `RunReport`: per-stage speedups, the concurrency and the
limit over time, the watchdog's events on the run's clock, the slowest models.

Apart from the model (what the run directory says) and from the drawing (how it looks), so each view is one
function a test can check with hand-made numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from planalign.engine.results import PressureEvent, concurrency_steps
from planalign.report.model import EngineRun, ModelExecution, RunReport
from planalign.simulation.stages import SimulationStage

#: The orchestrator's stages in run order; stages the report does not know are appended after these.
STAGE_ORDER: tuple[str, ...] = tuple(stage.value for stage in SimulationStage)

#: How many of the longest model executions the report lists.
SLOWEST_MODELS = 15


@dataclass(frozen=True)
class StageSpeedup:
    """Planned against achieved speedup of one stage, over every year it ran in.

    Both are "serial time / wall time" ratios weighted by time: `achieved` is the models' summed run time
    over the stage's summed wall time; `estimated` is the same summed run time over the wall time the plan
    predicted (each engine run's run time divided by its estimated speedup).
    """

    stage: str
    runs: int
    wall_s: float
    busy_s: float
    estimated: float | None
    achieved: float | None


def stage_speedups(runs: Iterable[EngineRun]) -> list[StageSpeedup]:
    """Per-stage planned vs achieved speedup, stages in run order."""
    grouped: dict[str, list[EngineRun]] = {}
    for run in runs:
        grouped.setdefault(run.stage, []).append(run)
    result = []
    for stage in _ordered_stages(grouped):
        members = grouped[stage]
        wall = sum(r.wall_s for r in members)
        busy = sum(r.busy_s for r in members)
        planned = [r for r in members if r.estimated_speedup and r.busy_s > 0]
        planned_wall = sum(r.busy_s / r.estimated_speedup for r in planned if r.estimated_speedup)
        planned_busy = sum(r.busy_s for r in planned)
        result.append(
            StageSpeedup(
                stage=stage,
                runs=len(members),
                wall_s=wall,
                busy_s=busy,
                estimated=planned_busy / planned_wall if planned_wall > 0 else None,
                achieved=busy / wall if wall > 0 and busy > 0 else None,
            )
        )
    return result


def _ordered_stages(stages: Iterable[str]) -> list[str]:
    present = set(stages)
    known = [s for s in STAGE_ORDER if s in present]
    return known + sorted(present - set(known))


def concurrency_profile(executions: Iterable[ModelExecution]) -> tuple[list[float], list[int]]:
    """How many models were running at each instant, as a step function (times, counts; step at each time).

    The engine's own sweep (`concurrency_steps`, which also gives its `parallelism_mean`), so the line drawn
    and the parallelism the engine reports count overlaps the same way.
    """
    steps = concurrency_steps((e.start_s, e.end_s) for e in executions)
    return [at for at, _ in steps], [count for _, count in steps]


def limit_profile(runs: Iterable[EngineRun]) -> tuple[list[float], list[float]]:
    """The concurrency limit as a step function over each engine run; NaN breaks the line between runs, when
    no engine is running and there is no limit."""
    times: list[float] = []
    limits: list[float] = []
    for run in runs:
        current = float(run.initial_limit)
        times.append(run.start_s)
        limits.append(current)
        for change in run.limit_changes:
            current = float(change.limit)
            times.append(run.at_s(change.offset_s))
            limits.append(current)
        times.append(run.end_s)
        limits.append(current)
        times.append(run.end_s)
        limits.append(math.nan)
    return times, limits


def limit_at(runs: Sequence[EngineRun], at_s: float) -> float | None:
    """The concurrency limit in force at an instant, or None if no engine run covers it."""
    for run in runs:
        if run.start_s <= at_s <= run.end_s:
            current = float(run.initial_limit)
            for change in run.limit_changes:
                if run.at_s(change.offset_s) <= at_s:
                    current = float(change.limit)
            return current
    return None


def watchdog_events(runs: Iterable[EngineRun]) -> list[tuple[float, PressureEvent]]:
    """Every memory-watchdog transition of the run with its instant on the run's clock, in run order."""
    return [(run.at_s(event.offset_s), event) for run in runs for event in run.pressure_events]


def slowest_models(report: RunReport, count: int = SLOWEST_MODELS) -> list[ModelExecution]:
    """The longest model executions, longest first (ties by model name, so the list is stable)."""
    return sorted(report.executions, key=lambda e: (-e.duration_s, e.model))[:count]
