"""The hiring solver's branches through planalign itself, and the generated hire ids.

A negative `target_growth_rate` (allowed since it may be in (-1, 1]) must reach int_workforce_needs' layoff
branch: no hires, extra terminations, the headcount down by the rate, every data-quality model clean."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from planalign.simulation.census import census_rules
from planalign.simulation.orchestrator import create_orchestrator
from tests.product.simulation_helpers import make_config


@pytest.mark.slow
def test_a_negative_growth_rate_lays_off_and_hires_nobody(tmp_path: Path, small_census: Path) -> None:
    config = make_config(
        tmp_path,
        small_census,
        "shrink",
        workers=1,
        end_year=2026,
        **{"simulation.target_growth_rate": -0.1, "workforce.total_termination_rate": 0.05},
    )
    summary = create_orchestrator(config).execute_multi_year_simulation()
    assert summary.success, summary.error  # the year's dbt tests, dq models included, passed
    con = duckdb.connect(str(config.simulation.database_path), read_only=True)
    try:
        needs = con.execute(
            "select simulation_year, starting_actives, additional_terminations, total_hires_needed, "
            "target_ending_actives from int_workforce_needs order by 1"
        ).fetchall()
        actives = dict(
            con.execute(
                "select simulation_year, count(*) from fct_workforce_snapshot "
                "where employment_status = 'active' group by 1"
            ).fetchall()
        )
        hires = con.execute("select count(*) from fct_yearly_events where event_type = 'hire'").fetchone()
        dq = [
            con.execute(f"select count(*) from {t}").fetchone()
            for t in ("dq_growth_check", "dq_event_snapshot_consistency", "dq_contribution_limits")
        ]
    finally:
        con.close()
    assert hires == (0,)
    for year, start, extra, hired, target in needs:
        assert hired == 0 and extra > 0, (year, extra, hired)
        assert target == round(start * 0.9)
        assert abs(actives[year] - start * 0.9) <= 1, (year, start, actives[year])
    assert dq == [(0,), (0,), (0,)]


def test_generated_hire_ids_never_collide_and_census_ids_of_their_shape_are_reserved() -> None:
    """`lpad(seq, 6)` truncated the seven-digit sequences: hire 1,000,000 got hire 100,000's id."""
    rules = census_rules()
    sequences = [1, 99_999, 100_000, 999_999, 1_000_000, 1_000_001, 12_345_678]
    con = duckdb.connect()
    try:
        ids = [
            con.execute(f"select {rules.hire_employee_id(2025, str(seq))}").fetchone()[0]  # type: ignore[index]
            for seq in sequences
        ]
        pattern = str(rules.hire_employee_id_pattern())
        matches = [
            con.execute("select regexp_full_match(?, ?)", [i, pattern]).fetchone()[0]  # type: ignore[index]
            for i in ids
        ]
    finally:
        con.close()
    assert ids[0] == "NH2025_000001" and ids[3] == "NH2025_999999"  # ids up to 999,999 as before
    assert ids[4] == "NH2025_1000000"
    assert len(set(ids)) == len(ids)
    assert all(matches)
