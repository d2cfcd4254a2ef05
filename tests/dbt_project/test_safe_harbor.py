"""Issue #23, plan types: a safe-harbor design (`safe_harbor.type`, here basic_match as
PLANALIGN_SAFE_HARBOR__TYPE=basic_match sets it) is fully vested and refunds nothing — on the census that
fails both tests without it (tests/dbt_project/test_nondiscrimination.py). One one-year plan, built side by
side with the other plans of this census (skewed_plans.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .simulation_support import ScenarioBuild, SimulationRun
from .skewed_plans import SAFE_HARBOR_ENVIRONMENT, configured

pytestmark = pytest.mark.slow

YEAR = 2025


@pytest.fixture(scope="module")
def safe_harbor_run(skewed_plans: ScenarioBuild) -> Iterator[SimulationRun]:
    """The basic-match safe harbor, 2025 only (conftest's shared build of the plans of this census)."""
    run = skewed_plans.members["safe_harbor"]
    plan = configured(SAFE_HARBOR_ENVIRONMENT).parameter_vars()
    assert run.vars["safe_harbor_type"] == plan["safe_harbor_type"], "built with the configured plan"
    yield run


def test_a_basic_match_safe_harbor_plan_is_fully_vested_and_refunds_nothing(
    safe_harbor_run: SimulationRun,
) -> None:
    (row,) = safe_harbor_run.query(
        "select adp_passed, acp_passed, adp_test_method, acp_test_method, adp_refunds, acp_refunds, "
        "match_forfeited, catch_up_recharacterized, hce_adp > adp_hce_limit "
        "from nondiscrimination_results where simulation_year = ?",
        [YEAR],
    )
    assert row[:4] == (True, True, "safe harbor", "safe harbor")
    assert row[4:8] == (0, 0, 0, 0)
    assert row[8], "the HCEs' ratios are still above the limit: only the safe harbor passes the test"
    vesting = safe_harbor_run.query(
        "select min(vested_share), max(vested_share), sum(forfeiture), count(*) filter (where "
        "employment_status = 'terminated' and balance > 0) from int_employer_contribution_accounts"
    )[0]
    assert vesting[:3] == (1.0, 1.0, 0) and vesting[3] > 0, "leavers with employer money forfeit nothing"
    tiers = safe_harbor_run.query(
        "select employee_min, employee_max, match_rate from int_effective_match_tiers order by tier"
    )
    assert tiers == [(0.0, 0.03, 1.0), (0.03, 0.05, 0.5)]
