"""Issue #23 item 3: top-heavy (IRC 416) — the officer cap on key employees and the 3% minimum contribution
for non-key participants in a top-heavy year, recomputed in Python.

One two-year build (the only census here that is top-heavy: none of the shared fixtures is, so it cannot
reuse them) of 80 generated employees where the 14 best paid earn $400,000 and hold $2,000,000 census
balances, with the top-heavy test on account balances: 2025 is top-heavy on December 31, so 2026 owes the
minimum. Three census rows own a share of the employer (the optional ownership_share).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from planalign.simulation.census import generate_census

from .simulation_support import SimulationRun, build_simulation
from .test_dbt_simulation import CENT, irs_limit
from .test_plan_rules import half_up

pytestmark = pytest.mark.slow

YEARS = (2025, 2026)
EXECUTIVES = 14


def top_heavy_census(root: Path) -> Path:
    rows = generate_census(80, seed=5).to_pylist()
    actives = sorted(
        (r for r in rows if r["termination_date"] is None), key=lambda r: -r["annual_compensation"]
    )
    executives = {r["employee_id"] for r in actives[:EXECUTIVES]}
    others = [r["employee_id"] for r in actives[EXECUTIVES:]]
    # owners (IRC 416(i)(1)(A)(ii)-(iii)): a 6% owner, a 2% owner paid $160,000, a 2% owner paid $60,000
    owners = {others[0]: (0.06, 50_000.0), others[1]: (0.02, 160_000.0), others[2]: (0.02, 60_000.0)}
    for row in rows:
        executive = row["employee_id"] in executives
        row["annual_compensation"] = 400_000.0 if executive else row["annual_compensation"]
        row["opening_balance"] = 2_000_000.0 if executive else None
        share, pay = owners.get(row["employee_id"], (None, None))
        row["ownership_share"] = share
        row["annual_compensation"] = pay or row["annual_compensation"]
    path = root / "census.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@pytest.fixture(scope="module")
def top_heavy_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulationRun]:
    root = tmp_path_factory.mktemp("top_heavy")
    yield build_simulation(
        root, top_heavy_census(root), YEARS, {"random_seed": 3, "account_balances_top_heavy": True}
    )


def year_rows(run: SimulationRun, year: int) -> dict[str, dict[str, Any]]:
    columns = (
        "s.employee_id, s.employment_status, s.prorated_compensation, s.eligibility_date, "
        "c.annual_plan_compensation, c.employee_contribution, m.employer_match, "
        "m.employer_core_contribution, "
        "t.is_key_employee, t.top_heavy_minimum, d.ownership_share, f.employer_core_contribution"
    )
    names = [c.split(".")[1].strip() for c in columns.split(",")]
    names[-1] = "published_core"
    rows = run.query(
        f"select {columns} from int_workforce_snapshot_optimized s "
        "join int_employee_contributions c using (scenario_id, employee_id, simulation_year) "
        "join int_employee_match_calculations m using (scenario_id, employee_id, simulation_year) "
        "join int_top_heavy_minimum t using (scenario_id, employee_id, simulation_year) "
        "join fct_workforce_snapshot f using (scenario_id, employee_id, simulation_year) "
        "left join stg_census_data d using (scenario_id, employee_id) "
        "where s.simulation_year = ?",
        [year],
    )
    return {r[0]: dict(zip(names, r, strict=True)) for r in rows}


def expected_keys(rows: dict[str, dict[str, Any]], year: int) -> set[str]:
    limit = irs_limit(year, "key_employee_compensation_limit", 5000)
    above = sorted(
        (e for e, r in rows.items() if r["prorated_compensation"] > limit),
        key=lambda e: (-rows[e]["prorated_compensation"], e),
    )
    cap = min(50, max(3, math.ceil(len(rows) / 10)))
    owners = {
        e
        for e, r in rows.items()
        if (r["ownership_share"] or 0) > 0.05
        or ((r["ownership_share"] or 0) > 0.01 and r["prorated_compensation"] > 150_000)
    }
    return set(above[:cap]) | owners


def test_key_employees_are_capped_at_the_officer_limit(top_heavy_run: SimulationRun) -> None:
    owner_keys: set[str] = set()
    owner_non_keys: set[str] = set()
    for year in YEARS:
        rows = year_rows(top_heavy_run, year)
        keys = expected_keys(rows, year)
        assert {e for e, r in rows.items() if r["is_key_employee"]} == keys
        limit = irs_limit(year, "key_employee_compensation_limit", 5000)
        above = sum(1 for r in rows.values() if r["prorated_compensation"] > limit)
        officers = {e for e in keys if rows[e]["prorated_compensation"] > limit}
        assert above > len(officers) == math.ceil(len(rows) / 10), "the cap binds"
        owners = {e for e, r in rows.items() if r["ownership_share"]}
        owner_keys |= owners & keys
        owner_non_keys |= owners - keys
    assert owner_keys and owner_non_keys, "owners are key employees by their share and pay, not all of them"


def test_a_top_heavy_year_gives_non_key_participants_the_minimum(top_heavy_run: SimulationRun) -> None:
    status = dict(top_heavy_run.query("select simulation_year, is_top_heavy from nondiscrimination_results"))
    assert status[YEARS[0]], "the census is built to be top-heavy on 2025-12-31"
    for year in YEARS:
        rows = year_rows(top_heavy_run, year)
        keys = expected_keys(rows, year)
        key_rate = max(
            (r["employee_contribution"] + r["employer_match"] + r["employer_core_contribution"])
            / r["annual_plan_compensation"]
            for e, r in rows.items()
            if e in keys and r["annual_plan_compensation"] > 0
        )
        rate = min(Decimal("0.03"), key_rate)
        mismatches, owed = 0, Decimal(0)
        for e, r in rows.items():
            due = Decimal(0)
            participant = r["eligibility_date"] <= date(year, 12, 31)
            if year > YEARS[0] and e not in keys and participant and r["employment_status"] == "active":
                contributed = r["employer_match"] + r["employer_core_contribution"]
                due = max(Decimal(0), half_up(rate * r["annual_plan_compensation"]) - contributed)
            owed += due
            mismatches += abs(r["top_heavy_minimum"] - due) > CENT
            mismatches += r["published_core"] != r["employer_core_contribution"] + r["top_heavy_minimum"]
        assert mismatches == 0, year
        (reported,) = top_heavy_run.query(
            "select top_heavy_minimum from rpt_yearly_summary where simulation_year = ?", [year]
        )[0]
        assert reported == sum((r["top_heavy_minimum"] for r in rows.values()), Decimal(0))
        if year > YEARS[0]:
            assert owed > 0, "the minimum is exercised"
        else:
            assert owed == 0, "the first simulated year has no determination date before it"


def test_a_five_percent_owner_is_a_highly_compensated_employee_whatever_the_pay(
    top_heavy_run: SimulationRun,
) -> None:
    """IRC 414(q)(1)(A): a more-than-5% owner (in the year or the one before) is an HCE for the ADP and ACP
    tests whatever the pay — here the census's 6% owner paid $50,000, below the HCE compensation limit; the
    2% owners are HCEs only by their pay."""
    for year in (2025, 2026):
        rows = top_heavy_run.query(
            "select c.employee_id, c.is_hce, c.lookback_compensation, d.ownership_share "
            "from int_nondiscrimination_corrections c "
            "left join stg_census_data d using (scenario_id, employee_id) where c.simulation_year = ?",
            [year],
        )
        limit = irs_limit(year - 1, "hce_compensation_limit", 5000)
        for employee_id, is_hce, lookback, share in rows:
            expected = (share or 0) > 0.05 or lookback > limit
            assert bool(is_hce) == expected, (year, employee_id, share, lookback)
        assert any((share or 0) > 0.05 and lookback <= limit for _, _, lookback, share in rows), year
