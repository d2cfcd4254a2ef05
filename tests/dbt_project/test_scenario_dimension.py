"""The scenario dimension (issue #14): a sweep built in one pass equals, member by member, single runs.

One two-year build with the `scenarios` var of three members (the baseline and a different match formula
on seed 42, a different auto-enrollment default rate and escalation on seed 7) is compared with three plain
single runs (no `scenarios` var; the member's vars and seed at the top level, its scenario_id as a var):
every relation of a single run must be identical, row for row and value for value, to the member's rows of
the sweep without the scenario_id column. Members that share a seed share their draws (common random
numbers); a bad `scenarios` var is a compiler error naming what is wrong (at parse time, and when a parse
is reused).

The four builds start from one seeded database (copied) and run one after another on the shared parse (an
in-process dbt command runs alone, so threads would buy nothing); the single runs use `dbt run` (the sweep
runs the data tests, per scenario, with `dbt build`), so the module stays cheap.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from planalign.simulation.census import generate_census, write_census

from .simulation_support import DBT_PROJECT, DbtWorkspace

pytestmark = pytest.mark.slow

#: The census year and one year built from the previous year's state (every later year runs the same SQL).
YEARS = (2025, 2026)
CENSUS_EMPLOYEES = 300
CENSUS_SEED = 5


@dataclass(frozen=True)
class Member:
    scenario_id: str
    scenario_name: str
    random_seed: int
    vars: Mapping[str, Any] = field(default_factory=dict)

    def sweep_item(self) -> dict[str, Any]:
        return {
            "scenario_id": self.scenario_id,
            "scenario_name": self.scenario_name,
            "random_seed": self.random_seed,
            "vars": dict(self.vars),
        }

    def single_vars(self) -> dict[str, Any]:
        """The same scenario as a single run: its parameters and seed as top-level vars."""
        return {
            "scenario_id": self.scenario_id,
            "scenario_name": self.scenario_name,
            "random_seed": self.random_seed,
            **self.vars,
        }


BASELINE = Member("baseline__s42", "baseline", 42)
MATCH = Member(
    "match_4pct__s42",
    "match_4pct",
    42,
    {"match_tiers": [{"employee_max": 0.04, "match_rate": 1.0}], "match_cap_rate": 0.04},
)
AUTO_ENROLLMENT = Member(
    "ae_10pct__s7",
    "ae_10pct",
    7,
    {
        "auto_enrollment_default_deferral_rate": 0.10,
        "escalation_increment": 0.02,
        "escalation_cap": 0.12,
        # issue #15's list and switch parameters resolve per scenario too
        "core_contribution_graded": True,
        "core_contribution_schedule": [
            {"min_age": 0, "min_service_years": 0, "core_rate": 0.01},
            {"min_age": 45, "min_service_years": 0, "core_rate": 0.03},
        ],
        "match_true_up": False,
        "roth_catch_up_start_year": 2025,
    },
)
MEMBERS = (BASELINE, MATCH, AUTO_ENROLLMENT)
SEEDS = {path.stem for path in (DBT_PROJECT / "seeds").glob("*.csv")}


@dataclass(frozen=True)
class Builds:
    census_path: Path
    sweep: DbtWorkspace
    singles: Mapping[str, DbtWorkspace]

    def base_vars(self) -> dict[str, Any]:
        return {"census_path": str(self.census_path)}


def _build_years(workspace: DbtWorkspace, command: str, vars: Mapping[str, Any]) -> None:
    for year in YEARS:
        workspace.dbt(command, vars={**vars, "simulation_year": year})


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Builds]:
    root = tmp_path_factory.mktemp("scenarios")
    census_path = write_census(generate_census(CENSUS_EMPLOYEES, CENSUS_SEED), root / "census.parquet")
    base = {"census_path": str(census_path)}
    template = DbtWorkspace(root / "template")
    template.dbt("seed", vars=base)
    sweep = DbtWorkspace(root / "sweep")
    singles = {member.scenario_id: DbtWorkspace(root / member.scenario_id) for member in MEMBERS}
    for workspace in (sweep, *singles.values()):
        workspace.root.mkdir()
        shutil.copy(template.database, workspace.database)
    sweep_vars = {**base, "scenarios": [member.sweep_item() for member in MEMBERS]}
    _build_years(sweep, "build", sweep_vars)
    for member in MEMBERS:
        _build_years(singles[member.scenario_id], "run", {**base, **member.single_vars()})
    yield Builds(census_path, sweep, singles)


def _relations(connection: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Every table of the main schema and its columns in order."""
    rows = connection.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'main' order by table_name, ordinal_position"
    ).fetchall()
    relations: dict[str, list[str]] = {}
    for table, column in rows:
        relations.setdefault(str(table), []).append(str(column))
    return relations


def _rows(
    connection: duckdb.DuckDBPyConnection, table: str, columns: list[str], scenario_id: str | None
) -> list[tuple[Any, ...]]:
    """The rows of one scenario (all rows of an unkeyed seed), without scenario_id, sorted."""
    kept = ", ".join(f'"{c}"' for c in columns if c != "scenario_id")
    where = "where scenario_id = ?" if scenario_id is not None and "scenario_id" in columns else ""
    parameters = [scenario_id] if where else []
    return connection.execute(f"select {kept} from {table} {where} order by all", parameters).fetchall()


@pytest.mark.parametrize("member", MEMBERS, ids=[m.scenario_id for m in MEMBERS])
def test_every_relation_of_a_member_equals_its_single_run(builds: Builds, member: Member) -> None:
    with builds.sweep.connect() as sweep, builds.singles[member.scenario_id].connect() as single:
        sweep_relations, single_relations = _relations(sweep), _relations(single)
        assert sweep_relations == single_relations, "the same relations with the same columns"
        compared = 0
        for table, columns in sorted(single_relations.items()):
            expected = _rows(single, table, columns, member.scenario_id)
            assert _rows(sweep, table, columns, member.scenario_id) == expected, table
            compared += len(expected)
        snapshot_years = single.execute(
            "select distinct simulation_year from fct_workforce_snapshot order by 1"
        ).fetchall()
        single_ids = single.execute("select distinct scenario_id from fct_yearly_events").fetchall()
    assert [row[0] for row in snapshot_years] == list(YEARS)
    assert single_ids == [(member.scenario_id,)], "a single run writes the scenario_id it is given"
    assert compared > 10_000


def test_every_model_starts_with_scenario_id_and_the_sweep_holds_every_member(builds: Builds) -> None:
    with builds.sweep.connect() as sweep:
        relations = _relations(sweep)
        models = {table: columns for table, columns in relations.items() if table not in SEEDS}
        assert len(models) > 40 and set(relations) - set(models) == SEEDS
        for table, columns in models.items():
            assert columns[0] == "scenario_id", table
        scenarios = sweep.execute(
            "select scenario_id, scenario_name, random_seed from dim_scenarios order by all"
        ).fetchall()
        assert scenarios == sorted((m.scenario_id, m.scenario_name, m.random_seed) for m in MEMBERS)
        for table in (
            "fct_workforce_snapshot",
            "fct_yearly_events",
            "rpt_yearly_summary",
            "int_workforce_needs",
        ):
            per_scenario = sweep.execute(
                f"select scenario_id, count(distinct simulation_year) from {table} group by 1 order by 1"
            ).fetchall()
            assert per_scenario == sorted((m.scenario_id, len(YEARS)) for m in MEMBERS), table


def _events(
    connection: duckdb.DuckDBPyConnection, scenario_id: str, event_types: tuple[str, ...]
) -> set[Any]:
    marks = ", ".join("?" for _ in event_types)
    rows = connection.execute(
        "select employee_id, simulation_year, event_type, effective_date, termination_kind "
        f"from fct_yearly_events where scenario_id = ? and event_type in ({marks})",
        [scenario_id, *event_types],
    ).fetchall()
    return set(rows)


def test_members_with_one_seed_share_their_draws_and_differ_in_their_design(builds: Builds) -> None:
    workforce_events = ("hire", "termination", "promotion", "raise")
    with builds.sweep.connect() as sweep:
        baseline = _events(sweep, BASELINE.scenario_id, workforce_events)
        assert baseline == _events(sweep, MATCH.scenario_id, workforce_events), "one seed: the same people"
        assert baseline != _events(sweep, AUTO_ENROLLMENT.scenario_id, workforce_events), "another seed"
        draws = (
            "select employee_id, simulation_year, draw from int_hazard_termination where scenario_id = ? "
            "order by all"
        )
        assert (
            sweep.execute(draws, [BASELINE.scenario_id]).fetchall()
            == sweep.execute(draws, [MATCH.scenario_id]).fetchall()
        )
        money = dict(
            sweep.execute(
                "select scenario_id, sum(employer_match) from rpt_yearly_summary group by 1"
            ).fetchall()
        )
        deferrals = dict(
            sweep.execute(
                "select scenario_id, sum(employee_contributions) from rpt_yearly_summary group by 1"
            ).fetchall()
        )
    assert money[MATCH.scenario_id] != money[BASELINE.scenario_id], "the match formula changes the match"
    # issue #20: employees respond to the match (elections at its 4% maximizing rate, participation scaled by
    # 1.00 match per dollar against the shipped 0.80), so the design changes deferrals too; with
    # deferral_response_enabled false it would not (tests/dbt_project/test_deferral_response.py)
    assert deferrals[MATCH.scenario_id] != deferrals[BASELINE.scenario_id], "employees respond to the match"
    assert deferrals[AUTO_ENROLLMENT.scenario_id] > deferrals[BASELINE.scenario_id]
    with builds.sweep.connect() as sweep:
        core_rates = dict(
            sweep.execute(
                "select scenario_id, list(distinct core_contribution_rate order by core_contribution_rate) "
                "from int_employee_match_calculations group by 1"
            ).fetchall()
        )
    assert core_rates[BASELINE.scenario_id] == [0.0], "the baseline keeps its flat core rate"
    assert core_rates[AUTO_ENROLLMENT.scenario_id] == [0.01, 0.03], "its own graded schedule"


def test_rebuilding_one_scenario_in_a_sweep_database_leaves_the_others_alone(
    builds: Builds, tmp_path: Path
) -> None:
    """A single run of one member's last year into the sweep's database replaces that member's rows of the
    year (with the same values) and reads and touches no other scenario's rows."""
    workspace = DbtWorkspace(tmp_path)
    shutil.copy(builds.sweep.database, workspace.database)
    workspace.dbt("run", vars={**builds.base_vars(), **MATCH.single_vars(), "simulation_year": YEARS[-1]})
    incremental = (
        "fct_yearly_events",
        "int_workforce_snapshot_optimized",
        "int_employer_contribution_accounts",
    )
    with builds.sweep.connect() as before, workspace.connect() as after:
        columns = _relations(before)
        for table in incremental:
            for member in MEMBERS:
                assert _rows(after, table, columns[table], member.scenario_id) == _rows(
                    before, table, columns[table], member.scenario_id
                ), (table, member.scenario_id)
        assert after.execute("select scenario_id from dim_scenarios").fetchall() == [(MATCH.scenario_id,)]


# ----------------------------------------------------------------------------------------- bad `scenarios`


def _parse_error(tmp_path: Path, scenarios: Any) -> str:
    workspace = DbtWorkspace(tmp_path)
    result = workspace.dbt("parse", vars={"scenarios": scenarios}, check=False)
    assert result.returncode != 0, "a bad scenarios var must fail at parse time"
    return result.stdout + result.stderr


def _compile_error(tmp_path: Path, scenarios: Any) -> str:
    """The error of compiling the models that check the scenarios (dim_scenarios) and their values
    (int_effective_parameter_values) for these vars on the shared parse: the path of every run that
    reuses a parse (the vars come with the invocation; planalign's cached parse), without a parse of its
    own (~7 s of CPU each)."""
    workspace = DbtWorkspace(tmp_path)
    select = ("--select", "dim_scenarios", "int_effective_parameter_values")
    result = workspace.dbt("compile", *select, vars={"scenarios": scenarios}, check=False)
    assert result.returncode != 0, "a bad scenarios var must fail the compile"
    return result.stdout + result.stderr


DUPLICATE_ID = [BASELINE.sweep_item(), {**MATCH.sweep_item(), "scenario_id": BASELINE.scenario_id}]


@pytest.mark.parametrize(
    ("scenarios", "message"),
    [
        (DUPLICATE_ID, "duplicate scenario_id baseline__s42"),
        (
            [{**MATCH.sweep_item(), "vars": {"census_path": "other.parquet"}}],
            "var census_path is a run-identity var",
        ),
        (
            [{**MATCH.sweep_item(), "vars": {"cola_rate": "0.02') as double) --"}}],
            "var scenarios[match_4pct__s42].vars.cola_rate must be a number",
        ),
    ],
    ids=["duplicate_id", "run_identity_key", "non_numeric_value"],
)
def test_a_bad_scenarios_var_is_a_compiler_error_naming_it(
    tmp_path: Path, scenarios: Any, message: str
) -> None:
    assert message in _compile_error(tmp_path, scenarios)


def test_a_bad_scenarios_var_fails_the_parse(tmp_path: Path) -> None:
    """The models call the check while dbt parses them, so a fresh parse (plain `dbt`, a new process) fails
    too, with the same message (the one parse of this module: the check is one macro whatever is wrong)."""
    assert "duplicate scenario_id baseline__s42" in _parse_error(tmp_path, DUPLICATE_ID)


def test_the_scenario_parameter_list_is_the_projects_parameter_vars() -> None:
    """macros/scenarios.sql lists the vars a scenario may set; they must be exactly the parameter vars of
    dbt_project.yml (those defaulting to null: "use the seed value")."""
    project = yaml.safe_load((DBT_PROJECT / "dbt_project.yml").read_text(encoding="utf-8"))
    identity = {"scenario_name", "scenarios"}  # null too, but they name the build, not a parameter
    parameters = {name for name, value in project["vars"].items() if value is None} - identity
    macro = (DBT_PROJECT / "macros" / "scenarios.sql").read_text(encoding="utf-8")
    body = macro[macro.index("macro planalign_parameter_var_names") :]
    listed = re.findall(r"'(\w+)'", body[: body.index("endmacro")])
    assert len(listed) == len(set(listed))
    assert set(listed) == parameters
