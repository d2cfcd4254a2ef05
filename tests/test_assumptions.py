"""The assumptions in force (planalign.simulation.assumptions): config over seed, as the dbt project resolves
them, the census size, and the match formula in words."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from planalign.simulation.assumptions import (
    AssumptionsError,
    MatchTierTerm,
    assumptions_from_dict,
    match_formula_words,
)
from planalign.simulation.assumptions_resolve import count_census_rows
from planalign.simulation.census import generate_census, write_census
from planalign.simulation.config import MatchTier, SimulationConfig
from planalign.simulation.config_loading import load_simulation_config
from tests.seed_assumptions import resolve_assumptions

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("PLANALIGN_"):
            monkeypatch.delenv(name)


# ----------------------------------------------------------------------------------------------------
# match formula in words
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tiers", "cap", "words"),
    [
        (
            [(0.0, 0.03, 1.0), (0.03, 0.05, 0.5)],
            0.04,
            "100% of the first 3% of pay, then 50% of the next 2% (up to 4% of pay)",
        ),
        ([(0.0, 0.04, 1.0)], 0.04, "100% of the first 4% of pay (up to 4% of pay)"),
        ([(0.0, 0.06, 0.5)], 0.10, "50% of the first 6% of pay (up to 3% of pay)"),
        (
            [(0.0, 0.03, 1.0), (0.03, 0.05, 0.5)],
            0.035,
            "100% of the first 3% of pay, then 50% of the next 2% (capped at 3.5% of pay)",
        ),
        (
            [(0.0, 0.02, 1.0), (0.04, 0.06, 0.25)],
            0.05,
            "100% of the first 2% of pay, then 25% of deferrals from 4% to 6% of pay (up to 2.5% of pay)",
        ),
        ([(0.01, 0.03, 1.0)], 0.04, "100% of deferrals from 1% to 3% of pay (up to 2% of pay)"),
        ([(0.0, 0.0125, 0.333)], 1.0, "33.3% of the first 1.25% of pay (up to 0.4163% of pay)"),
        ([], 0.04, "no employer match"),
        ([(0.0, 0.03, 0.0)], 0.04, "no employer match"),
        ([(0.0, 0.03, 1.0)], 0.0, "no employer match (the match cap is 0% of pay)"),
    ],
)
def test_match_formula_words(tiers: list[tuple[float, float, float]], cap: float, words: str) -> None:
    assert match_formula_words([MatchTierTerm(*t) for t in tiers], cap) == words


def test_match_formula_words_takes_the_var_form_and_config_tiers_in_any_order() -> None:
    """A tier list without employee_min starts each tier where the previous one ends, as
    int_effective_match_tiers does; terms given out of order are said in order."""
    expected = "100% of the first 3% of pay, then 50% of the next 2% (up to 4% of pay)"
    var_form = [{"employee_max": 0.03, "match_rate": 1.0}, {"employee_max": 0.05, "match_rate": 0.5}]
    assert match_formula_words(var_form, 0.04) == expected
    config_form = [MatchTier(employee_max=0.03, match_rate=1.0), MatchTier(employee_max=0.05, match_rate=0.5)]
    assert match_formula_words(config_form, 0.04) == expected
    reversed_terms = [MatchTierTerm(0.03, 0.05, 0.5), MatchTierTerm(0.0, 0.03, 1.0)]
    assert match_formula_words(reversed_terms, 0.04) == expected


def test_a_malformed_tier_is_named() -> None:
    with pytest.raises(AssumptionsError, match="employee_max"):
        match_formula_words([{"match_rate": 1.0}], 0.04)


# ----------------------------------------------------------------------------------------------------
# resolution
# ----------------------------------------------------------------------------------------------------


def _edit_seed(project: Path, seed: str, edit: dict[str, dict[str, str]], key: str) -> None:
    """Rewrite seeds/<seed>.csv, replacing columns of the rows whose `key` column matches."""
    path = project / "seeds" / f"{seed}.csv"
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        header = list(reader.fieldnames or [])
    for row in rows:
        row.update(edit.get(row[key], {}))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the dbt project's yml and seeds, with seed values no default has, so a value can only have
    come from this seed."""
    project = tmp_path / "dbt_project"
    project.mkdir()
    shutil.copy(REPO / "dbt_project" / "dbt_project.yml", project)
    shutil.copytree(REPO / "dbt_project" / "seeds", project / "seeds")
    _edit_seed(
        project,
        "config_plan_parameters",
        {
            "escalation_cap": {"parameter_value": "0.123"},
            "auto_enrollment_enabled": {"parameter_value": "0"},
            "auto_enrollment_window_days": {"parameter_value": "17"},
            "match_cap_rate": {"parameter_value": "0.05"},
        },
        "parameter_name",
    )
    _edit_seed(
        project, "config_workforce_parameters", {"cola_rate": {"parameter_value": "0.017"}}, "parameter_name"
    )
    _edit_seed(project, "config_comp_levers", {"4": {"merit_rate": "0.041"}}, "job_level")
    (project / "seeds" / "config_match_tiers.csv").write_text(
        "tier,employee_min,employee_max,match_rate\n2,0.02,0.06,0.5\n1,0.00,0.02,1.00\n"
    )
    (project / "seeds" / "config_vesting_schedule.csv").write_text("years_of_service,vested_share\n3,1.0\n")
    (project / "seeds" / "config_core_contribution_schedule.csv").write_text(
        "min_age,min_service_years,core_rate\n50,0,0.07\n0,0,0.01\n"
    )
    return project


@pytest.fixture
def census(tmp_path: Path) -> Path:
    return write_census(generate_census(37, seed=3), tmp_path / "census.parquet")


def _config(census: Path, project: Path, **overrides: Any) -> SimulationConfig:
    return load_simulation_config(
        None, overrides={"simulation.census_path": str(census), "dbt.project_dir": str(project), **overrides}
    )


def test_unset_parameters_take_the_seed_values(project: Path, census: Path) -> None:
    a = resolve_assumptions(_config(census, project))
    values = a.parameter_values()
    assert values["escalation_cap"] == 0.123
    assert values["auto_enrollment_enabled"] is False
    assert values["auto_enrollment_window_days"] == 17 and isinstance(
        values["auto_enrollment_window_days"], int
    )
    assert values["cola_rate"] == 0.017
    assert values["merit_rate_level_4"] == 0.041
    assert values["vesting_schedule"] == [{"years_of_service": 3, "vested_share": 1.0}]
    # seed rows sorted by min_age, then min_service_years
    assert values["core_contribution_schedule"] == [
        {"min_age": 0, "min_service_years": 0, "core_rate": 0.01},
        {"min_age": 50, "min_service_years": 0, "core_rate": 0.07},
    ]
    assert values["match_true_up"] is True and values["roth_catch_up_start_year"] == 2026
    # seed rows sorted by tier
    assert values["match_tiers"] == [
        {"employee_min": 0.0, "employee_max": 0.02, "match_rate": 1.0},
        {"employee_min": 0.02, "employee_max": 0.06, "match_rate": 0.5},
    ]
    assert a.match_formula == "100% of the first 2% of pay, then 50% of the next 4% (up to 4% of pay)"
    assert {
        p.source for p in a.parameters if p.name not in ("target_growth_rate", "census_max_reject_share")
    } == {"seed"}
    assert a.parameter("escalation_cap").description.startswith("Escalation never raises")


def test_config_values_win_over_the_seed(project: Path, census: Path) -> None:
    config = _config(
        census,
        project,
        **{
            "escalation.cap": 0.08,
            "enrollment.auto_enrollment.enabled": True,
            "compensation.merit_rate_level_4": 0.02,
            "match.tiers": [{"employee_max": 0.04, "match_rate": 1.0}],
            "match.cap_rate": 0.04,
            "vesting.schedule": [{"years_of_service": 0, "vested_share": 1.0}],
        },
    )
    a = resolve_assumptions(config)
    # load_simulation_config's overrides are the command line's flags: the source says so (issue #22)
    assert a.parameter("escalation_cap").value == 0.08 and a.parameter("escalation_cap").source == "flag"
    assert a.parameter("auto_enrollment_enabled").value is True
    assert a.parameter("merit_rate_level_4").value == 0.02
    assert a.parameter("merit_rate_level_3").source == "seed"
    assert a.match_formula == "100% of the first 4% of pay (up to 4% of pay)"
    assert a.parameter_values()["vesting_schedule"] == [{"years_of_service": 0, "vested_share": 1.0}]


def test_every_parameter_var_the_config_can_set_is_in_force(project: Path, census: Path) -> None:
    """Whatever the config sets, resolve_assumptions names it: the fully specified shipped config's vars are
    exactly the parameters (which the shipped config sets all of)."""
    shipped = load_simulation_config(REPO / "simulation_config.yaml", check_files=False)
    a = resolve_assumptions(shipped, census_employees=1)
    assert set(shipped.parameter_vars()) == {p.name for p in a.parameters}
    assert {p.source for p in a.parameters} == {"config"}


def test_census_size_and_run_identity(project: Path, census: Path, tmp_path: Path) -> None:
    a = resolve_assumptions(
        _config(census, project, **{"simulation.random_seed": 7, "simulation.end_year": 2027})
    )
    assert (a.census_employees, a.random_seed, a.years) == (37, 7, (2025, 2026, 2027))
    assert a.census_path == str(census)
    csv_census = tmp_path / "census.csv"
    csv_census.write_text("employee_id,birth_date\nA,1980-01-01\nB,1981-01-01\n")
    assert count_census_rows(csv_census) == 2


def test_a_census_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "broken.parquet"
    broken.write_text("not parquet")
    with pytest.raises(AssumptionsError, match=r"broken\.parquet: cannot be read"):
        count_census_rows(broken)
    with pytest.raises(AssumptionsError, match="no such file"):
        count_census_rows(tmp_path / "absent.parquet")


def test_a_parameter_without_config_or_seed_value_is_named(project: Path, census: Path) -> None:
    path = project / "seeds" / "config_plan_parameters.csv"
    path.write_text(
        "\n".join(line for line in path.read_text().splitlines() if not line.startswith("escalation_cap"))
    )
    with pytest.raises(AssumptionsError, match="escalation_cap: not set in the config and no seed row"):
        resolve_assumptions(_config(census, project))


def test_a_malformed_seed_value_is_named(project: Path, census: Path) -> None:
    _edit_seed(
        project, "config_plan_parameters", {"escalation_cap": {"parameter_value": "ten"}}, "parameter_name"
    )
    with pytest.raises(
        AssumptionsError, match=r"config_plan_parameters\.csv: escalation_cap must be a number"
    ):
        resolve_assumptions(_config(census, project))


def test_to_dict_reads_back(project: Path, census: Path) -> None:
    a = resolve_assumptions(_config(census, project, **{"match.cap_rate": 0.03}))
    data = a.to_dict()
    assert data["census"] == {"path": str(census), "employees": 37, "prior_year_compensation_rows": 0}
    assert data["hce_lookback"] == "the census pay rate (the census has no prior_year_compensation)"
    assert data["match_formula"] == a.match_formula
    assert assumptions_from_dict(data) == a
    with pytest.raises(AssumptionsError, match="census"):
        assumptions_from_dict({k: v for k, v in data.items() if k != "census"})
