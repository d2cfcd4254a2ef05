"""Issue #19, item 9: simulations never write into the dbt project directory, so two processes simulating
with one project never write the same dbt file (target/partial_parse.msgpack, manifest.json, the compiled
SQL, logs/dbt.log) — and dbt's partial parsing still carries over from one process to the next, through a
cache outside the project that each parse publishes atomically (`planalign.dbt.files`).

Item 10: the measure of event-loop stalls the async simulation test bounds (`tests.product.loop_stalls`)
catches a call that blocks the loop, and does not blame the loop for a worker thread holding the GIL."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from planalign.dbt.files import DbtFiles
from tests.product.loop_stalls import LoopStalls
from tests.product.simulation_helpers import output_checksums
from tests.reliability.helpers import (
    base_settings,
    clean_env,
    complete_years,
    copy_project,
    planalign_here,
    write_config,
)

Tree = dict[str, tuple[int, int]]


def tree(root: Path) -> Tree:
    """Every file and directory under `root` (root included): (mtime in ns, size). A file created, removed,
    rewritten or touched under it changes this (tests run as root, so a read-only mode would stop nothing)."""
    paths = [root, *root.rglob("*")]
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size) for p in paths}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dbt_files")


@pytest.fixture(scope="module")
def project(workdir: Path) -> Path:
    """A private copy of the shipped dbt project, with no target/ or logs/ in it."""
    return copy_project(workdir / "dbt_project")


@pytest.fixture(scope="module")
def env(workdir: Path) -> dict[str, str]:
    """The CLI's environment, with the user cache (where the parse cache lives) in the test's directory."""
    return {**clean_env(), "XDG_CACHE_HOME": str(workdir / "cache")}


def start_simulation(
    workdir: Path, project: Path, census: Path, name: str, env: dict[str, str]
) -> subprocess.Popen[str]:
    """`planalign simulate` of 2025 into `<name>.duckdb` with `project`, in its own process."""
    database = workdir / f"{name}.duckdb"
    settings = base_settings(census, database, dbt={"project_dir": str(project)})
    config = write_config(workdir / f"{name}.yaml", settings)
    return subprocess.Popen(
        [sys.executable, "-m", "planalign", "simulate", "--config", str(config)],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> None:
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output


@pytest.fixture(scope="module")
def alone(workdir: Path, project: Path, small_census: Path, env: dict[str, str]) -> tuple[Tree, Tree]:
    """One simulation on its own: the project's tree before and after it. In this process (`planalign
    simulate` through `planalign.cli.main`, with the same environment): two processes are the point of the
    test beside, not of this one, and a process of its own costs ~4 s of CPU (importing dbt, the parse)."""
    database = workdir / "alone.duckdb"
    settings = base_settings(small_census, database, dbt={"project_dir": str(project)})
    config = write_config(workdir / "alone.yaml", settings)
    before = tree(project)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", env["XDG_CACHE_HOME"])
        result = planalign_here("simulate", "--config", str(config), cwd=workdir)
    assert result.returncode == 0, result.stdout + result.stderr
    return before, tree(project)


@pytest.fixture(scope="module")
def reference(alone: tuple[Tree, Tree], workdir: Path) -> dict[str, tuple[int, str]]:
    return output_checksums(workdir / "alone.duckdb")


@pytest.mark.slow
def test_a_simulation_only_reads_the_dbt_project(alone: tuple[Tree, Tree], workdir: Path) -> None:
    before, after = alone
    assert after == before, "the simulation wrote into the dbt project directory"
    assert complete_years(workdir / "alone.duckdb") == [2025]
    # dbt's parse went to the user's cache instead, outside the project.
    cached = list((workdir / "cache" / "planalign").rglob("*.msgpack"))
    assert len(cached) == 1, cached


@pytest.mark.slow
def test_two_simulations_in_two_processes_at_once_match_and_write_nothing_into_the_project(
    reference: dict[str, tuple[int, str]],
    workdir: Path,
    project: Path,
    small_census: Path,
    env: dict[str, str],
) -> None:
    before = tree(project)
    first = start_simulation(workdir, project, small_census, "first", env)
    second = start_simulation(workdir, project, small_census, "second", env)
    finish(first)
    finish(second)
    assert tree(project) == before, "a simulation wrote into the dbt project directory"
    for name in ("first", "second"):
        database = workdir / f"{name}.duckdb"
        assert complete_years(database) == [2025]
        assert output_checksums(database) == reference, name


@pytest.mark.slow
def test_a_parse_starts_from_the_cached_parse_of_another_process(tmp_path: Path) -> None:
    """dbt's partial parsing survives the private target directories: a second parse with another private
    target reads the first one's cached file, and parses no file again (dbt's perf_info.json says how many
    it parsed). In-process here, but each `DbtFiles` stands for one process's private directory. On a tiny
    project: the files planalign keeps apart are the same for any project, and a full parse of the shipped
    one costs ~7 s of CPU (the simulations above parse it, from the cache, in separate processes)."""
    from planalign.dbt.manifest import parse_project

    project = tiny_project(tmp_path)
    cache = tmp_path / "cache"
    vars_ = {"database_path": str(tmp_path / "cached.duckdb")}
    parsed, cached = [], []
    for process in ("one", "two"):
        files = DbtFiles(
            tmp_path / process / "target", tmp_path / process / "logs", partial_parse_cache=cache
        )
        before = tree(project)
        parse_project(project, vars=vars_, files=files)
        assert tree(project) == before
        assert (files.log_path / "dbt.log").is_file()
        perf = json.loads((files.target_path / "perf_info.json").read_text())
        parsed.append(perf["parsed_path_count"])
        cached.append(tree(cache))
    # The first parses every file and caches its parse; the second, started from it, parses none and
    # leaves the cache as it was.
    assert parsed[0] > 0 and parsed[1] == 0, f"files parsed by each parse: {parsed}"
    assert [p for p in cached[0] if p.endswith(".msgpack")] and cached[1] == cached[0]
    assert not [p for p in cache.rglob("*") if p.name.startswith(".tmp-")], "a staged cache file was left"


#: The bound `test_async_run_never_blocks_the_loop_and_cancel_then_resume_is_identical` puts on the loop's
#: own stalls (tests/product/test_simulation.py).
LOOP_BOUND_S = 0.1


def measure(disturb: Callable[[], None]) -> LoopStalls:
    """Run the meter on a loop for a moment, `disturb()` being called on the loop in the middle."""
    stalls = LoopStalls()

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(stalls.heartbeat)
            await anyio.sleep(0.2)
            disturb()
            await anyio.sleep(0.2)
            tg.cancel_scope.cancel()

    anyio.run(main)
    return stalls


def test_a_sleep_on_the_loop_fails_the_bound() -> None:
    stalls = measure(lambda: time.sleep(0.5))
    assert stalls.worst_unexplained() > LOOP_BOUND_S, stalls.describe()


def test_computing_on_the_loop_fails_the_bound() -> None:
    """Pure Python on the loop lets the probe thread take the GIL every switch interval: only the loop is
    blocked."""

    def compute() -> None:
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            pass

    stalls = measure(compute)
    assert stalls.worst_unexplained() > LOOP_BOUND_S, stalls.describe()


def test_a_worker_thread_holding_the_gil_stalls_the_loop_but_is_not_its_fault() -> None:
    """`sum` over a range runs in C without letting the GIL go — as a full garbage collection does: every
    thread of the process waits, the probe too, so the stall is not the loop's own."""
    held: list[float] = []

    def hold_the_gil() -> None:
        started = time.monotonic()
        sum(range(40_000_000))
        held.append(time.monotonic() - started)

    worker = threading.Thread(target=hold_the_gil)
    stalls = measure(worker.start)
    worker.join()
    assert stalls.worst() > LOOP_BOUND_S, f"the worker held the GIL {held} s; {stalls.describe()}"
    assert stalls.worst_unexplained() < LOOP_BOUND_S, stalls.describe()


TINY_PROFILES = """\
tiny:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "{{ var('database_path') }}"
      threads: 1
"""
TINY_MODELS = {
    "a": "select 1 as id",
    "b": "select id from {{ ref('a') }}",
    "c": "select id from {{ ref('b') }}",
}


def tiny_project(root: Path) -> Path:
    """A three-model dbt project (a → b → c, tables) under `root/tiny`."""
    project = root / "tiny"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(
        'name: tiny\nversion: "1.0.0"\nconfig-version: 2\nprofile: tiny\nmodel-paths: ["models"]\n'
        "models:\n  tiny:\n    +materialized: table\n"
    )
    (project / "profiles.yml").write_text(TINY_PROFILES)
    for name, sql in TINY_MODELS.items():
        (project / "models" / f"{name}.sql").write_text(sql + "\n")
    return project


@pytest.mark.slow
def test_dbts_node_contexts_are_freed_without_the_cycle_collector(tmp_path: Path) -> None:
    """What stalled the loop: each node's Jinja contexts (a `MacroGenerator` per macro, each holding the
    context) are reference cycles only a full collection frees, holding the GIL 40-120 ms. With the
    `context-cycle-break` speed-up the models of a batch leave none of them to the collector: what is left
    does not grow with the number of models."""
    import gc

    from dbt.clients.jinja import MacroGenerator

    from planalign.dbt.invoker import DbtInvoker
    from planalign.dbt.isolation import isolation_status
    from planalign.dbt.manifest import parse_project
    from planalign.engine.nodes import ManifestNode

    project = tiny_project(tmp_path)
    models = TINY_MODELS
    database = tmp_path / "tiny.duckdb"
    files = DbtFiles(tmp_path / "target", tmp_path / "logs")
    manifest = parse_project(project, vars={"database_path": str(database)}, files=files)
    invoker = DbtInvoker(project, None, None, manifest, {}, database, files=files)
    nodes = [manifest.model_by_name(name) for name in models]
    assert "context-cycle-break" in isolation_status().speedups

    def left_to_the_collector(batch: list[ManifestNode]) -> int:
        """MacroGenerators the cycle collector finds after one invocation running `batch`."""
        gc.collect()
        gc.disable()
        try:
            assert all(o.ok for o in invoker.run_models(batch, vars={}).values())
            gc.set_debug(gc.DEBUG_SAVEALL)  # the collector keeps what it finds unreachable, to be counted
            gc.collect()
            return sum(isinstance(o, MacroGenerator) for o in gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()

    try:
        left_to_the_collector(nodes)  # warm: the schemas, the adapter
        one, three = left_to_the_collector(nodes[:1]), left_to_the_collector(nodes)
    finally:
        invoker.close()
    # The invocation's own contexts (query header, hooks: a few hundred generators) are still the
    # collector's; those of the nodes (about 2,700 generators a node before the speed-up) are not.
    assert one == three, f"MacroGenerators left to the cycle collector: {one} with 1 model, {three} with 3"
