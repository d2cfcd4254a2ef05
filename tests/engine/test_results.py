"""Run results: JSON round-trip of real engine results, multi-run files, and derived durations."""

from __future__ import annotations

import json
from pathlib import Path

from planalign.engine.results import (
    EngineRunResult,
    ModelStatus,
    durations_from_results,
    load_run_results,
    write_run_results,
)
from planalign.engine.runner import EngineSettings, ParallelExecutionEngine

from .fakes import OK, FakeInvoker, fail, make_analyzer, uid
from .test_watchdog import ScriptedProbe, rss

GRAPH = {"a": [], "b": ["a"], "c": ["b"], "d": [], "e": ["d"]}


async def run(label: str) -> EngineRunResult:
    invoker = FakeInvoker(
        script={"a": [fail("transient", retryable=True), OK], "d": [fail("bad sql")]},
    )
    settings = EngineSettings(max_workers=2, retry_backoff_s=0.0, watchdog_interval_s=0.005)
    probe = ScriptedProbe(rss(10), rss(9000), rss(10))  # one pressure event and its relief
    engine = ParallelExecutionEngine(make_analyzer(GRAPH), invoker, settings, memory_probe=probe)
    return await engine.execute(list(GRAPH), vars={"simulation_year": 2025}, label=label)


async def test_single_run_round_trips(tmp_path: Path) -> None:
    result = await run("foundation")
    assert result.result_for("a").attempts == 2
    assert result.result_for("e").status is ModelStatus.SKIPPED
    path = tmp_path / "target" / "planalign_run_results.json"
    write_run_results(path, result)
    document = json.loads(path.read_text())
    assert set(document) == {"results", "summary"}
    assert len(document["results"]) == len(GRAPH)
    first = document["results"][0]
    for key in ("unique_id", "status", "attempts", "started_at", "completed_at", "worker", "error"):
        assert key in first
    assert document["summary"]["counts"] == {"success": 3, "error": 1, "skipped": 1, "cancelled": 0}
    assert document["summary"]["success"] is False
    assert load_run_results(path) == [result]
    assert result.to_dict() == document


async def test_several_runs_in_one_file_keep_their_order_and_models(tmp_path: Path) -> None:
    runs = [await run("initialization"), await run("foundation")]
    path = tmp_path / "engine_runs.json"
    write_run_results(path, runs)
    loaded = load_run_results(path)
    assert loaded == runs
    assert [r.label for r in loaded] == ["initialization", "foundation"]
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


async def test_timeline_fields_are_consistent() -> None:
    result = await run("stage")
    for model in result.results:
        if model.status in (ModelStatus.SUCCESS, ModelStatus.ERROR):
            assert model.started_at is not None and model.completed_at is not None
            assert model.started_at <= model.completed_at
            assert model.start_offset_s is not None and model.end_offset_s is not None
            assert model.duration_s == model.end_offset_s - model.start_offset_s
            assert model.worker in (0, 1)
    assert result.limit_changes[0].limit == 2
    assert result.summed_model_time_s > 0
    assert 0 < result.parallelism_mean <= result.parallelism_max <= 2


async def test_durations_come_from_successful_models_only() -> None:
    result = await run("stage")
    durations = durations_from_results([result])
    assert set(durations) == {uid("a"), uid("b"), uid("c")}
    assert durations[uid("a")] == result.result_for("a").duration_s
