"""Issue #19, item 1 and parts of item 7: a sweep and a simulation never replace each other's database without
being told to, two scenario files never share a database by default, and `planalign runs` tells a killed
sweep and a run whose database was replaced from a running or current one.

The command-line path is the point, so three real CLI runs build one chain of states of one database, shared
by the tests (`chain`): a complete simulation; a sweep refused on it, then replacing it with --replace-years;
a second scenario file of the same name in another folder refused on the sweep's database; a simulation
refused on the sweep's database, then replacing it with --replace-years. Every refusal is compared by the
file's digest, not by exit status alone. Everything else (the pure decisions, `runs`' statuses) is built
by hand and costs no dbt parse. The CLI runs in this process (`planalign.cli.main`: the arguments, exit
statuses and messages a user gets; `planalign_here`), except where a killed process is the point.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from planalign.errors import DatabaseHoldsOtherResultError
from planalign.scenarios.scenario_file import load_scenario_file
from planalign.scenarios.sweep import plan_sweep
from planalign.simulation.run_history import list_runs
from planalign.simulation.state import DatabaseContents, DatabaseIdentity, SimulationState
from planalign.simulation.working_copy import WorkingCopy, lock_is_held
from planalign.simulation.year_plan import check_replaces
from tests.reliability.helpers import (
    REPO,
    base_settings,
    clean_env,
    file_digest,
    planalign_here,
    write_config,
)
from tests.scenarios.sweep_fixture import build_sweep

SCENARIOS = {
    "name": "plan",
    "config": "simulation_config.yaml",
    "scenarios": {
        "richer": {"overrides": {"match": {"tiers": [{"employee_max": 0.06, "match_rate": 1.0}]}}},
    },
    "seeds": 1,
    "database": "victim.duckdb",
}


def _write_scenarios(path: Path, **changes: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({**SCENARIOS, **changes}, sort_keys=False))
    return path


def _config(root: Path, census: Path, end_year: int = 2025) -> Path:
    """One year on the small census; the configuration's own database is never the one under test."""
    settings = base_settings(census, root / "simulation.duckdb", end_year=end_year)
    return write_config(root / "simulation_config.yaml", settings)


def _listing(runs: Path, cwd: Path) -> dict[str, dict[str, Any]]:
    """`planalign runs RUNS --json`, by kind and run: {"full run:<name>": entry, ...}."""
    result = planalign_here("runs", str(runs), "--json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return {e["name"]: e for e in json.loads(result.stdout)}


@dataclass
class Chain:
    root: Path
    victim: Path
    results: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    sweep_dirs: dict[str, list[str]] = field(default_factory=dict)
    listings: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    held_after_sweep: DatabaseContents | None = None


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, small_census: Path) -> Chain:
    """Three real runs on one database (`victim.duckdb`), and what every refusal in between left."""
    root = tmp_path_factory.mktemp("sweep_safety")
    config = _config(root, small_census)
    scenario_file = _write_scenarios(root / "plan.yaml")
    other_file = _write_scenarios(root / "other" / "plan.yaml", config="../simulation_config.yaml")
    other_file.write_text(other_file.read_text().replace("victim.duckdb", "../victim.duckdb"))
    c = Chain(root=root, victim=root / "victim.duckdb")
    runs = root / "runs"

    def sweeps() -> list[str]:
        return sorted(p.name for p in runs.glob("*-sweep-*")) if runs.is_dir() else []

    def step(name: str, *args: str) -> None:
        before = file_digest(c.victim) if c.victim.exists() else ""
        c.results[name] = planalign_here(*args, cwd=root)
        c.digests[name] = before
        c.digests[f"{name}:after"] = file_digest(c.victim) if c.victim.exists() else ""
        c.sweep_dirs[name] = sweeps()

    step("simulate", "simulate", "--config", str(config), "--database", str(c.victim))
    step("sweep_refused", "scenarios", "run", str(scenario_file))
    step("sweep_replaces", "scenarios", "run", str(scenario_file), "--replace-years")
    c.listings["after_sweep"] = _listing(runs, root)
    c.held_after_sweep = SimulationState(c.victim).contents()
    step("other_sweep_refused", "scenarios", "run", str(other_file))
    step("simulate_refused", "simulate", "--config", str(config), "--database", str(c.victim))
    step(
        "simulate_replaces",
        "simulate",
        "--config",
        str(config),
        "--database",
        str(c.victim),
        "--replace-years",
    )
    c.listings["after_simulate"] = _listing(runs, root)
    return c


def _refused(chain: Chain, step: str) -> str:
    result = chain.results[step]
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert chain.digests[f"{step}:after"] == chain.digests[step], "the refused run changed the database"
    return result.stderr


def test_the_chain_starts_from_a_complete_simulation(chain: Chain) -> None:
    result = chain.results["simulate"]
    assert result.returncode == 0, result.stderr


def test_a_sweep_pointed_at_a_simulations_database_is_refused(chain: Chain) -> None:
    """The issue's case: `database: victim.duckdb` silently replaced a complete simulation (exit 0)."""
    message = _refused(chain, "sweep_refused")
    assert "holds a simulation, complete for 2025" in message
    assert "would be lost" in message
    assert "--replace-years" in message
    assert chain.sweep_dirs["sweep_refused"] == [], "a refused sweep left a sweep directory"


def test_a_sweep_with_replace_years_replaces_the_simulation(chain: Chain) -> None:
    result = chain.results["sweep_replaces"]
    assert result.returncode == 0, result.stderr
    assert chain.digests["sweep_replaces:after"] != chain.digests["sweep_replaces"]
    held = chain.held_after_sweep
    assert held is not None and held.identity is not None
    assert (held.identity.kind, held.identity.name, held.identity.members) == ("sweep", "plan", 2)
    assert held.years == (2025,)


def test_a_re_run_of_the_same_sweep_is_not_refused(chain: Chain) -> None:
    """Its own database, recorded by the real sweep, is the same result: the re-run replaces it as before
    (the rest of a re-run is the unchanged path the sweep took above)."""
    held = chain.held_after_sweep
    assert held is not None
    plan = plan_sweep(load_scenario_file(chain.root / "plan.yaml"))
    assert held.identity == plan.identity
    check_replaces(held, plan.identity, replace=False)  # does not raise
    other = _write_scenarios(chain.root / "elsewhere" / "x.yaml", config="../simulation_config.yaml")
    edited = plan_sweep(load_scenario_file(other))
    with pytest.raises(DatabaseHoldsOtherResultError, match="the sweep 'plan'"):
        check_replaces(held, edited.identity, replace=False)  # same name, another file: another sweep


def test_a_scenario_file_of_the_same_name_in_another_folder_is_refused(chain: Chain) -> None:
    message = _refused(chain, "other_sweep_refused")
    assert "the sweep 'plan'" in message and str(chain.root / "plan.yaml") in message
    assert "2 members" in message and "--replace-years" in message


def test_simulate_pointed_at_a_sweeps_database_is_refused(chain: Chain) -> None:
    """The other way round: `simulate --database <a sweep's database>` wiped the sweep as a plain re-run."""
    message = _refused(chain, "simulate_refused")
    assert "the sweep 'plan'" in message and "2 members" in message
    assert "would be lost" in message and "--replace-years" in message


def test_simulate_with_replace_years_replaces_the_sweep(chain: Chain) -> None:
    result = chain.results["simulate_replaces"]
    assert result.returncode == 0, result.stderr
    held = SimulationState(chain.victim).contents()
    assert held.identity == DatabaseIdentity() and held.years == (2025,)


def test_runs_says_which_runs_a_later_run_replaced(chain: Chain) -> None:
    """The first simulation is "replaced" once the sweep wrote its database, the sweep once the last
    simulation did; the newest run of the database is "complete"."""
    after_sweep = chain.listings["after_sweep"]
    [first] = [e for e in after_sweep.values() if e["kind"] == "full run"]
    [sweep] = [e for e in after_sweep.values() if e["kind"] == "sweep"]
    assert first["status"] == "replaced", first
    assert sweep["status"] == "complete", sweep
    after = chain.listings["after_simulate"]
    assert after[first["name"]]["status"] == "replaced"
    assert after[sweep["name"]]["status"] == "replaced"
    assert "no longer holds its 2025" in after[sweep["name"]]["detail"]
    [last] = [e for n, e in after.items() if e["kind"] == "full run" and n != first["name"]]
    assert last["status"] == "complete", last


# ----------------------------------------------------------------------------------------------------
# Without a dbt parse
# ----------------------------------------------------------------------------------------------------


def test_scenario_files_of_one_stem_in_two_folders_default_to_two_databases(
    tmp_path: Path, small_census: Path
) -> None:
    _config(tmp_path, small_census)
    databases = []
    for folder in ("a", "b"):
        path = _write_scenarios(tmp_path / folder / "plan.yaml", config="../simulation_config.yaml")
        path.write_text(path.read_text().replace("database: victim.duckdb\n", ""))
        databases.append(load_scenario_file(path).database)
    assert databases[0] != databases[1]
    assert databases == [tmp_path / "a" / "plan.duckdb", tmp_path / "b" / "plan.duckdb"]


SWEEP = DatabaseIdentity("sweep", "plan", "/w/plan.yaml", 4)
SIMULATION = DatabaseIdentity()


@pytest.mark.parametrize(
    ("held", "years", "run", "refused"),
    [
        (SIMULATION, (2025,), SIMULATION, False),  # a re-run of simulate (any seed): the year rules decide
        (SWEEP, (2025,), SWEEP, False),  # the same sweep again
        (SWEEP, (), SIMULATION, False),  # no complete year: nothing to lose
        (None, (), SWEEP, False),  # a new database
        (SWEEP, (2025,), SIMULATION, True),
        (SIMULATION, (2025,), SWEEP, True),
        (DatabaseIdentity("sweep", "other", "/w/plan.yaml", 4), (2025,), SWEEP, True),  # another name
        (DatabaseIdentity("sweep", "plan", "/v/plan.yaml", 4), (2025,), SWEEP, True),  # another file
        (DatabaseIdentity("sweep", members=4), (2025,), SWEEP, True),  # an older sweep: unknown which
    ],
)
def test_which_results_a_run_may_replace(
    held: DatabaseIdentity | None, years: tuple[int, ...], run: DatabaseIdentity, refused: bool
) -> None:
    contents = DatabaseContents(held, years)
    if refused:
        with pytest.raises(DatabaseHoldsOtherResultError, match=r"would be lost.*--replace-years"):
            check_replaces(contents, run, replace=False)
    else:
        check_replaces(contents, run, replace=False)
    check_replaces(contents, run, replace=True)  # the flag replaces any of them


def test_a_stage_run_never_replaces_a_sweep() -> None:
    with pytest.raises(DatabaseHoldsOtherResultError, match="A stage run cannot replace it"):
        check_replaces(DatabaseContents(SWEEP, (2025,)), SIMULATION, replace=False, stage=True)


def test_simulate_on_an_older_sweep_database_without_the_record_is_refused(
    tmp_path: Path, small_census: Path
) -> None:
    """A sweep database written before the kind was recorded: `dim_scenarios` with members tells. The
    years are the sweep's, so only the kind of result can refuse the run (a plain re-run of them would
    otherwise replace them)."""
    hand = build_sweep(tmp_path)
    before = file_digest(hand.database)
    config = _config(tmp_path, small_census, end_year=2026)
    result = planalign_here(
        "simulate", "--config", str(config), "--database", str(hand.database), cwd=tmp_path
    )
    assert result.returncode == 2, result.stderr
    assert "a sweep of 4 members" in result.stderr and "--replace-years" in result.stderr
    assert file_digest(hand.database) == before
    assert not (tmp_path / "runs").exists() or not any(
        p.name.endswith(hand.document["config_digest"]) for p in (tmp_path / "runs").iterdir()
    )


def _sweep_status(runs: Path) -> tuple[str, str]:
    [entry] = [e for e in list_runs(runs) if e.kind == "sweep"]
    return entry.status, entry.detail


def _rewrite(sweep_json: Path, **changes: Any) -> None:
    document = json.loads(sweep_json.read_text())
    document.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del document[key]
    sweep_json.write_text(json.dumps(document))


def test_a_running_sweep_whose_process_is_gone_is_interrupted(tmp_path: Path) -> None:
    """sweep.json cannot be updated by a process killed with SIGKILL: the pid it records tells."""
    import socket

    hand = build_sweep(tmp_path, status="running")
    sweep_json = hand.directory / "sweep.json"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    _rewrite(sweep_json, pid=gone.pid, host=socket.gethostname())
    status, detail = _sweep_status(tmp_path / "runs")
    assert status == "interrupted" and "process is gone" in detail
    _rewrite(sweep_json, pid=os.getpid())
    assert _sweep_status(tmp_path / "runs")[0] == "running"


def test_an_older_running_sweep_is_judged_by_its_database_lock(tmp_path: Path) -> None:
    """Without a pid (an older sweep.json): running while a run holds the database's lock, else
    interrupted."""
    hand = build_sweep(tmp_path, status="running")
    assert "pid" not in hand.document
    assert _sweep_status(tmp_path / "runs")[0] == "interrupted"
    with WorkingCopy(hand.database):
        assert lock_is_held(hand.database)
        assert _sweep_status(tmp_path / "runs")[0] == "running"
    assert _sweep_status(tmp_path / "runs")[0] == "interrupted"


@pytest.mark.parametrize(
    "changes",
    [{"pid": 2**80}, {"pid": "12"}, {"pid": -1}, {"database": "nul\u0000byte.duckdb"}, {"host": ["x"]}],
    ids=["huge_pid", "text_pid", "negative_pid", "nul_in_database", "list_host"],
)
def test_nonsense_in_a_running_sweep_json_is_no_traceback(tmp_path: Path, changes: dict[str, Any]) -> None:
    """What cannot be asked is taken as running (only evidence says a sweep is gone), never a crash."""
    import socket

    hand = build_sweep(tmp_path, status="running")
    _rewrite(hand.directory / "sweep.json", **{"host": socket.gethostname(), **changes})
    status, _ = _sweep_status(tmp_path / "runs")
    assert status in ("running", "interrupted")


def test_a_sweep_killed_with_sigkill_is_not_listed_as_running(tmp_path: Path, small_census: Path) -> None:
    """The issue's case, for real: `scenarios run` killed with -9 while it holds the database (during the
    parse, so the test costs no build)."""
    _config(tmp_path, small_census)
    scenario_file = _write_scenarios(tmp_path / "plan.yaml")
    process = subprocess.Popen(
        [sys.executable, "-m", "planalign", "scenarios", "run", str(scenario_file)],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    database = tmp_path / "victim.duckdb"
    try:
        deadline = time.monotonic() + 120
        while not lock_is_held(database):
            assert process.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "the sweep never took its database's lock"
            time.sleep(0.1)
        [sweep_json] = (tmp_path / "runs").glob("*-sweep-plan/sweep.json")
        assert json.loads(sweep_json.read_text())["status"] == "running"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert not lock_is_held(database)
    result = planalign_here("runs", str(tmp_path / "runs"), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [entry] = json.loads(result.stdout)
    assert entry["kind"] == "sweep" and entry["status"] == "interrupted", entry


def _run_dir(runs: Path, run_id: str, database: Path) -> None:
    directory = runs / run_id
    directory.mkdir(parents=True)
    summary = {
        "schema_version": 2,
        "run_id": run_id,
        "status": "success",
        "kind": "years",
        "start_year": 2025,
        "end_year": 2025,
        "completed_years": [2025],
        "years": {"2025": {}},
        "database_path": str(database),
        "config_digest": "abcd1234",
    }
    (directory / "summary.json").write_text(json.dumps(summary))


def test_a_run_whose_database_a_later_run_replaced_is_listed_as_replaced(tmp_path: Path) -> None:
    database = tmp_path / "sim.duckdb"
    runs = tmp_path / "runs"
    state = SimulationState(database)
    state.mark_complete(2025, run_id="20261201T100000000000Z-abcd1234", config_hash="h")
    _run_dir(runs, "20261201T100000000000Z-abcd1234", database)
    [entry] = list_runs(runs)
    assert (entry.status, entry.detail) == ("complete", "")
    state.mark_complete(2025, run_id="20261201T110000000000Z-abcd1234", config_hash="h")
    [entry] = list_runs(runs)
    assert entry.status == "replaced"
    assert "now from run 20261201T110000000000Z-abcd1234" in entry.detail
    assert entry.is_complete_full_run  # the report reads only the directory, which still describes it
    database.unlink()
    [entry] = list_runs(runs)
    assert entry.status == "complete" and "not found" in entry.detail


def test_the_runs_help_names_every_status() -> None:
    result = planalign_here("runs", "--help", cwd=REPO)
    text = " ".join(result.stdout.split())
    for word in ("complete", "replaced", "failed", "running", "interrupted", "incomplete"):
        assert word in text
