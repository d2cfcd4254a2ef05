"""issue #24 item 3: a run's assumptions are the values the dbt project resolved, read from what it built per
scenario (`planalign.simulation.assumptions_resolve.read_assumptions`; sweep.json's designs too,
`planalign.scenarios.sweep_designs`), and they equal, field by field, the configuration's set values and the
seed files' values for the unset ones, as the tests' own independent reading of the seed CSVs gives them
(tests/seed_assumptions.py), and stated literals — for the default configuration, a baseline that sets values
at the top level, match tiers, a vesting schedule, graded core rates, coded choices and merit rates set in a
scenario.

One real dbt build of the parameter models only (seeds and the foundation models they need, one year, five
scenarios side by side through the `scenarios` var, as a sweep builds them), on the shared parse.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from planalign.scenarios.expansion import expand, scenarios_var
from planalign.scenarios.scenario_file import ScenarioSet, load_scenario_file
from planalign.simulation.assumptions import Assumptions, AssumptionsError
from planalign.simulation.assumptions_resolve import read_assumptions
from planalign.simulation.census import generate_census, write_census
from planalign.simulation.config import SimulationConfig
from planalign.simulation.config_loading import load_simulation_config
from tests.dbt_project.simulation_support import DbtWorkspace
from tests.seed_assumptions import resolve_assumptions

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
PARAMETER_MODELS = (
    "int_effective_parameter_values",
    "int_effective_comp_levers",
    "int_effective_match_tiers",
    "int_effective_vesting_schedule",
    "int_effective_core_contribution_schedule",
)
DESIGNS: dict[str, Any] = {
    "tiers": {
        "description": "two match tiers and a cap",
        "overrides": {
            "match": {
                "tiers": [
                    {"employee_max": 0.03, "match_rate": 1.0},
                    {"employee_max": 0.05, "match_rate": 0.5},
                ],
                "cap_rate": 0.035,
            }
        },
    },
    "vesting": {
        "description": "graded vesting, forfeiture after five breaks",
        "overrides": {
            "vesting": {
                "schedule": [
                    {"years_of_service": 1, "vested_share": 0.25},
                    {"years_of_service": 2, "vested_share": 0.5},
                    {"years_of_service": 3, "vested_share": 1.0},
                ],
                "forfeiture_timing": "five_year_break",
            }
        },
    },
    "levers": {
        "description": "merit, graded core and prior-year testing set in the scenario",
        "overrides": {
            "compensation": {"merit_rate_level_2": 0.041, "cola_rate": 0.015},
            "contributions": {
                "core_contribution_graded": True,
                "core_contribution_schedule": [
                    {"min_age": 0, "min_service_years": 0, "core_rate": 0.02},
                    {"min_age": 50, "min_service_years": 5, "core_rate": 0.04},
                ],
            },
            "nondiscrimination": {"testing_method": "prior_year"},
        },
    },
}


def _write_project(root: Path, top_level: dict[str, Any]) -> Path:
    census = write_census(generate_census(30, seed=5), root / "census.parquet")
    config = {
        "simulation": {"start_year": 2025, "end_year": 2025, "census_path": str(census)},
        "dbt": {"project_dir": str(REPO / "dbt_project")},
        "run": {"runs_dir": "runs"},
        **top_level,
    }
    (root / "simulation_config.yaml").write_text(yaml.safe_dump(config))
    path = root / "sweep.yaml"
    path.write_text(
        yaml.safe_dump({"name": "assumptions", "scenarios": DESIGNS, "seeds": 1}, sort_keys=False)
    )
    return path


@dataclass(frozen=True)
class Built:
    scenario_set: ScenarioSet
    sweep: DbtWorkspace
    """The baseline and the three designs side by side (`scenarios` var)."""
    scenario_ids: dict[str, str]
    """{design name: its scenario_id}"""
    default: SimulationConfig
    plain: DbtWorkspace
    """The default configuration built as a plain run (scenario "baseline")."""


def _build(workspace: DbtWorkspace, config: SimulationConfig, extra: dict[str, Any]) -> None:
    run_vars = {**config.dbt_vars(2025), "database_path": str(workspace.database), **extra}
    workspace.dbt("seed", vars=run_vars)
    workspace.dbt("run", "--select", " ".join(f"+{m}" for m in PARAMETER_MODELS), vars=run_vars)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("assumptions-build")
    top = {"escalation": {"cap": 0.12, "enabled": False}, "workforce": {"total_termination_rate": 0.11}}
    scenario_set = load_scenario_file(_write_project(root, top))
    members = expand(scenario_set)
    ids = {
        design.name: next(m.scenario_id for m in members if m.scenario_id.startswith(f"{design.name}__s"))
        for design in scenario_set.designs
    }
    sweep = DbtWorkspace(root / "sweep")
    _build(sweep, scenario_set.baseline.config, {"scenarios": scenarios_var(members)})
    default = load_simulation_config(
        REPO / "simulation_config.yaml",
        overrides={"simulation.census_path": str(root / "census.parquet"), "simulation.end_year": 2025},
    )
    plain = DbtWorkspace(root / "plain")
    _build(plain, default, {})
    return Built(scenario_set, sweep, ids, default, plain)


def _assert_equal(before: Assumptions, read: Assumptions, label: str) -> None:
    assert [p.name for p in read.parameters] == [p.name for p in before.parameters], label
    for old, new in zip(before.parameters, read.parameters, strict=True):
        assert new == old, (label, old.name)
        assert json.dumps(new.json_value()) == json.dumps(old.json_value()), (label, old.name)
    assert read == before and read.match_formula == before.match_formula, label


def test_the_assumptions_read_from_the_build_equal_the_configurations(built: Built) -> None:
    """Field by field, for the default configuration (a plain run) and each design of the sweep."""
    _assert_equal(
        resolve_assumptions(built.default, census_employees=30),
        read_assumptions(built.default, built.plain.database, "baseline", census_employees=30),
        "default",
    )
    assert set(built.scenario_ids) == {"baseline", *DESIGNS}
    for design in built.scenario_set.designs:
        before = resolve_assumptions(design.config, census_employees=30)
        read = read_assumptions(
            design.config, built.sweep.database, built.scenario_ids[design.name], census_employees=30
        )
        _assert_equal(before, read, design.name)
    # what differs between the designs is read back from their own rows
    by_design = {
        d.name: read_assumptions(
            d.config, built.sweep.database, built.scenario_ids[d.name], census_employees=30
        )
        for d in built.scenario_set.designs
    }
    assert (
        by_design["tiers"].match_formula
        == "100% of the first 3% of pay, then 50% of the next 2% (capped at 3.5% of pay)"
    )
    assert by_design["vesting"].parameter("vesting_forfeiture_timing").value == 1
    assert by_design["baseline"].parameter("vesting_forfeiture_timing").value == 0
    assert by_design["levers"].parameter("merit_rate_level_2").value == 0.041
    assert by_design["levers"].parameter("escalation_cap").value == 0.12  # the top level's, under the design
    assert by_design["baseline"].parameter("escalation_enabled").value is False


def test_sweep_json_states_each_designs_parameters_as_built(built: Built, tmp_path: Path) -> None:
    """sweep.json's `scenarios`, read from the sweep database after its build, per design's first member."""
    from planalign.scenarios.sweep_designs import designs_built

    members = expand(built.scenario_set)
    by_name = {d["name"]: d for d in designs_built(built.scenario_set, members, built.sweep.database, 30)}
    assert list(by_name) == ["baseline", *DESIGNS]
    assert all(d["assumptions_error"] is None for d in by_name.values())
    assert by_name["tiers"]["parameters"]["match_cap_rate"] == 0.035
    assert by_name["tiers"]["match_formula"] == (
        "100% of the first 3% of pay, then 50% of the next 2% (capped at 3.5% of pay)"
    )
    assert by_name["levers"]["parameters"]["merit_rate_level_2"] == 0.041
    assert by_name["levers"]["parameters"]["escalation_cap"] == 0.12
    assert by_name["vesting"]["parameters"]["vesting_forfeiture_timing"] == 1
    for design in built.scenario_set.designs:
        read = read_assumptions(
            design.config, built.sweep.database, built.scenario_ids[design.name], census_employees=30
        )
        assert by_name[design.name]["parameters"] == read.parameter_values()
    # Nothing built: each design says why, nothing crashes.
    missing = designs_built(built.scenario_set, members, tmp_path / "none.duckdb", 30)
    assert [d["parameters"] for d in missing] == [None] * len(missing)
    assert all("does not exist" in d["assumptions_error"] for d in missing)


def test_a_scenario_the_database_does_not_hold_is_named(built: Built, tmp_path: Path) -> None:
    config = built.scenario_set.baseline.config
    with pytest.raises(AssumptionsError, match="holds no parameters of scenario nobody"):
        read_assumptions(config, built.sweep.database, "nobody", census_employees=1)
    with pytest.raises(AssumptionsError, match="the run stopped before dbt built them"):
        read_assumptions(config, tmp_path / "empty.duckdb", "baseline", census_employees=1)


def test_the_values_are_the_builds_not_the_configurations(built: Built, tmp_path: Path) -> None:
    """A value dbt built differently from what the configuration says is recorded as built: the record reads
    the database, it does not recompute."""
    import shutil

    import duckdb

    database = Path(shutil.copyfile(built.plain.database, tmp_path / "copy.duckdb"))
    con = duckdb.connect(str(database))
    try:
        con.execute("update int_effective_parameter_values set cola_rate = 0.777")
        con.execute("update int_effective_match_tiers set match_rate = 0.25 where tier = 1")
    finally:
        con.close()
    read = read_assumptions(built.default, database, "baseline", census_employees=30)
    assert read.parameter("cola_rate").value == 0.777
    assert read.match_tiers[0].match_rate == 0.25
    assert resolve_assumptions(built.default, census_employees=30).parameter("cola_rate").value != 0.777
