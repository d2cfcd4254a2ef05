"""Sharded sweeps (issue #21 item 1): shard planning and the memory rule, the flags' refusals, the merge and
its refusal on a failed shard, cancellation and the retry of a lost worker with fake shard bodies, and — on
real dbt — a sharded sweep on each executor (local, a local Ray head, a Dask LocalCluster) equal to the
one-pass sweep member by member.

The real runs share one one-pass reference (module fixture) and one cluster per executor (module fixtures:
the lost-worker test and the real sweep on that executor use the same one); each sharded run pays one dbt
parse per shard (the second from the first's cached parse, docs/scaling.md). They simulate one year: what
sharding adds — the split into passes, the shipped bundle, the shared parse, the merge — is the same for
every year, and a member's years following one another inside a pass is the one-pass sweep's own code
(`run_pass`; tests/scenarios/test_sweep_end_to_end.py proves its two years member by member); the merge of
several years' rows and year-status rows is proved above with fake shards.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import cloudpickle  # type: ignore[import-untyped]
import duckdb
import pytest

from planalign.cli import main
from planalign.dbt.files import PARSE_CACHE_HIT
from planalign.scenarios import executors as executors_module
from planalign.scenarios.comparison import check_database_holds_sweep
from planalign.scenarios.executors import (
    DaskExecutor,
    LocalExecutor,
    RayExecutor,
    ShardExecutor,
    _RemoteExecutor,
)
from planalign.scenarios.expansion import Member
from planalign.scenarios.member_figures import SUMMARY_TABLE
from planalign.scenarios.provenance import export_source
from planalign.scenarios.scenario_file import SHARDED_MAX_MEMBERS, load_scenario_file, scenario_id
from planalign.scenarios.shard_task import ShardBundle, ShardResult, ShardTask, export_tables, run_shard
from planalign.scenarios.sharded import run_sharded_sweep_async, shards_json
from planalign.scenarios.shards import (
    ShardingError,
    check_shard_size,
    fewest_shards,
    plan_shards,
    shards_for_memory,
)
from planalign.scenarios.sweep import SweepOutcome, SweepPlan, load_sweep, plan_sweep
from planalign.simulation.assumptions_resolve import PARAMETER_TABLES
from planalign.simulation.checksum import table_checksum
from planalign.simulation.state import SimulationState

from .conftest import ScenarioWriter, write_scenario_file, write_sweep_project

# The fake shard bodies below run in Ray and Dask worker processes: ship them by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

REPO = Path(__file__).resolve().parents[2]

FILE = """
name: sharded
scenarios:
  match_4pct:
    overrides: {match: {tiers: [{employee_max: 0.04, match_rate: 1.0}], cap_rate: 0.04}}
seeds: [42, 7, 3, 11]
"""


def _members(designs: tuple[str, ...], seeds: tuple[int, ...]) -> tuple[Member, ...]:
    return tuple(Member(scenario_id(d, s), d, s) for d in designs for s in seeds)


# ------------------------------------------------------------------------------------------- planning


def test_a_shard_is_every_design_of_a_block_of_seeds() -> None:
    seeds = (42, 7, 3, 11, 5)
    members = _members(("baseline", "richer", "leaner"), seeds)
    shards = plan_shards(members, seeds, 2)
    assert [s.seeds for s in shards] == [(42, 7, 3), (11, 5)]
    for shard in shards:
        # Every design of each of its seeds: the paired comparisons stay inside one pass.
        assert {(m.scenario_name, m.random_seed) for m in shard.members} == {
            (d, s) for d in ("baseline", "richer", "leaner") for s in shard.seeds
        }
        assert list(shard.members) == [m for m in members if m.random_seed in shard.seeds]  # sweep order
    assert sorted(m.scenario_id for s in shards for m in s.members) == sorted(m.scenario_id for m in members)
    assert [len(s.seeds) for s in plan_shards(members, seeds, 5)] == [1, 1, 1, 1, 1]


@pytest.mark.parametrize(("count", "message"), [(0, "at least 1"), (6, "more than the scenario file's 5")])
def test_a_shard_count_outside_one_to_the_seeds_is_refused(count: int, message: str) -> None:
    seeds = (1, 2, 3, 4, 5)
    with pytest.raises(ShardingError, match=message):
        plan_shards(_members(("a",), seeds), seeds, count)


def test_the_memory_rule_uses_the_measured_peak_per_member() -> None:
    # Issue #21's measurement: 50 seeds × 10,000 employees × 5 years peaked at 2.4 GB in one pass; a shard
    # may use half the available memory.
    ensemble = {"seeds": 50, "members_per_seed": 1, "employees": 10_000, "years": 5}
    assert shards_for_memory(**ensemble, available_bytes=int(4.8e9)) == 1
    assert shards_for_memory(**ensemble, available_bytes=int(2.4e9)) == 2
    assert shards_for_memory(**ensemble, available_bytes=10**6) == 50  # one seed per shard at least
    # The paper goal (1,000 seeds × 10 designs × 100,000 employees × 5 years) on 64 GB nodes: a seed's 10
    # members need 4.8 GB, 6 seeds fit in 32 GB, so 167 shards.
    goal = {"seeds": 1000, "members_per_seed": 10, "employees": 100_000, "years": 5}
    assert shards_for_memory(**goal, available_bytes=64 * 10**9) == 167


def test_a_pass_holds_at_most_the_one_pass_limit_of_members() -> None:
    assert fewest_shards(seeds=300, members_per_seed=2) == 3  # 100 seeds × 2 designs = 200 a pass
    assert fewest_shards(seeds=100, members_per_seed=2) == 1
    with pytest.raises(ShardingError, match="give at least --shards 3"):
        check_shard_size(2, seeds=300, members_per_seed=2)
    with pytest.raises(ShardingError, match="one seed has 201 members"):
        fewest_shards(seeds=1, members_per_seed=201)


def test_a_sweep_larger_than_one_pass_is_accepted_only_sharded(
    write_scenarios: ScenarioWriter, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write_scenarios(FILE.replace("seeds: [42, 7, 3, 11]", "seeds: 150"))  # 2 designs × 150 = 300
    assert main(["scenarios", "run", str(path)]) == 2
    assert "or shard the sweep (`--executor local`" in capsys.readouterr().err
    assert len(load_scenario_file(path, max_members=SHARDED_MAX_MEMBERS).seeds) == 150
    assert main(["scenarios", "run", str(path), "--executor", "local", "--shards", "1"]) == 2
    assert "passes of up to 300 members" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


# -------------------------------------------------------------------------------------------- the flags


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--executor", "local", "--shards", "0"], "--shards must be at least 1"),
        (["--executor", "local", "--shards", "5"], "more than the scenario file's 4 seeds"),
        (["--executor", "ray", "--shards", "9"], "more than the scenario file's 4 seeds"),
        (["--executor", "local", "--address", "x:1"], "--address names a Ray or Dask cluster"),
        (["--address", "x:1"], "--address needs --executor"),
        (["--shards", "2"], "--shards needs --executor"),
    ],
)
def test_bad_sharding_flags_exit_2_before_anything_runs(
    write_scenarios: ScenarioWriter,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    message: str,
) -> None:
    path = write_scenarios(FILE)
    assert main(["scenarios", "run", str(path), *flags]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() and not (tmp_path / "scenarios.duckdb").exists()


@pytest.mark.parametrize("name", ["ray", "dask"])
def test_a_missing_cluster_library_says_which_extra_to_install(
    write_scenarios: ScenarioWriter,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda module, *a: None if module in ("ray", "distributed") else real(module, *a),
    )
    assert main(["scenarios", "run", str(write_scenarios(FILE)), "--executor", name]) == 2
    assert f"pip install 'planalign[{name}]'" in capsys.readouterr().err


# ------------------------------------------------------------------------- the driver, with fake shards


def _fake_tables(root: Path, task: ShardTask) -> ShardResult:
    """What a shard of `task`'s members returns: a dimension, a per-member yearly table and a seed table."""
    database = root / f"fake-{task.index}-{os.getpid()}.duckdb"
    database.unlink(missing_ok=True)
    con = duckdb.connect(str(database))
    try:
        con.execute(
            "create table dim_scenarios (scenario_id varchar, scenario_name varchar, random_seed int)"
        )
        con.execute(
            "create table rpt_yearly_summary (scenario_id varchar, simulation_year integer, "
            "employer_cost decimal(18, 2))"
        )
        con.execute("create table config_seed (band varchar, rate double)")
        con.execute("insert into config_seed values ('a', 0.5), ('b', 0.25)")
        for member in task.members:
            con.execute(
                "insert into dim_scenarios values (?, ?, ?)",
                [member.scenario_id, member.scenario_name, member.random_seed],
            )
            for year in task.config.years:
                con.execute(
                    "insert into rpt_yearly_summary values (?, ?, ?)",
                    [member.scenario_id, year, 1000 + member.random_seed],
                )
    finally:
        con.close()
    tables = export_tables(database, root / f"export-{task.index}")
    database.unlink()
    ids = tuple(m.scenario_id for m in task.members)
    return ShardResult(task.index, ids, "complete", None, tables, 0.01, 1)


class FakeShards:
    """An async shard body for the local executor: fails the shards in `fail`, cancels at `cancel_at`."""

    def __init__(self, root: Path, *, fail: frozenset[int] = frozenset(), cancel_at: int | None = None):
        self.root, self.fail, self.cancel_at = root, fail, cancel_at
        self.ran: list[int] = []
        self.scope: anyio.CancelScope | None = None

    async def __call__(self, task: ShardTask, bundle: ShardBundle) -> ShardResult:
        self.ran.append(task.index)
        assert b"dbt_project.yml" in bundle.project_tar or bundle.project_tar  # the project travels
        if task.index == self.cancel_at and self.scope is not None:
            self.scope.cancel()
            await anyio.sleep_forever()
        if task.index in self.fail:
            ids = tuple(m.scenario_id for m in task.members)
            return ShardResult(task.index, ids, "failed", "model rpt_yearly_summary failed")
        return _fake_tables(self.root, task)


def _run(plan: SweepPlan, shards: int, executor: ShardExecutor, fake: FakeShards | None = None) -> Any:
    async def body() -> SweepOutcome | None:
        with anyio.CancelScope() as scope:
            if fake is not None:
                fake.scope = scope
            return await run_sharded_sweep_async(
                plan, plan_shards(plan.members, plan.scenario_set.seeds, shards), executor
            )
        return None

    return anyio.run(body)


def test_merged_shards_are_the_sweep_database_a_one_pass_sweep_leaves(
    write_scenarios: ScenarioWriter, tmp_path: Path
) -> None:
    plan = plan_sweep(load_scenario_file(write_scenarios(FILE)))
    fake = FakeShards(tmp_path)
    outcome = _run(plan, 2, LocalExecutor(fake))
    assert outcome.status == "complete", outcome.summary.error
    assert fake.ran == [0, 1]
    document = load_sweep(outcome.directory)
    database = Path(document["database"])
    check_database_holds_sweep(database, document)  # what `scenarios compare` checks
    assert export_source(outcome.directory).years == (2025, 2026)  # the run record names the years' run
    with duckdb.connect(str(database), read_only=True) as con:
        dim = {r[0] for r in con.execute("select scenario_id from dim_scenarios").fetchall()}
        yearly = con.execute("select count(*) from rpt_yearly_summary").fetchone()
        seed = con.execute("select count(*) from config_seed").fetchone()
        types = con.execute(
            "select data_type from duckdb_columns() where table_name = 'rpt_yearly_summary' "
            "and column_name = 'employer_cost'"
        ).fetchone()
        info = con.execute("select kind, name, members from planalign.database_info").fetchone()
    assert dim == {m.scenario_id for m in plan.members}
    assert yearly == (8 * 2,) and seed == (2,)  # every member's rows; the seed table once
    assert types == ("DECIMAL(18,2)",)
    assert info == ("sweep", "sharded", 8)
    years = SimulationState(database).completed_years()
    assert {y.config_hash for y in years} == {document["config_digest"]}
    shards = shards_json(outcome.directory)["shards"]
    assert [s["status"] for s in shards] == ["complete", "complete"]
    # sweep.json's designs are read from the merged database; the fake shards build no parameter tables,
    # so each design says so (naming the table and the database) instead of a value computed another way.
    for design in document["scenarios"]:
        assert design["parameters"] is None
        assert "int_effective_parameter_values" in design["assumptions_error"]
        assert str(database) in design["assumptions_error"]


def test_a_failed_shard_fails_the_sweep_naming_its_members_and_merges_nothing(
    write_scenarios: ScenarioWriter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_scenarios(FILE)
    plan = plan_sweep(load_scenario_file(path))
    assert _run(plan, 2, LocalExecutor(FakeShards(tmp_path))).status == "complete"
    database = Path(plan.scenario_set.database)
    before = database.read_bytes()
    fake = FakeShards(tmp_path, fail=frozenset({1}))
    monkeypatch.setattr(executors_module, "make_executor", lambda name, address=None: LocalExecutor(fake))
    assert main(["scenarios", "run", str(path), "--executor", "local", "--shards", "4"]) == 1
    err = capsys.readouterr().err
    assert "shard 2 (seed 7: baseline__s7, match_4pct__s7) failed: model rpt_yearly_summary failed" in err
    assert fake.ran == [0, 1]  # the first failure stops the sweep: shards 3 and 4 never ran
    assert database.read_bytes() == before
    [latest] = sorted(p for p in (tmp_path / "runs").glob("*-sweep-*") if p != plan.directory)
    assert load_sweep(latest)["status"] == "failed"


def test_cancelling_a_sharded_sweep_records_it_failed_and_leaves_the_database(
    write_scenarios: ScenarioWriter, tmp_path: Path
) -> None:
    plan = plan_sweep(load_scenario_file(write_scenarios(FILE)))
    fake = FakeShards(tmp_path, cancel_at=1)
    assert _run(plan, 2, LocalExecutor(fake), fake) is None
    assert not Path(plan.scenario_set.database).exists()
    assert load_sweep(plan.directory)["status"] == "failed"
    [summary] = (plan.directory / "simulation").glob("*/summary.json")
    assert json.loads(summary.read_text())["status"] == "interrupted"


class FakeRemote(_RemoteExecutor):
    """A remote executor whose tasks never finish, except those in `finished` (results or exceptions)."""

    name = "fake"

    def __init__(self, finished: dict[int, ShardResult | Exception]) -> None:
        self.finished = finished
        self.cancelled: list[int] = []
        self._index = {}

    def slots(self) -> int:
        return 2

    def _submit(self, tasks: Any, bundle: ShardBundle) -> list[Any]:
        self._index = {i: i for i in range(len(tasks))}
        return list(range(len(tasks)))

    def _wait(self, pending: list[Any]) -> tuple[list[Any], list[Any]]:
        done = [h for h in pending if h in self.finished]
        if not done:
            time.sleep(0.02)
        return done, [h for h in pending if h not in done]

    def _outcome(self, handle: Any) -> ShardResult:
        outcome = self.finished[handle]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def _cancel(self, pending: list[Any]) -> None:
        self.cancelled.extend(pending)

    def close(self) -> None:
        return None


def _tasks(plan: SweepPlan, count: int) -> list[ShardTask]:
    shards = plan_shards(plan.members, plan.scenario_set.seeds, count)
    return [ShardTask(s.index, count, plan.config, s.members, plan.identity, "x.duckdb") for s in shards]


def test_cancellation_cancels_the_remote_shards(write_scenarios: ScenarioWriter) -> None:
    plan = plan_sweep(load_scenario_file(write_scenarios(FILE)))
    executor = FakeRemote({})
    bundle = ShardBundle(b"", b"", ".parquet", False)

    async def body() -> None:
        with anyio.move_on_after(0.2):
            await executor.run(_tasks(plan, 4), bundle, lambda result: None)

    anyio.run(body)
    assert sorted(executor.cancelled) == [0, 1, 2, 3]


def test_a_task_that_raised_after_its_retries_is_a_failed_shard_and_cancels_the_rest(
    write_scenarios: ScenarioWriter,
) -> None:
    plan = plan_sweep(load_scenario_file(write_scenarios(FILE)))
    executor = FakeRemote({1: RuntimeError("WorkerCrashedError: the worker died\n(3 retries)")})
    seen: list[ShardResult] = []
    results = anyio.run(
        lambda: executor.run(_tasks(plan, 4), ShardBundle(b"", b"", ".parquet", False), seen.append)
    )
    assert [r.status for r in results] == ["failed"] and results == seen
    assert results[0].member_ids == ("baseline__s7", "match_4pct__s7")
    assert "RuntimeError" in (results[0].error or "") and "(3 retries)" in (results[0].error or "")
    assert sorted(executor.cancelled) == [0, 2, 3]


# ------------------------------------------------------------------------------ real Ray and Dask clusters


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """A local Ray head with 2 worker CPUs, no dashboard, no token file under $HOME."""
    pytest.importorskip("ray")
    import ray

    previous = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=200 * 2**20,
        # The fake shard bodies are this module's: Ray's workers import it as pytest does.
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(REPO / "tests"), str(REPO)])}},
    )
    try:
        yield None
    finally:
        ray.shutdown()
        if previous is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = previous


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[str]:
    """A Dask LocalCluster of 2 one-thread worker processes; yields its scheduler address."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    try:
        yield str(cluster.scheduler_address)
    finally:
        cluster.close()


def _cluster_executor(name: str, request: pytest.FixtureRequest, function: Any = run_shard) -> ShardExecutor:
    if name == "ray":
        request.getfixturevalue("ray_cluster")
        return RayExecutor(function=function)  # joins the running head; close() leaves it up
    address = request.getfixturevalue("dask_cluster")
    return DaskExecutor(address, function=function)


def die_once_then_fake(task: ShardTask, bundle: ShardBundle) -> ShardResult:
    """Kill the worker process the first time a shard runs (a lost node), succeed when run again."""
    marker = Path(task.config.simulation.database_path).parent / "markers" / f"shard-{task.index}"
    if not marker.exists():
        marker.touch()
        os._exit(1)
    return _fake_tables(marker.parent, task)


@pytest.mark.parametrize("name", [pytest.param("ray", marks=pytest.mark.slow), "dask"])
def test_a_shard_whose_worker_was_lost_runs_again(
    write_scenarios: ScenarioWriter,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    name: str,
) -> None:
    markers = tmp_path / "markers"  # beside the sweep database: where `die_once_then_fake` looks
    markers.mkdir()
    plan = plan_sweep(load_scenario_file(write_scenarios(FILE)))
    executor = _cluster_executor(name, request, die_once_then_fake)
    try:
        outcome = _run(plan, 2, executor)
    finally:
        executor.close()
    assert outcome.status == "complete", outcome.summary.error
    assert sorted(p.name for p in markers.iterdir() if p.name.startswith("shard-")) == ["shard-0", "shard-1"]


# ---------------------------------------------------------------------------------- real dbt, every executor

DESIGNS_FILE = {
    "name": "sharding",
    "scenarios": {
        "richer": {
            "overrides": {"match": {"tiers": [{"employee_max": 0.04, "match_rate": 1.0}], "cap_rate": 0.04}}
        }
    },
    "seeds": [42, 7],  # two shards of one seed each: every design of a seed in one pass, two passes merged
}
#: One simulated year (see the module docstring): each real sweep here costs a parse and this year per pass.
END_YEAR = 2025


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The one-pass sweep of 2 designs × 2 seeds × 1 year on a 100-employee census, built once."""
    root = write_sweep_project(tmp_path_factory.mktemp("sharding"), 100, end_year=END_YEAR)
    path = write_scenario_file(root, "one_pass", {**DESIGNS_FILE, "database": "one_pass.duckdb"})
    assert main(["scenarios", "run", str(path)]) == 0
    [directory] = sorted((root / "runs").glob("*-sweep-one_pass"))
    return {"root": root, "directory": directory, "database": root / "one_pass.duckdb"}


def _member_checksums(database: Path) -> dict[tuple[str, str], tuple[int, str]]:
    """(table, member or '*') → checksum of that member's rows (of the whole table without scenario_id)."""
    out: dict[tuple[str, str], tuple[int, str]] = {}
    with duckdb.connect(str(database), read_only=True) as con:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where schema_name <> 'planalign'"
        ).fetchall()
        members = [r[0] for r in con.execute("select scenario_id from dim_scenarios").fetchall()]
        for schema, table in tables:
            name = f'"{schema}"."{table}"'
            columns = {r[0] for r in con.execute(f"describe {name}").fetchall()}
            if "scenario_id" not in columns:
                checksum = table_checksum(con, name)
                out[(table, "*")] = (checksum.rows, checksum.digest)
                continue
            for member in members:
                checksum = table_checksum(con, f"(select * from {name} where scenario_id = '{member}')")
                out[(table, member)] = (checksum.rows, checksum.digest)
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "keep"),
    # Every executor once, each mode at least once: tables on local (with the parse cache) and Ray,
    # summaries on Dask. The mode is the shard body's and the merge's (`run_shard`, `shard_merge`), the same
    # code on every executor, and a result travels the same way in both modes, so another executor-mode
    # pair (the former [local-summaries], or [dask-tables]) would add a sweep and prove nothing new.
    [("local", "tables"), ("ray", "tables"), ("dask", "summaries")],
)
def test_a_sharded_sweep_equals_the_one_pass_sweep_member_by_member(
    reference: dict[str, Any],
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    name: str,
    keep: str,
) -> None:
    root: Path = reference["root"]
    stem = f"sharded_{name}_{keep}"
    # One database file name in every run's own directory: the catalog name is part of the parse's vars, so
    # the runs' shards share one cached parse on this machine (ray and dask shards run in other processes).
    database = root / stem / "sweep.duckdb"
    database.parent.mkdir()
    path = write_scenario_file(root, stem, {**DESIGNS_FILE, "database": f"{stem}/sweep.duckdb"})
    if name != "local":
        executor = _cluster_executor(name, request)
        monkeypatch.setattr(executors_module, "make_executor", lambda n, address=None: executor)
    proves_the_cache = (name, keep) == ("local", "tables")
    if proves_the_cache:  # an empty parse cache: the first shard parses in full, the second starts from it
        monkeypatch.setenv("XDG_CACHE_HOME", str(root / f"cache-{stem}"))
        caplog.set_level(logging.INFO, logger="planalign.dbt.files")
    assert main(["scenarios", "run", str(path), "--executor", name, "--shards", "2", "--keep", keep]) == 0
    if proves_the_cache:
        hits = [r for r in caplog.records if r.msg == PARSE_CACHE_HIT]
        assert len(hits) == 1, "the second shard's dbt parse did not hit the first shard's cached parse"
    [directory] = sorted((root / "runs").glob(f"*-sweep-{stem}"))
    assert [s["status"] for s in shards_json(directory)["shards"]] == ["complete", "complete"]
    ours = _member_checksums(database)
    theirs = _member_checksums(reference["database"])
    if keep == "tables":
        assert ours.keys() == theirs.keys()
    else:  # the dimension and the seeds, as one pass leaves them; the figures instead of member tables
        tables = {table for table, _ in ours}
        assert "fct_workforce_snapshot" not in tables and "rpt_yearly_summary" not in tables
        assert SUMMARY_TABLE in tables
        ours = {k: v for k, v in ours.items() if k[0] != SUMMARY_TABLE}
        # and the parameters dbt resolved for each member, from which sweep.json's designs are read
        sent = {"dim_scenarios", *PARAMETER_TABLES}
        assert ours.keys() == {k for k in theirs if k[0] in sent or k[1] == "*"}
    assert {k for k in ours if ours[k] != theirs[k]} == set()
    # sweep.json lists every design's parameters as the one-pass sweep's does (in both modes: a summary
    # sweep's shards send the parameter tables; before, it said "not kept" for every design)
    designs = {d["name"]: d for d in load_sweep(directory)["scenarios"]}
    one_pass = {d["name"]: d for d in load_sweep(reference["directory"])["scenarios"]}
    for design_name, design in one_pass.items():
        assert design["parameters"], design["assumptions_error"]
        fields = ("parameters", "match_formula", "assumptions_error")
        assert {f: designs[design_name][f] for f in fields} == {f: design[f] for f in fields}
    one = json.loads((reference["directory"] / "comparison.json").read_text())
    mine = json.loads((directory / "comparison.json").read_text())
    for key in ("metrics", "rows", "totals", "sensitivities"):
        assert mine[key] == one[key], key  # every mean, percentile and paired delta, exactly
    assert (directory / "metrics.csv").read_text() == (reference["directory"] / "metrics.csv").read_text()
    ours_years = SimulationState(database).completed_years()
    one_years = SimulationState(reference["database"]).completed_years()
    assert [(y.simulation_year, y.config_hash) for y in ours_years] == [
        (y.simulation_year, y.config_hash) for y in one_years
    ]
    if keep == "summaries":
        # `scenarios compare` rebuilds the same comparison from the summary database; export refuses.
        (directory / "comparison.json").unlink()
        assert main(["scenarios", "compare", str(directory)]) == 0
        assert json.loads((directory / "comparison.json").read_text())["rows"] == one["rows"]
        capsys.readouterr()
        out = root / "export-summaries"
        assert main(["export", str(directory), "--format", "csv", "--out", str(out)]) == 2
        assert "kept only each member's yearly figures (`--keep summaries`)" in capsys.readouterr().err
        assert not out.exists()


def test_the_live_display_shows_shards_done_of_total() -> None:
    import io

    from rich.console import Console

    from planalign.cli.shard_progress import ShardDisplay
    from planalign.scenarios.sharded import ShardEvent

    seeds = (42, 7)
    shards = plan_shards(_members(("baseline", "richer"), seeds), seeds, 2)
    out = io.StringIO()
    display = ShardDisplay(out, executor="ray", console=Console(file=out, width=200), clock=lambda: 5.0)
    display(ShardEvent("planned", 0, 2))
    assert display.status_text() == "shards 0 of 2 done · 0:00 elapsed"
    result = ShardResult(0, ("baseline__s42", "richer__s42"), "complete", seconds=12.5, host="node-1")
    display(ShardEvent("finished", 1, 2, shards[0], result))
    failed = ShardResult(1, ("baseline__s7", "richer__s7"), "failed", "model x failed", host="node-2")
    display(ShardEvent("failed", 2, 2, shards[1], failed))
    assert display.status_text().startswith("shards 2 of 2 done")
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("2 shards on the ray executor")
    assert lines[1].endswith("shard 1 done (1 of 2): 2 members in 12.5 s on node-1")
    assert lines[2].endswith("shard 2 (seed 7: baseline__s7, richer__s7) FAILED on node-2: model x failed")


def test_a_killed_shards_temporary_directory_is_removed_by_the_next_shard(tmp_path: Path) -> None:
    import fcntl

    from planalign.scenarios.shard_task import remove_stale_directories

    killed, running, creating, other = (
        tmp_path / "planalign-shard1-killed",
        tmp_path / "planalign-shard2-running",
        tmp_path / "planalign-shard3-creating",
        tmp_path / "someone-else",
    )
    for directory in (killed, running, creating, other):
        (directory / "db").mkdir(parents=True)
    (killed / ".planalign-shard.lock").touch()
    (other / ".planalign-shard.lock").touch()
    with (running / ".planalign-shard.lock").open("w") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        assert remove_stale_directories(tmp_path) == [killed]
    assert not killed.exists() and running.exists() and creating.exists() and other.exists()
