"""Calibration (issue #15 item 9): the default plan against Vanguard, How America Saves 2025.

Benchmarks (How America Saves 2025, Vanguard, data for 2024): plans with automatic enrollment have a 94%
participation rate, voluntary-enrollment plans 64%; the average deferral rate of participants is 7.7%.
The defaults are set from them: auto_enrollment_opt_out_rate 6% (= 1 - 94%); voluntary_enrollment_rate 20%,
the yearly rate at which a plan without auto-enrollment holds about 64% of its actives as participants; the
census generator enrolls about 60% (a plan that was voluntary until the simulation starts).

Two three-year plain-dbt runs on a 1,500-employee census from the shipped census's generator and seed
(`planalign census --seed 2024`), with every parameter at its default; the second with auto-enrollment off
(two members of the build test_deferral_response reads, tests/dbt_project/enrollment_plans.py).
Tolerances, stated with each check, allow for the sample's size (200-600 auto-enrolled hires, 1,500
actives): about 3 standard errors. On the shipped 5,000-employee census the default simulation gives
94.4/94.1/93.6/94.4/94.1% for the auto-enrolled hires (2025-2029), 61.7-65.7% without auto-enrollment, and
average deferral rates of 6.9% rising to 8.1% with escalation.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .enrollment_plans import EMPLOYEES, SCENARIOS, YEARS
from .simulation_support import ScenarioBuild, SimulationRun
from .test_dbt_simulation import PLAN, irs_limit

pytestmark = pytest.mark.slow

AUTO_ENROLLMENT_PARTICIPATION, AUTO_ENROLLMENT_TOLERANCE = 0.94, 0.03
VOLUNTARY_PARTICIPATION, VOLUNTARY_TOLERANCE = 0.64, 0.05
AVERAGE_DEFERRAL, DEFERRAL_TOLERANCE = 0.077, 0.010


@pytest.fixture(scope="module")
def default_run(enrollment_plans: ScenarioBuild) -> Iterator[SimulationRun]:
    """Every parameter at its default (seed 42), 2025-2027."""
    run = enrollment_plans.members["today"]
    assert (run.vars["random_seed"], SCENARIOS["today"]) == (42, {}), "the shipped defaults"
    yield run


@pytest.fixture(scope="module")
def voluntary_run(enrollment_plans: ScenarioBuild) -> Iterator[SimulationRun]:
    """The same with auto-enrollment off."""
    run = enrollment_plans.members["voluntary"]
    assert (run.vars["random_seed"], SCENARIOS["voluntary"]) == (42, {"auto_enrollment_enabled": False})
    yield run


def test_the_shipped_defaults_are_the_calibrated_ones() -> None:
    assert EMPLOYEES == 1500, "the tolerances are about 3 standard errors of a 1,500-employee census"
    assert float(PLAN["auto_enrollment_opt_out_rate"]) == pytest.approx(1 - AUTO_ENROLLMENT_PARTICIPATION)
    assert float(PLAN["voluntary_enrollment_rate"]) == pytest.approx(0.20)


@pytest.mark.parametrize("year", YEARS)
def test_auto_enrolled_hires_participate_like_auto_enrollment_plans(
    default_run: SimulationRun, year: int
) -> None:
    """Actives hired under auto-enrollment whose window has passed by December 31: 94% +- 3 points."""
    window = int(PLAN["auto_enrollment_window_days"])
    enrolled, total = default_run.query(
        "select count(*) filter (where is_enrolled), count(*) from fct_workforce_snapshot "
        "where simulation_year = ? and employment_status = 'active' and hire_date >= date '2025-01-01' "
        "and hire_date + cast(? as integer) <= make_date(?, 12, 31)",
        [year, window, year],
    )[0]
    assert total > 50
    assert abs(enrolled / total - AUTO_ENROLLMENT_PARTICIPATION) <= AUTO_ENROLLMENT_TOLERANCE, (
        enrolled / total
    )


@pytest.mark.parametrize("year", YEARS)
def test_a_plan_without_auto_enrollment_participates_like_voluntary_plans(
    voluntary_run: SimulationRun, year: int
) -> None:
    """All actives, auto-enrollment off: 64% +- 5 points every year."""
    rate = voluntary_run.query(
        "select participation_rate from rpt_yearly_summary where simulation_year = ?", [year]
    )[0][0]
    assert abs(rate - VOLUNTARY_PARTICIPATION) <= VOLUNTARY_TOLERANCE, rate


@pytest.mark.parametrize("year", YEARS)
def test_participants_defer_like_how_america_saves(default_run: SimulationRun, year: int) -> None:
    """Average deferral rate of active participants: 7.7% +- 1 point every year (escalation raises it)."""
    average = default_run.query(
        "select avg(deferral_rate) from fct_workforce_snapshot "
        "where simulation_year = ? and employment_status = 'active' and is_enrolled and deferral_rate > 0",
        [year],
    )[0][0]
    assert abs(float(average) - AVERAGE_DEFERRAL) <= DEFERRAL_TOLERANCE, average


def test_the_irs_limits_are_the_2026_ones() -> None:
    """IR-2025-111 / Notice 2025-67: 402(g) $24,500, catch-up $8,000, 401(a)(17) $360,000, 415(c) $72,000."""
    assert [
        irs_limit(2026, column, 1)
        for column in (
            "elective_deferral_limit",
            "catch_up_limit",
            "compensation_limit",
            "annual_additions_limit",
        )
    ] == [24500, 8000, 360000, 72000]
