"""Issue #23 item 7, the configuration side of two options (the rules themselves are recomputed on a real
build in tests/dbt_project/test_nondiscrimination_options.py):

- `vesting.forfeiture_timing: distribution | five_year_break` (dbt var vesting_forfeiture_timing 0/1; IRC
  411(a)(7)(B), 411(a)(6)(C)),
- `nondiscrimination.testing_method: current_year | prior_year` (dbt var nondiscrimination_testing_method
  0/1; IRC 401(k)(3)(A), Treas. Reg. 1.401(k)-2(a)(2)(ii)).

Each is settable in the file and the environment, refused with exit 2 (the key named, nothing written, no
traceback, before dbt's parse) for any other value, defaults to today's behaviour (seed 0), and is stated
with its source in the assumptions. Fast: no dbt.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import yaml

from planalign.report.assumption_rows import parameters_in_force
from planalign.simulation.config import SimulationConfig
from planalign.simulation.config_loading import load_simulation_config
from tests.refusals import refused_by_validate
from tests.seed_assumptions import resolve_assumptions

pytestmark = pytest.mark.usefixtures("clean_planalign_env")

PROJECT = Path(__file__).resolve().parents[1] / "dbt_project"
VARS = ("vesting_forfeiture_timing", "nondiscrimination_testing_method")


def write(root: Path, settings: dict[str, Any]) -> None:
    text = yaml.safe_dump({"simulation": {"census_path": "census.parquet"}, **settings})
    (root / "plan.yaml").write_text(text)


REFUSED_IN_FILE: dict[str, tuple[dict[str, Any], str]] = {
    "timing misspelt": ({"vesting": {"forfeiture_timing": "five_year_breaks"}}, "vesting.forfeiture_timing"),
    "timing as a number": ({"vesting": {"forfeiture_timing": 5}}, "vesting.forfeiture_timing"),
    "timing empty": ({"vesting": {"forfeiture_timing": ""}}, "vesting.forfeiture_timing"),
    "method misspelt": (
        {"nondiscrimination": {"testing_method": "last_year"}},
        "nondiscrimination.testing_method",
    ),
    "method as a code": ({"nondiscrimination": {"testing_method": 1}}, "nondiscrimination.testing_method"),
    "unknown key": ({"nondiscrimination": {"method": "prior_year"}}, "nondiscrimination.method"),
}


@pytest.mark.parametrize("case", sorted(REFUSED_IN_FILE))
def test_validate_refuses_a_value_outside_the_choices(
    config_project: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, key = REFUSED_IN_FILE[case]
    write(config_project, settings)
    err = refused_by_validate(config_project, capsys)
    assert key in err, (case, err)


@pytest.mark.parametrize(
    ("variable", "value", "key"),
    [
        ("PLANALIGN_VESTING__FORFEITURE_TIMING", "never", "vesting.forfeiture_timing"),
        ("PLANALIGN_NONDISCRIMINATION__TESTING_METHOD", "2", "nondiscrimination.testing_method"),
    ],
)
def test_the_environment_is_checked_too(
    config_project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    key: str,
) -> None:
    write(config_project, {})
    monkeypatch.setenv(variable, value)
    err = refused_by_validate(config_project, capsys)
    assert key in err and "environment" in err, err


def test_the_environment_selects_the_options(config_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(config_project, {})
    monkeypatch.setenv("PLANALIGN_VESTING__FORFEITURE_TIMING", "five_year_break")
    monkeypatch.setenv("PLANALIGN_NONDISCRIMINATION__TESTING_METHOD", "prior_year")
    config = load_simulation_config(config_project / "plan.yaml")
    assert {k: config.parameter_vars()[k] for k in VARS} == {k: 1 for k in VARS}


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, {}),
        (
            {
                "vesting": {"forfeiture_timing": "distribution"},
                "nondiscrimination": {"testing_method": "current_year"},
            },
            {"vesting_forfeiture_timing": 0, "nondiscrimination_testing_method": 0},
        ),
        (
            {
                "vesting": {"forfeiture_timing": "five_year_break"},
                "nondiscrimination": {"testing_method": "prior_year"},
            },
            {"vesting_forfeiture_timing": 1, "nondiscrimination_testing_method": 1},
        ),
    ],
)
def test_each_choice_is_its_dbt_code(settings: dict[str, Any], expected: dict[str, int]) -> None:
    got = SimulationConfig.model_validate(settings).parameter_vars()
    assert {k: got[k] for k in VARS if k in got} == expected


def test_the_defaults_are_today_s_behaviour_and_cite_their_source() -> None:
    """Unset, both read the seed: 0 = forfeiture in the year of termination and current-year testing, what
    the model did before the options existed."""
    with (PROJECT / "seeds" / "config_plan_parameters.csv").open() as handle:
        rows = {r["parameter_name"]: r for r in csv.DictReader(handle)}
    assert rows["vesting_forfeiture_timing"]["parameter_value"] == "0"
    assert rows["nondiscrimination_testing_method"]["parameter_value"] == "0"
    assert "411(a)(6)(C)" in rows["vesting_forfeiture_timing"]["description"]
    assert "1.401(k)-2(a)(2)(ii)" in rows["nondiscrimination_testing_method"]["description"]
    # the shipped configuration spells out the same defaults
    shipped = yaml.safe_load((PROJECT.parent / "simulation_config.yaml").read_text())
    assert shipped["vesting"]["forfeiture_timing"] == "distribution"
    assert shipped["nondiscrimination"]["testing_method"] == "current_year"


def test_the_assumptions_state_the_choice_in_force(tmp_path: Path) -> None:
    census = tmp_path / "census.parquet"
    census.write_bytes(b"")
    chosen = SimulationConfig.model_validate(
        {
            "simulation": {"census_path": str(census)},
            "vesting": {"forfeiture_timing": "five_year_break"},
            "nondiscrimination": {"testing_method": "prior_year"},
        }
    )
    unset = SimulationConfig.model_validate({"simulation": {"census_path": str(census)}})
    for config, value, from_seed in ((chosen, 1, False), (unset, 0, True)):
        assumptions = resolve_assumptions(config, PROJECT, census_employees=0)
        for name in VARS:
            parameter = assumptions.parameter(name)
            assert (parameter.value, parameter.source == "seed") == (value, from_seed), name
        assert "five consecutive one-year breaks" in assumptions.parameter(VARS[0]).description
        assert "previous plan year" in assumptions.parameter(VARS[1]).description
        assert assumptions.parameter(VARS[1]).section == "nondiscrimination"
        # the run report's assumptions panel lists both, with the description naming the source
        shown = {row.parameter.name: row for row in parameters_in_force(assumptions.parameters)}
        assert "IRC 411(a)(6)(C)" in shown[VARS[0]].parameter.description
        assert "IRC 401(k)(3)(A)" in shown[VARS[1]].parameter.description
