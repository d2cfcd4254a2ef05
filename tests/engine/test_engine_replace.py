"""`ParallelExecutionEngine.replace` and `plan_for` (issue #24 items 1 and 4): a changed engine keeps its
collaborators — the specification's `DbtRunner` used to copy an engine by hand and drop its recorded
durations and clock — and the engine's plan is `plan_for` with its invoker's capabilities."""

from __future__ import annotations

import pytest

from planalign.engine.runner import (
    EngineSettings,
    InvokerCapabilities,
    ParallelExecutionEngine,
    capabilities_of,
    plan_for,
)
from tests.engine.fakes import FakeBatchInvoker, FakeInvoker, make_analyzer, uid

GRAPH = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}


def test_replace_keeps_every_collaborator_and_changes_the_setting() -> None:
    def clock() -> float:
        return 0.0

    engine = ParallelExecutionEngine(
        make_analyzer(GRAPH),
        FakeInvoker(),
        EngineSettings(max_workers=3),
        clock=clock,
        durations={uid("a"): 5.0},
    )
    changed = engine.replace(enable_conditional_parallelization=True, fail_fast=True)
    assert changed.settings.enable_conditional_parallelization and changed.settings.fail_fast
    assert changed.settings.max_workers == 3
    assert (changed.analyzer, changed.invoker) == (engine.analyzer, engine.invoker)
    assert changed.durations == {uid("a"): 5.0} and changed.clock is clock
    assert not engine.settings.enable_conditional_parallelization  # the original is unchanged
    with pytest.raises(TypeError, match="unknown"):
        engine.replace(workers=2)


@pytest.mark.parametrize("invoker", [FakeInvoker(), FakeBatchInvoker()], ids=["single", "batch"])
def test_the_engines_plan_is_plan_for_with_its_invokers_capabilities(invoker: FakeInvoker) -> None:
    analyzer = make_analyzer(GRAPH)
    settings = EngineSettings(max_workers=2, models_per_invocation=8)
    durations = {uid("b"): 3.0, uid("c"): 1.0}
    engine = ParallelExecutionEngine(analyzer, invoker, settings, durations=durations)
    models = list(GRAPH)
    expected = plan_for(analyzer, models, settings, capabilities_of(invoker), durations)
    assert engine.plan(models).to_dict() == expected.to_dict()


def test_plan_for_runs_one_worker_and_no_batches_without_the_capabilities() -> None:
    analyzer = make_analyzer(GRAPH)
    settings = EngineSettings(max_workers=4, models_per_invocation=8)
    plan = plan_for(analyzer, list(GRAPH), settings, InvokerCapabilities(False, 1))
    assert plan.max_workers == 1 and plan.models_per_invocation == 1
    plan = plan_for(analyzer, list(GRAPH), settings, InvokerCapabilities(True, 2))
    assert plan.max_workers == 4 and plan.models_per_invocation == 2
