"""Issue #23, automatic-enrollment plan types on a real build: a QACA basic-match design that is also under
SECURE 2.0 section 101 (so an EACA), set through the environment as a user would
(PLANALIGN_SAFE_HARBOR__QACA=true, ..._SECURE_2_0_MANDATORY=true), on the census that fails both tests
without a safe harbor (tests/dbt_project/test_nondiscrimination.py), with auto-enrollment on. Recomputed in
Python, independently of the SQL: every match to the cent under the QACA formula (IRC 401(k)(13)(D)(i)), the
2-year cliff (401(k)(13)(D)(iii)), the permissive withdrawals (IRC 414(w)) employee by employee from the
project's hash draw, the withdrawers' money, and the tests deemed passed. One two-year build (the second
year reads the first's state), side by side with the other plans of this census (skewed_plans.py). The
build runs dq_plan_rules' plan-type checks too (a row fails it)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal

import pytest

from .simulation_support import ScenarioBuild, SimulationRun
from .skewed_plans import PLAN_TYPES_ENVIRONMENT, PLAN_TYPES_KEYS, SEED, WITHDRAWAL_SHARE, configured
from .test_plan_rules import uniform

pytestmark = pytest.mark.slow

YEARS = (2025, 2026)
CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def plan_types_run(skewed_plans: ScenarioBuild) -> Iterator[SimulationRun]:
    """The plan of PLAN_TYPES_ENVIRONMENT, 2025-2026 (conftest's shared build of the plans of this census)."""
    config = configured(PLAN_TYPES_ENVIRONMENT)
    assert config.plan_type_problems() == [], "a lawful QACA and section 101 schedule"
    run = skewed_plans.members["plan_types"]
    plan = config.parameter_vars()
    assert all(run.vars[key] == plan[key] for key in PLAN_TYPES_KEYS), "built with the configured plan"
    yield run


def qaca_match_rate(deferral: Decimal) -> Decimal:
    """IRC 401(k)(13)(D)(i)(I): 100% of the first 1% of pay deferred and 50% of the next 5%."""
    return min(deferral, Decimal("0.01")) + Decimal("0.5") * max(
        Decimal(0), min(deferral, Decimal("0.06")) - Decimal("0.01")
    )


def test_every_match_is_the_qaca_formula(plan_types_run: SimulationRun) -> None:
    """Tolerance: one cent, for a product of a double rate and pay that lands on half a cent."""
    rows = plan_types_run.query(
        "select c.simulation_year, c.employee_id, c.employee_contribution, c.plan_compensation, "
        "m.match_annual from int_employee_contributions c join int_employee_match_calculations m "
        "using (scenario_id, employee_id, simulation_year)"
    )
    years = {row[0] for row in rows}
    assert years == set(YEARS) or years == {YEARS[-1]}, years
    matched = 0
    for _year, employee, contribution, compensation, match in rows:
        if contribution <= 0 or compensation <= 0:
            assert match == 0, employee
            continue
        rate = min(qaca_match_rate(Decimal(contribution) / Decimal(compensation)), Decimal("0.035"))
        expected = (rate * Decimal(compensation)).quantize(CENT, rounding=ROUND_HALF_UP)
        assert abs(Decimal(match) - expected) <= CENT, (employee, match, expected)
        matched += 1
    assert matched > 100


def test_the_qaca_contributions_vest_after_two_years(plan_types_run: SimulationRun) -> None:
    rows = plan_types_run.query(
        "select a.employee_id, a.years_of_service, a.vested_share, s.age "
        "from int_employer_contribution_accounts a join int_workforce_snapshot_optimized s "
        "using (scenario_id, employee_id, simulation_year)"
    )
    assert {(years >= 2) for _, years, _, _ in rows} == {True, False}
    for employee, years, share, age in rows:
        if years >= 2:
            assert share == 1.0, employee
        elif age < 64:  # below the normal retirement age (65) whatever the day it is reached
            assert share == 0.0, employee


def test_permissive_withdrawals_are_the_draws_and_return_the_money(plan_types_run: SimulationRun) -> None:
    (mandatory,) = plan_types_run.query(
        "select auto_enrollment_eaca, auto_enrollment_secure_2_0_mandatory, safe_harbor_qaca "
        "from int_effective_parameters"
    )
    assert mandatory == (True, True, True), "section 101 makes the arrangement an EACA (IRC 414A(b))"
    events = plan_types_run.query(
        "select simulation_year, employee_id, event_type, enrollment_source, deferral_rate_after "
        "from fct_yearly_events where enrollment_source in ('auto', 'permissive_withdrawal')"
    )
    stayed = [e for e in events if not (e[2] == "enrollment_opt_out" and e[3] == "auto")]
    expected = {
        (year, employee)
        for year, employee, *_ in stayed
        if uniform(SEED, employee, year, "permissive_withdrawal") < WITHDRAWAL_SHARE
    }
    withdrawn = {
        (year, employee) for year, employee, _, source, _ in events if source == "permissive_withdrawal"
    }
    assert withdrawn == expected
    assert 10 <= len(withdrawn) < len(stayed), (len(withdrawn), len(stayed))
    for _year, _employee, event_type, source, rate in events:
        if source == "permissive_withdrawal":
            assert (event_type, rate) == ("enrollment_opt_out", 0)
    money = {
        (year, employee): (contribution, match)
        for year, employee, contribution, match in plan_types_run.query(
            "select simulation_year, employee_id, employee_contribution, employer_match "
            "from fct_workforce_snapshot"
        )
    }
    for key in withdrawn:
        assert money[key] == (0, 0), ("deferrals returned, no match (IRC 414(w)(2))", key, money[key])


def test_a_qaca_is_deemed_to_pass_and_refunds_nothing(plan_types_run: SimulationRun) -> None:
    rows = plan_types_run.query(
        "select simulation_year, adp_passed, acp_passed, adp_test_method, acp_test_method, adp_refunds, "
        "acp_refunds, match_forfeited from nondiscrimination_results order by simulation_year"
    )
    assert [r[0] for r in rows] == list(YEARS)
    for row in rows:
        assert row[1:5] == (True, True, "QACA safe harbor", "QACA safe harbor")
        assert row[5:] == (0, 0, 0)
