"""`planalign run` on a server warehouse (issue #21 item 2, session 4): the per-model client work it no longer
repeats, and the critical-path priority from the durations its previous run recorded.

* The schema-cache speed-up keys a server database by adapter type and connection keys, for one engine run.
* `DbtInvoker.recorded_durations()` reads the previous run's `planalign_run_results.json` in the dbt target,
  and the engine plans with it when its caller gave no durations: a long model starts before a chain of
  short ones, which model counts alone would put first.

Fast: fake invokers, fake credentials, a dbt manifest stand-in; the real PostgreSQL runs are in
tests/engine_real/test_postgres.py and the timings in benchmarks/bench_postgres.py.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from planalign.dbt.invoker import FAST_RUN_FLAGS, DbtInvoker
from planalign.dbt.isolation.server_cache import check, server_database_of
from planalign.dbt.run_results import project_target_dir
from planalign.engine.invocation import InvocationScope, use_scope
from planalign.engine.nodes import ProjectManifest
from planalign.engine.results import RUN_RESULTS_FILENAME, durations_from_results, write_run_results
from planalign.engine.runner import EngineSettings, ParallelExecutionEngine
from tests.engine.fakes import FakeInvoker, make_analyzer, uid

# A chain of two short models and one long model, all ready at once: by model counts the chain's head has
# the longer remaining path (2 > 1); by recorded seconds the long model has (10 > 2).
GRAPH = {"c1": [], "c2": ["c1"], "big": []}
SECONDS = {uid("c1"): 1.0, uid("c2"): 1.0, uid("big"): 10.0}


def _adapter(kind: str, **connection: Any) -> Any:
    info = list(connection.items())
    credentials = SimpleNamespace(type=kind, connection_info=lambda with_aliases=False: iter(info))
    return SimpleNamespace(config=SimpleNamespace(credentials=credentials))


def test_server_schema_key_names_the_database_and_lasts_one_engine_run() -> None:
    assert check() == []
    pg = _adapter("postgres", host="h", port=5432, user="u", database="a", schema="s")
    assert server_database_of(pg) is None  # outside an engine run: dbt lists schemas as usual
    first, second = InvocationScope(), InvocationScope()
    with use_scope(first):
        key, epoch = server_database_of(pg) or ("", None)
        assert epoch is first and "postgres" in key and "'a'" in key
        other = server_database_of(
            _adapter("postgres", host="h", port=5432, user="u", database="b", schema="s")
        )
        assert other is not None and other[0] != key
        assert server_database_of(_adapter("duckdb", path="x.duckdb")) is None  # keyed by its open file
    with use_scope(second):
        again = server_database_of(pg)
        assert again is not None and again[0] == key and again[1] is second  # a new run lists again


class RecordingInvoker(FakeInvoker):
    """A fake invoker that, like `DbtInvoker`, knows its previous run's durations."""

    def __init__(self, recorded: dict[str, float], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.recorded = recorded
        self.reads = 0

    def recorded_durations(self) -> dict[str, float]:
        self.reads += 1
        return self.recorded


def _first_started(invoker: FakeInvoker) -> str:
    return next(name for event, name in invoker.log if event == "start")


def _settings() -> EngineSettings:
    return EngineSettings(max_workers=1, resource_monitoring=False, retry_backoff_s=0.0)


async def test_the_engine_plans_with_the_invokers_recorded_durations() -> None:
    counted = FakeInvoker()
    await ParallelExecutionEngine(make_analyzer(GRAPH), counted, _settings()).execute(list(GRAPH), vars={})
    assert _first_started(counted) == "c1"  # no history: model counts, the chain first

    invoker = RecordingInvoker(SECONDS)
    engine = ParallelExecutionEngine(make_analyzer(GRAPH), invoker, _settings())
    result = await engine.execute(list(GRAPH), vars={})
    assert result.success and _first_started(invoker) == "big"
    assert engine.last_plan is not None and engine.last_plan.critical_path == (uid("big"),)
    assert invoker.reads == 1


async def test_durations_given_by_the_caller_win_over_the_invokers() -> None:
    invoker = RecordingInvoker(SECONDS)
    given = {uid("c1"): 5.0, uid("c2"): 5.0, uid("big"): 1.0}
    engine = ParallelExecutionEngine(make_analyzer(GRAPH), invoker, _settings(), durations=given)
    await engine.execute(list(GRAPH), vars={})
    assert invoker.reads == 0 and _first_started(invoker) == "c1"


def _project(tmp_path: Path, target_path: str | None = None) -> Path:
    lines = ['name: p\nversion: "1.0.0"\nconfig-version: 2\nprofile: p\n']
    if target_path:
        lines.append(f"target-path: {target_path}\n")
    (tmp_path / "dbt_project.yml").write_text("".join(lines))
    return tmp_path


@pytest.mark.parametrize(
    ("configured", "flag", "expected"),
    [(None, None, "target"), ("out", None, "out"), ("out", "cli", "cli"), (None, "/abs/t", "/abs/t")],
)
def test_project_target_dir_follows_dbt(
    tmp_path: Path, configured: str | None, flag: str | None, expected: str
) -> None:
    project = _project(tmp_path, configured)
    assert project_target_dir(project, flag) == project / expected


async def test_a_run_records_the_durations_the_next_invoker_reads(tmp_path: Path) -> None:
    """The round trip of `planalign run`: its results file in the target, then the next run's invoker."""
    project = _project(tmp_path, "out")
    first = FakeInvoker()
    result = await ParallelExecutionEngine(make_analyzer(GRAPH), first, _settings()).execute(
        list(GRAPH), vars={}
    )
    write_run_results(project / "out" / RUN_RESULTS_FILENAME, result)

    stand_in = SimpleNamespace(metadata=SimpleNamespace(adapter_type="postgres"), nodes={})
    manifest = ProjectManifest(project_dir=project, nodes={}, dbt_manifest=stand_in)
    invoker = DbtInvoker(project, None, None, manifest)
    assert invoker.target_dir == project / "out"
    recorded = invoker.recorded_durations()
    assert recorded == durations_from_results([result])  # what the run measured, model by model
    assert set(recorded) == {uid("c1"), uid("c2"), uid("big")}
    flagged = DbtInvoker(
        project, None, None, manifest, extra_run_flags=(*FAST_RUN_FLAGS, "--target-path", "t2")
    )
    assert flagged.target_dir == project / "t2" and flagged.recorded_durations() == {}


def test_a_behavior_flag_names_the_same_source_without_inspect_stack() -> None:
    """`behavior-source-frames`: the module dbt-common's `inspect.stack()` walk finds, from the frames."""
    import dbt_common.behavior_flags as behavior_flags

    from planalign.dbt.isolation import isolation_status
    from planalign.dbt.isolation._base import current_installation

    assert "behavior-source-frames" in isolation_status().speedups
    inst = current_installation()
    assert inst is not None
    original = next(v for owner, name, v in inst.patches if name == "_default_source").__func__
    patched = behavior_flags.BehaviorFlagRendered._default_source
    assert patched() == original() == __name__
    flag = behavior_flags.BehaviorFlagRendered({"name": "f", "default": False, "docs_url": "x"}, {})
    assert flag._behavior_change_event.flag_source == __name__
