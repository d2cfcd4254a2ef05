"""Reading a run directory into the report's data, and the derived views (concurrency, limit, speedups)."""

from __future__ import annotations

import itertools
import json
import math
import shutil
from pathlib import Path

import pytest

from planalign.errors import RunDirectoryError
from planalign.report import (
    EngineRun,
    LimitChange,
    ModelExecution,
    concurrency_profile,
    critical_chain,
    limit_at,
    limit_profile,
    load_run,
    stage_speedups,
)
from planalign.report.views import watchdog_events
from tests.fixtures.sample_run import FAILING_MODEL, SKIPPED_MODEL, SampleRun


def _execution(start: float, end: float, lane: int = 0, model: str = "m") -> ModelExecution:
    return ModelExecution(
        model=model,
        run_label="2025:foundation",
        year=2025,
        stage="foundation",
        lane=lane,
        execution_class="parallel_safe",
        status="success",
        start_s=start,
        end_s=end,
        attempts=1,
    )


def _change(offset_s: float, limit: int) -> LimitChange:
    """The engine's record of a limit change, `offset_s` after its run started."""
    return LimitChange(at="", offset_s=offset_s, limit=limit, reason="pressure")


def _run(
    stage: str,
    start: float,
    end: float,
    executions: tuple[ModelExecution, ...] = (),
    *,
    limit: int = 4,
    changes: tuple[LimitChange, ...] = (),
    estimated: float | None = None,
) -> EngineRun:
    return EngineRun(
        label=f"2025:{stage}",
        year=2025,
        stage=stage,
        start_s=start,
        end_s=end,
        initial_limit=limit,
        estimated_speedup=estimated,
        success=True,
        models=len(executions),
        executions=executions,
        limit_changes=changes,
        pressure_events=(),
    )


# --- loading the sample run ---------------------------------------------------------------------------


def test_every_executed_model_becomes_one_timeline_execution(sample_run: SampleRun) -> None:
    report = load_run(sample_run.run_dir)
    expected = sorted((r.label, r.name, r.worker) for r in sample_run.executed)
    got = sorted((e.run_label, e.model, e.lane) for e in report.executions)
    assert got == expected


def test_executions_sit_inside_their_engine_run_on_the_run_clock(sample_run: SampleRun) -> None:
    report = load_run(sample_run.run_dir)
    assert [run.label for run in report.runs] == [r.label for r in sample_run.engine_runs]
    for run in report.runs:
        for e in run.executions:
            assert run.start_s - 1e-6 <= e.start_s <= e.end_s <= run.end_s + 1e-6, (run.label, e.model)
    for earlier, later in zip(report.runs, report.runs[1:], strict=False):
        assert earlier.end_s <= later.start_s + 1e-6
    first = report.runs[0]
    assert first.start_s == pytest.approx(0.0, abs=1e-6)  # the summary's started_at is t = 0


def test_model_offsets_are_placed_from_the_engine_run_start(sample_run: SampleRun) -> None:
    report = load_run(sample_run.run_dir)
    source = sample_run.engine_runs[3]
    run = report.runs[3]
    model = next(r for r in source.results if r.worker is not None)
    execution = next(e for e in run.executions if e.model == model.name)
    assert model.start_offset_s is not None and model.end_offset_s is not None
    assert execution.start_s - run.start_s == pytest.approx(model.start_offset_s, abs=1e-6)
    assert execution.duration_s == pytest.approx(model.end_offset_s - model.start_offset_s, abs=1e-6)


def test_watchdog_events_and_limit_changes_are_read(sample_run: SampleRun) -> None:
    report = load_run(sample_run.run_dir)
    (label,) = sample_run.pressure_labels
    run = next(r for r in report.runs if r.label == label)
    source = next(r for r in sample_run.engine_runs if r.label == label)
    assert [p.kind for p in run.pressure_events] == [e.kind for e in source.pressure_events]
    assert [at_s - run.start_s for at_s, _ in watchdog_events([run])] == pytest.approx(
        [e.offset_s for e in source.pressure_events]
    )
    # The first recorded limit is the starting limit, not a change.
    assert run.initial_limit == source.limit_changes[0].limit
    assert [c.limit for c in run.limit_changes] == [c.limit for c in source.limit_changes[1:]]
    others = [r for r in report.runs if r.label != label]
    assert all(not r.pressure_events and not r.limit_changes for r in others)


def test_estimated_speedup_comes_from_the_summary_stage_rows(sample_run: SampleRun) -> None:
    report = load_run(sample_run.run_dir)
    planned = {s.label: s.estimated_speedup for s in sample_run.summary.stages}
    assert {r.label: r.estimated_speedup for r in report.runs} == {
        label: value for label, value in planned.items() if not label.endswith(":validation_tests")
    }


def test_data_tests_are_placed_after_their_years_validation_run(sample_run: SampleRun) -> None:
    report = load_run(sample_run.run_dir)
    rows = {s.label: s for s in sample_run.summary.stages if s.stage == "validation_tests"}
    assert [step.label for step in report.other_steps] == [
        f"{year}:validation_tests" for year in sample_run.years
    ]
    runs = {run.label: run for run in report.runs}
    for step in report.other_steps:
        validation = runs[f"{step.year}:validation"]
        assert step.start_s == pytest.approx(validation.end_s)
        assert step.end_s - step.start_s == pytest.approx(rows[step.label].wall_time_s)
        assert step.end_s <= runs[f"{step.year}:reporting"].start_s
    assert report.duration_s == pytest.approx(report.runs[-1].end_s)


def test_year_metrics_follow_the_summary(sample_run: SampleRun) -> None:
    report = load_run(sample_run.run_dir)
    assert list(report.years) == list(sample_run.years)
    for year, metrics in report.years.items():
        source = sample_run.summary.years[year]
        assert metrics.actives == source.actives
        assert metrics.employer_match == pytest.approx(source.employer_match)
        assert metrics.participation_rate == pytest.approx(source.participation_rate)
    assert report.status == "success"
    assert report.completed_years == sample_run.years


def test_a_failed_run_keeps_the_error_and_draws_no_skipped_model(failed_run: SampleRun) -> None:
    report = load_run(failed_run.run_dir)
    assert report.status == "failed"
    assert report.error is not None and FAILING_MODEL in report.error
    last = report.runs[-1]
    assert not last.success
    statuses = {e.model: e.status for e in last.executions}
    assert statuses[FAILING_MODEL] == "error"
    assert SKIPPED_MODEL not in statuses  # skipped: it never had a lane
    assert last.models == len(failed_run.engine_runs[-1].results)
    assert list(report.years) == [2025]


# --- bad run directories ----------------------------------------------------------------------------


def test_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(RunDirectoryError, match="does not exist"):
        load_run(tmp_path / "nope")


def test_directory_without_summary_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(RunDirectoryError, match=r"no summary\.json"):
        load_run(tmp_path)


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("summary.json", "{not json", r"summary\.json: not valid JSON"),
        ("summary.json", "[1, 2]", "must hold a JSON object"),
        ("summary.json", json.dumps({"years": {"2025": 3}}), "malformed run summary"),
        # a year carries every metric the simulation writes; a missing one is named, not shown as blank
        ("summary.json", json.dumps({"years": {"2025": {"actives": 3}}}), r"years\[2025\]\.hires must be"),
        ("engine_runs.json", json.dumps({"runs": []}), r"engine_runs\.json: 'summary' must be an object"),
        ("engine_runs.json", "\x00\x01", r"engine_runs\.json: not valid JSON"),
    ],
)
def test_malformed_files_name_the_file(
    sample_run: SampleRun, tmp_path: Path, filename: str, content: str, message: str
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(sample_run.run_dir, run_dir)
    (run_dir / filename).write_text(content)
    with pytest.raises(RunDirectoryError, match=message):
        load_run(run_dir)


def test_missing_engine_runs_still_loads_the_results(sample_run: SampleRun, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(sample_run.run_dir, run_dir)
    (run_dir / "engine_runs.json").unlink()
    report = load_run(run_dir)
    assert report.engine_runs_missing
    assert report.runs == ()
    assert len(report.years) == len(sample_run.years)


# --- derived views ------------------------------------------------------------------------------------


def test_concurrency_profile_counts_overlapping_executions() -> None:
    executions = [_execution(0, 4), _execution(1, 2, lane=1), _execution(2, 3, lane=1), _execution(5, 6)]
    times, counts = concurrency_profile(executions)
    # A model ending when another starts on the same instant does not count twice.
    assert list(zip(times, counts, strict=True)) == [(0, 1), (1, 2), (2, 2), (3, 1), (4, 0), (5, 1), (6, 0)]


def test_limit_profile_steps_within_runs_and_breaks_between_them() -> None:
    runs = [
        _run("foundation", 0, 10, limit=4, changes=(_change(3, 1), _change(7, 4))),
        _run("event_generation", 12, 15, limit=2),
    ]
    times, limits = limit_profile(runs)
    assert times == [0, 3, 7, 10, 10, 12, 15, 15]
    assert limits[:4] == [4, 1, 4, 4] and math.isnan(limits[4])
    assert limits[5:7] == [2, 2] and math.isnan(limits[7])
    assert limit_at(runs, 5) == 1
    assert limit_at(runs, 8) == 4
    assert limit_at(runs, 13) == 2
    assert limit_at(runs, 11) is None


def test_stage_speedups_are_time_weighted_over_years() -> None:
    # Two foundation runs: 6 s of model time in 3 s (planned 2x) and 2 s in 2 s (planned 1x).
    foundation_2025 = _run("foundation", 0, 3, (_execution(0, 3), _execution(0, 3, lane=1)), estimated=2.0)
    foundation_2026 = _run("foundation", 10, 12, (_execution(10, 12),), estimated=1.0)
    validation = _run("validation", 4, 5, (_execution(4, 5),), estimated=None)
    rows = stage_speedups([validation, foundation_2025, foundation_2026])
    assert [r.stage for r in rows] == ["foundation", "validation"]  # run order, not input order
    foundation = rows[0]
    assert foundation.busy_s == pytest.approx(8.0)
    assert foundation.wall_s == pytest.approx(5.0)
    assert foundation.achieved == pytest.approx(8.0 / 5.0)
    assert foundation.estimated == pytest.approx(8.0 / (6.0 / 2.0 + 2.0 / 1.0))
    assert rows[1].estimated is None
    assert rows[1].achieved == pytest.approx(1.0)


def test_critical_chain_follows_what_each_execution_waited_for() -> None:
    a = _execution(0, 2, lane=0, model="a")
    b = _execution(0, 1, lane=1, model="b")
    c = _execution(1, 3, lane=1, model="c")  # waited for b
    d = _execution(3, 5, lane=0, model="d")  # waited for c, which ended after a
    e = _execution(2, 2.5, lane=0, model="e")
    assert [x.model for x in critical_chain([d, c, b, a, e])] == ["b", "c", "d"]
    assert critical_chain([]) == []


def test_critical_chain_ends_with_zero_length_executions() -> None:
    same_instant = [
        _execution(1, 1, model="x"),
        _execution(1, 1, lane=1, model="y"),
        _execution(0, 1, model="z"),
    ]
    # z finished last with the longest run; nothing finished before it started.
    assert [x.model for x in critical_chain(same_instant)] == ["z"]
    assert [x.model for x in critical_chain(same_instant[:2])] == ["x"]


def test_sample_run_marks_a_critical_chain_per_engine_run(sample_run: SampleRun) -> None:
    report = load_run(sample_run.run_dir)
    for run in report.runs:
        marked = [e for e in run.executions if e.on_critical_path]
        assert marked, run.label
        assert max(e.end_s for e in marked) == max(e.end_s for e in run.executions)
        for earlier, later in itertools.pairwise(marked):
            assert earlier.end_s <= later.start_s + 1e-3
