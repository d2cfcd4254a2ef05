"""Issue #23 item 4: normal retirement age. Employer money is fully vested from the plan's normal retirement
age (IRC 411(a); seed 65, at most 65 under 411(a)(8)), so a leaver that old forfeits nothing. Checked on
the session's five-year build (tests/dbt_project/conftest.py: no new build), recomputed from the seed's
schedule and each employee's age on the termination date (December 31 for an active)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from planalign.simulation.statutory import SEED_DEFAULTS, SEED_VESTING_SCHEDULE, vested_share

from .simulation_support import SimulationRun

pytestmark = pytest.mark.slow

NORMAL_RETIREMENT_AGE = SEED_DEFAULTS["normal_retirement_age"]


def full_years(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def test_vesting_is_full_from_normal_retirement_age(simulation: SimulationRun) -> None:
    rows = simulation.query(
        "select a.simulation_year, a.employee_id, a.employment_status, a.years_of_service, a.vested_share, "
        "a.balance, a.forfeiture, s.birth_date, s.termination_date "
        "from int_employer_contribution_accounts a join int_workforce_snapshot_optimized s "
        "using (scenario_id, employee_id, simulation_year)"
    )
    spared = Decimal(0)
    past_the_schedule = 0
    for year, employee_id, status, service, share, balance, forfeiture, born, left in rows:
        age = full_years(born, left or date(year, 12, 31))
        schedule_share = vested_share(SEED_VESTING_SCHEDULE, service)
        expected = 1.0 if age >= NORMAL_RETIREMENT_AGE else schedule_share
        assert share == expected, (year, employee_id, age, service)
        if age >= NORMAL_RETIREMENT_AGE and schedule_share < 1 and balance > 0:
            past_the_schedule += 1
            if status == "terminated":
                assert forfeiture == 0, (year, employee_id)
                spared += balance - (balance * Decimal(schedule_share)).quantize(Decimal("0.01"))
    # not vacuous: some balances are vested only by the normal retirement age
    assert past_the_schedule > 0
