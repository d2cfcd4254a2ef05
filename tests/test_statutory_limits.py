"""Issue #23 item 5: settings outside the law are refused by `planalign validate` (exit 2, the limit and its
source named, nothing written, before dbt's parse); the law's own bounds are accepted. Fast: no dbt."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from planalign import cli
from planalign.simulation import statutory
from planalign.simulation.config import SimulationConfig
from tests.refusals import refused_by_validate

SEED_NAMES = {"normal_retirement_age": "vesting_normal_retirement_age"}
SEEDS = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds"


pytestmark = pytest.mark.usefixtures("clean_planalign_env")


REFUSED = {
    "eligibility age 22": (
        "enrollment:\n  eligibility_min_age: 22\n",
        ["enrollment.eligibility_min_age", "IRC 410(a)(1)(A)(i)", "age 22 is above 21"],
    ),
    "eligibility age 120": (
        "enrollment:\n  eligibility_min_age: 120\n",
        ["enrollment.eligibility_min_age", "IRC 410(a)(1)(A)(i)"],
    ),
    "13 months of service": (
        "enrollment:\n  eligibility_service_months: 13\n",
        ["enrollment:", "IRC 410(a)(1)(A)(ii)", "401(k)(2)(D)"],
    ),
    "12 months and a day": (
        "enrollment:\n  eligibility_service_months: 12\n  eligibility_service_days: 1\n",
        ["IRC 410(a)(1)(A)(ii)"],
    ),
    "120 months": ("enrollment:\n  eligibility_service_months: 120\n", ["IRC 410(a)(1)(A)(ii)"]),
    "annual entry after a 12-month wait": (
        "enrollment:\n  eligibility_service_months: 12\n  eligibility_entry_frequency_months: 12\n",
        ["IRC 410(a)(4)", "2026-02-15", "2027-01-01", "2026-08-15"],
    ),
    "annual entry at age 21": (
        "enrollment:\n  eligibility_min_age: 21\n  eligibility_entry_frequency_months: 12\n",
        ["IRC 410(a)(4)"],
    ),
    "annual entry after 7 months": (
        "enrollment:\n  eligibility_service_months: 7\n  eligibility_entry_frequency_months: 12\n",
        ["IRC 410(a)(4)"],
    ),
    "vesting never reaches 100%": (
        "vesting:\n  schedule:\n    - {years_of_service: 0, vested_share: 0.0}\n"
        "    - {years_of_service: 3, vested_share: 0.9}\n",
        ["vesting.schedule", "never reaches 100%", "IRC 411(a)(2)(B)"],
    ),
    "4-year cliff": (
        "vesting:\n  schedule:\n    - {years_of_service: 4, vested_share: 1.0}\n",
        ["vesting.schedule", "IRC 411(a)(2)(B)", "slower"],
    ),
    "7-year graded": (
        "vesting:\n  schedule:\n"
        + "".join(
            f"    - {{years_of_service: {n}, vested_share: {0.2 * (n - 2):.1f}}}\n" for n in range(3, 8)
        ),
        ["vesting.schedule", "IRC 411(a)(2)(B)"],
    ),
    "graded that lags in year 2": (
        "vesting:\n  schedule:\n    - {years_of_service: 3, vested_share: 0.4}\n"
        "    - {years_of_service: 4, vested_share: 0.6}\n    - {years_of_service: 5, vested_share: 0.8}\n"
        "    - {years_of_service: 6, vested_share: 1.0}\n",
        ["IRC 411(a)(2)(B)"],
    ),
    "catch-up age 5": (
        "contributions:\n  catch_up_age: 5\n",
        ["contributions.catch_up_age", "IRC 414(v)(5)(A)", "5 is not 50"],
    ),
    "catch-up age 55": ("contributions:\n  catch_up_age: 55\n", ["IRC 414(v)(5)(A)"]),
    "normal retirement age 70": (
        "vesting:\n  normal_retirement_age: 70\n",
        ["vesting.normal_retirement_age", "IRC 411(a)(8)(B)"],
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_validate_refuses_a_setting_outside_the_law(
    config_project: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text, expected = REFUSED[case]
    (config_project / "plan.yaml").write_text("simulation:\n  census_path: census.parquet\n" + text)
    err = refused_by_validate(config_project, capsys)
    for fragment in expected:
        assert fragment in err, (case, err)


def test_the_environment_is_checked_too(
    config_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (config_project / "plan.yaml").write_text("simulation:\n  census_path: census.parquet\n")
    monkeypatch.setenv("PLANALIGN_CONTRIBUTIONS__CATCH_UP_AGE", "5")
    assert cli.main(["validate", "--config", "plan.yaml"]) == cli.ExitStatus.USAGE
    err = capsys.readouterr().err
    assert "PLANALIGN_CONTRIBUTIONS__CATCH_UP_AGE" in err and "IRC 414(v)(5)(A)" in err


ACCEPTED: dict[str, dict[str, Any]] = {
    "age 21 and a year, immediate entry": {
        "enrollment": {"eligibility_min_age": 21, "eligibility_service_months": 12}
    },
    "365 days": {"enrollment": {"eligibility_service_days": 365}},
    "semi-annual entry after a year": {
        "enrollment": {"eligibility_service_months": 12, "eligibility_entry_frequency_months": 6}
    },
    "annual entry after 6 months at age 20": {
        "enrollment": {
            "eligibility_min_age": 20,
            "eligibility_service_months": 6,
            "eligibility_entry_frequency_months": 12,
        }
    },
    "3-year cliff": {"vesting": {"schedule": [{"years_of_service": 3, "vested_share": 1.0}]}},
    "6-year graded": {
        "vesting": {"schedule": [{"years_of_service": n, "vested_share": 0.2 * (n - 1)} for n in range(2, 7)]}
    },
    "immediate vesting": {"vesting": {"schedule": [{"years_of_service": 0, "vested_share": 1.0}]}},
    "catch-up age 50": {"contributions": {"catch_up_age": 50}},
    "normal retirement age 65": {"vesting": {"normal_retirement_age": 65}},
    "normal retirement age 62": {"vesting": {"normal_retirement_age": 62}},
}


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_the_laws_own_bounds_are_accepted(case: str) -> None:
    SimulationConfig.model_validate(ACCEPTED[case])


def test_the_unset_settings_are_the_seeds_values_and_lawful() -> None:
    """statutory judges an unset key by the seed's value: they must agree, and the seeds obey the law."""
    with (SEEDS / "config_plan_parameters.csv").open() as handle:
        seed = {row["parameter_name"]: row["parameter_value"] for row in csv.DictReader(handle)}
    for name, value in statutory.SEED_DEFAULTS.items():
        assert float(seed[SEED_NAMES.get(name, name)]) == value, name
    with (SEEDS / "config_vesting_schedule.csv").open() as handle:
        schedule = tuple(
            (int(r["years_of_service"]), float(r["vested_share"])) for r in csv.DictReader(handle)
        )
    assert schedule == statutory.SEED_VESTING_SCHEDULE
    assert statutory.statutory_problems(statutory.PlanSettings(vesting_schedule=schedule)) == []


def test_the_assumptions_say_which_pay_the_first_year_hce_test_uses(tmp_path: Path) -> None:
    """Issue #23 item 6: the census's optional prior_year_compensation is counted and stated."""
    from planalign.simulation.assumptions_resolve import count_prior_year_pay_rows

    without = tmp_path / "without.csv"
    without.write_text("employee_id,annual_compensation\nE1,100000\n")
    with_column = tmp_path / "with.csv"
    with_column.write_text(
        "employee_id,annual_compensation,prior_year_compensation\nE1,1,90000\nE2,1, \nE3,1,\n"
    )
    assert count_prior_year_pay_rows(without) == 0
    assert count_prior_year_pay_rows(with_column) == 1


def test_a_safe_harbor_design_fixes_the_match_core_and_vesting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #23 plan types: the environment selects the design; it fixes the plan it requires."""
    monkeypatch.setenv("PLANALIGN_SAFE_HARBOR__TYPE", "basic_match")
    plan = SimulationConfig().parameter_vars()
    assert plan["safe_harbor_type"] == 1 and plan["match_cap_rate"] == 0.04
    assert plan["vesting_schedule"] == [{"years_of_service": 0, "vested_share": 1.0}]
    monkeypatch.setenv("PLANALIGN_SAFE_HARBOR__TYPE", "nonelective")
    plan = SimulationConfig().parameter_vars()
    assert plan["safe_harbor_type"] == 3 and plan["core_contribution_rate"] == 0.03
    monkeypatch.setenv("PLANALIGN_SAFE_HARBOR__TYPE", "qaca")
    with pytest.raises(ValueError, match=r"safe_harbor\.type"):
        SimulationConfig()
