"""Calibration of the synthetic census's default distribution against the published figures it cites
(docs/methodology.md, "The synthetic census"), on a 20,000-employee census; no dbt involved.

Tolerances (stated in the docs): age shares within 1 point (55+) and 0.8 point (65+) of BLS CPS 2024;
overall median tenure within 0.5 year of BLS's 3.9 (the group medians for 35–54 and 65+ are from 2020, when
the overall median was 4.1); the share with a year or less within 2.5 points of 22%; each age group's median
tenure within 12% (20–24: 15%) of its cited figure; each age group's median opening balance within 15% of
How America Saves 2025. A 20,000 census's median of a group of ~4,000 has a standard error of about 5%.
"""

from __future__ import annotations

import statistics
from datetime import date
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from planalign.cli import main
from planalign.simulation.census import (
    CENSUS_COLUMNS,
    OPENING_BALANCE,
    check_census,
    generate_census,
)
from planalign.simulation.census_population import AGE_GROUPS, eighteenth_birthday

EFFECTIVE = date(2024, 12, 31)

#: (low, high, cited median tenure, tolerance as a share): BLS Employee Tenure (2024: 25–34, 55–64; 2020:
#: 35–44, 45–54, 65+; table 1: 20–24).
TENURE_BY_AGE = (
    (20, 25, 1.3, 0.15),
    (25, 35, 2.7, 0.12),
    (35, 45, 4.9, 0.12),
    (45, 55, 7.5, 0.12),
    (55, 65, 9.6, 0.12),
    (65, 80, 10.3, 0.12),
)


def _age(row: dict[str, object]) -> float:
    birth = row["birth_date"]
    assert isinstance(birth, date)
    return (EFFECTIVE - birth).days / 365.25


def _tenure(row: dict[str, object]) -> float:
    hire = row["hire_date"]
    assert isinstance(hire, date)
    return (EFFECTIVE - hire).days / 365.25


@pytest.fixture(scope="module", params=[42, 2024])
def actives(request: pytest.FixtureRequest) -> list[dict[str, object]]:
    rows = generate_census(20_000, seed=request.param, opening_balances=True).to_pylist()
    return [row for row in rows if row["termination_date"] is None]


def test_age_shares_match_cps_2024(actives: list[dict[str, object]]) -> None:
    ages = [_age(row) for row in actives]
    share_55 = sum(age >= 55 for age in ages) / len(ages)
    share_65 = sum(age >= 65 for age in ages) / len(ages)
    # BLS CPS 2024 annual averages: 37,682 of 161,346 thousand employed are 55+, 11,277 are 65+
    assert abs(share_55 - 0.234) <= 0.010, share_55
    assert abs(share_65 - 0.070) <= 0.008, share_65
    assert min(ages) >= 18 and max(ages) < 75


def test_tenure_matches_bls_employee_tenure(actives: list[dict[str, object]]) -> None:
    tenures = [_tenure(row) for row in actives]
    assert abs(statistics.median(tenures) - 3.9) <= 0.5
    assert abs(sum(t <= 1 for t in tenures) / len(tenures) - 0.22) <= 0.025
    for low, high, cited, tolerance in TENURE_BY_AGE:
        group = [_tenure(row) for row in actives if low <= _age(row) < high]
        median = statistics.median(group)
        assert abs(median / cited - 1) <= tolerance, (low, high, median, cited)


def test_tenure_rises_with_age(actives: list[dict[str, object]]) -> None:
    medians = [
        statistics.median(_tenure(row) for row in actives if low <= _age(row) < high)
        for low, high, _, _ in TENURE_BY_AGE
    ]
    assert medians == sorted(medians)


def test_opening_balances_match_how_america_saves(actives: list[dict[str, object]]) -> None:
    for group in AGE_GROUPS[1:]:  # under-25s: the 20–24 group carries the "under 25" figure
        balances = [
            float(row[OPENING_BALANCE])  # type: ignore[arg-type]
            for row in actives
            if group.low <= _age(row) < group.high and row["deferral_rate"] is not None
        ]
        median = statistics.median(balances)
        assert abs(median / group.balance_median - 1) <= 0.15, (group.low, median, group.balance_median)
    assert all(row[OPENING_BALANCE] == 0 for row in actives if row["deferral_rate"] is None)


def test_nobody_is_hired_before_18() -> None:
    rows = generate_census(20_000, seed=7).to_pylist()
    for row in rows:
        birth, hire = row["birth_date"], row["hire_date"]
        assert eighteenth_birthday(birth) <= hire <= EFFECTIVE, row
        assert row["termination_date"] is None or row["termination_date"] >= hire


def test_deterministic_in_seed_and_balances_change_no_other_column() -> None:
    first = generate_census(3_000, seed=11)
    assert generate_census(3_000, seed=11).equals(first)
    assert not generate_census(3_000, seed=12).equals(first)
    with_balances = generate_census(3_000, seed=11, opening_balances=True)
    assert with_balances.drop_columns([OPENING_BALANCE]).equals(first)
    assert generate_census(3_000, seed=11, opening_balances=True).equals(with_balances)


def test_legacy_reproduces_the_census_generated_before_issue_20() -> None:
    """The shipped census until issue #20 was `planalign census --employees 5000 --seed 2024` with the
    generator before it (commit 005b3ad's dbt_project/data/census.parquet); the legacy distribution gives
    it back: these figures were read from that file."""
    legacy = generate_census(5_000, seed=2024, distribution="legacy")
    assert legacy.column("annual_compensation").to_pylist()[:3] == [72151.97, 71291.68, 57641.31]
    assert round(sum(legacy.column("annual_compensation").to_pylist()), 2) == 454082892.81
    assert legacy.column("birth_date").to_pylist()[:2] == [date(1988, 10, 23), date(1993, 11, 25)]
    assert legacy.column("hire_date").to_pylist()[-1] == date(2022, 12, 23)
    ages = [_age(row) for row in legacy.to_pylist()]
    assert max(ages) <= 65.01
    assert sum(age >= 55 for age in ages) / len(ages) < 0.05  # the 4.2% the issue complains of


def test_cli_writes_a_census_check_accepts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "census.parquet"
    assert (
        main(["census", "--employees", "20000", "--seed", "5", "--opening-balances", "--out", str(out)]) == 0
    )
    table = pq.read_table(out)
    assert OPENING_BALANCE in table.column_names and table.num_rows == 20_000
    assert main(["census", "--check", str(out)]) == 0
    result = check_census(out, effective_date=EFFECTIVE)
    assert result.ok and result.rejected_rows == 0
    legacy = tmp_path / "legacy.csv"
    assert main(["census", "--employees", "50", "--distribution", "legacy", "--out", str(legacy)]) == 0
    assert tuple(pacsv.read_csv(legacy).column_names) == CENSUS_COLUMNS
    capsys.readouterr()


def test_an_unknown_distribution_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["census", "--distribution", "census2010", "--out", "x.csv"])
    assert exc.value.code == 2
    assert "census2010" in capsys.readouterr().err
