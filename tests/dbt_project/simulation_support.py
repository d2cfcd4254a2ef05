"""Helpers for the real-dbt tests of the simulation project: isolated workspaces that run dbt commands on the
shipped project, the multi-year builds the rule tests query, and reading their database.

dbt runs in this process through one parse of the project shared by every test (`dbtRunner(manifest=...)`,
through planalign's `DbtInvoker`). A plain `dbt` subprocess per command paid dbt's start-up and a full
parse each time (every year's `--vars` differ, which defeats partial parsing): about 4 s of every 8 s year
on the two-core CI machine. One parse serves every year, census and plan because the project's graph and
configs do not depend on the vars — which `test_graph_is_the_same_whatever_year_is_compiled` checks on two
real parses, and `test_draws_depend_only_on_the_seed_and_a_rerun_replaces_the_year` checks on the data, by
rebuilding a year with plain `dbt` in its own process (`DbtWorkspace.dbt_cli`) and comparing the tables.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from planalign.dbt.invoker import DbtInvoker
from planalign.dbt.isolation import invocation_slot
from planalign.dbt.manifest import dbt_common_args, project_manifest_from_dbt
from planalign.engine.nodes import ProjectManifest

DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"
DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"
#: The shared build's years: the census year, a year that starts from the previous year's state, and a year
#: whose IRS limits are indexed (config_irs_limits is seeded through 2026). More years repeat the same SQL
#: on the same kind of state; each added year of the build cost about 6 s of CPU.
YEARS = (2025, 2026, 2027)
CENSUS_EMPLOYEES = 400
CENSUS_SEED = 11
RANDOM_SEED = 42
#: Every workspace's database file is named `<DATABASE_NAME>.duckdb`: dbt fixes each relation's database
#: (the file's stem) at parse time, so one parse serves every workspace only if they all share the stem.
DATABASE_NAME = "simulation"


@dataclass(frozen=True)
class DbtResult:
    """What a dbt command returned: its exit status (0 on success) and, on failure, dbt's messages (for an
    in-process command, each failed node's message or the parse error — what the CLI prints)."""

    returncode: int
    stdout: str
    stderr: str = ""


@dataclass(frozen=True)
class ParsedProject:
    """One in-process parse of the shipped project: the manifest invocations share and its manifest.json."""

    manifest: ProjectManifest
    manifest_json: Path

    def manifest_data(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.manifest_json.read_text())
        return data


def _parse(target_path: Path, vars: Mapping[str, Any] | None) -> tuple[ParsedProject | None, str]:
    """`dbt parse` of the shipped project in this process, writing its artifacts under `target_path` (never
    into the shared `dbt_project/target`): the parse, or None and dbt's error."""
    from dbt.cli.main import dbtRunner

    parse_vars = {"database_path": str(target_path / f"{DATABASE_NAME}.duckdb"), **(vars or {})}
    args = [
        "parse",
        *dbt_common_args(DBT_PROJECT, profiles_dir=DBT_PROJECT, target=None, vars=parse_vars),
        "--target-path",
        str(target_path),
        "--log-path",
        str(target_path / "logs"),
        "--quiet",
    ]
    with invocation_slot(("parse", str(DBT_PROJECT)), exclusive=True):
        result = dbtRunner().invoke(args)
    if not result.success or result.result is None:
        return None, str(result.exception or "dbt parse failed")
    manifest = project_manifest_from_dbt(DBT_PROJECT, result.result)
    return ParsedProject(manifest, target_path / "manifest.json"), ""


def parse_project(target_path: Path, vars: Mapping[str, Any] | None = None) -> ParsedProject:
    """A parse of the shipped project for `vars` (see `_parse`); fails the test when it does not parse."""
    parsed, error = _parse(target_path, vars)
    if parsed is None:
        raise AssertionError(f"dbt parse of {DBT_PROJECT} failed: {error}")
    return parsed


_PARSE_DIR = tempfile.TemporaryDirectory(prefix="planalign-dbt-project-parse-")


@functools.cache
def shared_parse() -> ParsedProject:
    """The parse every workspace's in-process commands use, made once per process (with the project's
    default vars: the first simulation year)."""
    return parse_project(Path(_PARSE_DIR.name))


@dataclass(frozen=True)
class DbtWorkspace:
    """One isolated place to run dbt: its own database file, target path and log path."""

    root: Path

    @property
    def database(self) -> Path:
        return self.root / f"{DATABASE_NAME}.duckdb"

    def _paths(self) -> list[str]:
        return ["--target-path", str(self.root / "target"), "--log-path", str(self.root / "logs")]

    def dbt(self, *args: str, vars: Mapping[str, Any], check: bool = True) -> DbtResult:
        """A dbt command (`"build"`, `"seed"`, `"run", "--select", ...`) in this process, on the shared parse
        (`"parse"` itself parses for `vars`, as its vars are validated at parse time). The database is
        released when it returns, so the test (or another process) may open it."""
        if args[:1] == ("parse",):
            parsed, error = _parse(self.root / "target", {"database_path": str(self.database), **vars})
            result = DbtResult(0 if parsed is not None else 1, error)
        else:
            invoker = DbtInvoker(DBT_PROJECT, DBT_PROJECT, None, shared_parse().manifest, {}, self.database)
            try:
                outcome = invoker.invoke([*args, *self._paths()], vars=vars)
            finally:
                invoker.close()
            result = DbtResult(0 if outcome.ok else 1, outcome.message or "")
        if check and result.returncode != 0:
            raise AssertionError(f"dbt {' '.join(args)} failed:\n{result.stdout[-4000:]}")
        return result

    def dbt_cli(self, *args: str, vars: Mapping[str, Any], check: bool = True) -> DbtResult:
        """The same command with plain `dbt` in its own process (which parses the project for these vars)."""
        command = [
            str(DBT_EXECUTABLE),
            *args,
            "--project-dir",
            str(DBT_PROJECT),
            "--profiles-dir",
            str(DBT_PROJECT),
            *self._paths(),
            "--vars",
            json.dumps({"database_path": str(self.database), **vars}),
        ]
        done = subprocess.run(command, cwd=DBT_PROJECT, capture_output=True, text=True, timeout=600)
        if check and done.returncode != 0:
            raise AssertionError(
                f"dbt {' '.join(args)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}"
            )
        return DbtResult(done.returncode, done.stdout, done.stderr)

    def connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.database), read_only=True)


@dataclass(frozen=True)
class SimulationRun:
    workspace: DbtWorkspace
    census_path: Path
    vars: Mapping[str, Any]

    def query(self, sql: str, parameters: list[Any] | None = None) -> list[tuple[Any, ...]]:
        with self.workspace.connect() as connection:
            return connection.execute(sql, parameters or []).fetchall()

    def manifest(self) -> dict[str, Any]:
        """The parsed project the run was built with (dbt's manifest.json)."""
        return shared_parse().manifest_data()


def build_simulation(
    root: Path,
    census_path: Path,
    years: Sequence[int],
    vars: Mapping[str, Any],
    *,
    command: str = "build",
) -> SimulationRun:
    """`dbt seed`, then `dbt <command>` (build: models and their data tests) for each year in order, into a
    new workspace at `root`, on `census_path` with `vars` (random_seed, plan parameters)."""
    run_vars: dict[str, Any] = {"census_path": str(census_path), **vars}
    workspace = DbtWorkspace(root)
    workspace.dbt("seed", vars=run_vars)
    for year in years:
        workspace.dbt(command, vars={**run_vars, "simulation_year": year})
    return SimulationRun(workspace, census_path, run_vars)


@dataclass(frozen=True)
class Scenario:
    """One member of a sweep build (the `scenarios` var): its id, seed, plan vars and, when it needs fewer
    years than the build, its own last year."""

    scenario_id: str
    random_seed: int
    vars: Mapping[str, Any] = field(default_factory=dict)
    last_year: int | None = None

    def sweep_item(self) -> dict[str, Any]:
        return {"scenario_id": self.scenario_id, "random_seed": self.random_seed, "vars": dict(self.vars)}


@dataclass(frozen=True)
class ScenarioBuild:
    """A sweep build and, for the members asked for, a database holding that member alone."""

    sweep: SimulationRun
    members: Mapping[str, SimulationRun]


def build_scenarios(
    root: Path,
    census_path: Path,
    years: Sequence[int],
    scenarios: Sequence[Scenario],
    *,
    split: Sequence[str] = (),
    command: str = "build",
    built: bool = False,
) -> ScenarioBuild:
    """Several plan designs on one census for the price of about one: `dbt seed`, then one `dbt <command>`
    per year building every scenario side by side (at `root/sweep`; a scenario with a `last_year` leaves
    the list after that year), and, for each scenario id of `split`, a copy of the database as it is after
    that scenario's last year, at `root/<scenario_id>`, with every other scenario's rows deleted. With
    `built`, nothing is run: the build is already at `root` (`tests.shared_builds.built_once`).

    Such a copy is what a single run of the scenario over its years (its vars and seed at the top level, its
    scenario_id as a var) builds: test_scenario_dimension checks that a sweep member equals its single run,
    relation by relation and value by value, and that a run of fewer scenarios into a sweep's database
    leaves the others' rows alone. The copy's run carries exactly those single-run vars, so the tests read
    it (and re-run models on a copy of it) as they would a single run's. A wrong copy fails the tests that
    recompute the member's rows in Python, as a wrong single run would."""
    workspace = DbtWorkspace(root / "sweep")
    base_vars: dict[str, Any] = {"census_path": str(census_path)}
    last = {s.scenario_id: s.last_year if s.last_year is not None else years[-1] for s in scenarios}
    assert all(last.get(i) in years for i in split), f"{list(split)} must end inside {list(years)}"
    members = {s.scenario_id: _single(root, census_path, s) for s in scenarios if s.scenario_id in split}
    if not built:
        workspace.root.mkdir(parents=True, exist_ok=True)
        workspace.dbt("seed", vars=base_vars)
    for year in years:
        active = [s for s in scenarios if last[s.scenario_id] >= year]
        sweep_vars = {**base_vars, "scenarios": [s.sweep_item() for s in active]}
        if built:
            continue
        workspace.dbt(command, vars={**sweep_vars, "simulation_year": year})
        for scenario in active:
            if last[scenario.scenario_id] == year and scenario.scenario_id in split:
                member = members[scenario.scenario_id].workspace
                member.root.mkdir(exist_ok=True)
                shutil.copyfile(workspace.database, member.database)
                _keep_only(member.database, scenario.scenario_id)
    return ScenarioBuild(SimulationRun(workspace, census_path, sweep_vars), members)


def _single(root: Path, census_path: Path, scenario: Scenario) -> SimulationRun:
    """Where `scenario`'s own database is, with the vars of its single run."""
    single_vars = {
        "census_path": str(census_path),
        "scenario_id": scenario.scenario_id,
        "random_seed": scenario.random_seed,
        **scenario.vars,
    }
    return SimulationRun(DbtWorkspace(root / scenario.scenario_id), census_path, single_vars)


def _keep_only(database: Path, scenario_id: str) -> None:
    """Delete every other scenario's rows from every table of `database` that has a scenario_id column
    (seeds have none: they are the same for every scenario)."""
    with duckdb.connect(str(database)) as connection:
        tables = connection.execute(
            "select c.table_name from information_schema.columns c join information_schema.tables t "
            "on t.table_schema = c.table_schema and t.table_name = c.table_name "
            "where c.table_schema = 'main' and c.column_name = 'scenario_id' and t.table_type = 'BASE TABLE'"
        ).fetchall()
        assert tables, f"{database} has no table with a scenario_id column"
        for (table,) in tables:
            connection.execute(f'delete from "{table}" where scenario_id <> ?', [scenario_id])
        kept = connection.execute("select scenario_id from dim_scenarios").fetchall()
        assert kept == [(scenario_id,)], f"{scenario_id} is not one scenario of {database}: {kept}"
        connection.execute("checkpoint")
