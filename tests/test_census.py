"""The census generator, its writer and the pre-flight check (no dbt involved)."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from planalign.cli import main
from planalign.errors import CensusError
from planalign.simulation.census import (
    BAD_ROW_KINDS,
    CENSUS_COLUMNS,
    check_census,
    generate_census,
    write_census,
)

EFFECTIVE = date(2024, 12, 31)
LEVEL_PAY = {
    1: (45_000, 65_000),
    2: (60_000, 90_000),
    3: (85_000, 130_000),
    4: (120_000, 180_000),
    5: (170_000, 550_000),  # executives above the level's 300k range
}


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


@pytest.fixture(scope="module")
def census() -> pa.Table:
    return generate_census(2000, seed=5)


def test_generator_is_deterministic_in_seed(census: pa.Table) -> None:
    assert generate_census(2000, seed=5).equals(census)
    assert not generate_census(2000, seed=6).equals(census)


def test_generated_census_has_the_census_columns_and_unique_ids(census: pa.Table) -> None:
    assert tuple(census.column_names) == CENSUS_COLUMNS
    ids = census.column("employee_id").to_pylist()
    assert len(set(ids)) == len(ids) == 2000


@pytest.fixture(scope="module")
def legacy_census() -> pa.Table:
    """The generator before issue #20, whose age range (20–65 by level) this module's realism test pins;
    the default distribution's calibration is tests/test_census_distribution.py."""
    return generate_census(2000, seed=5, distribution="legacy")


def test_generated_distributions_are_realistic(legacy_census: pa.Table) -> None:
    rows = legacy_census.to_pylist()
    actives = [r for r in rows if r["termination_date"] is None]
    history = [r for r in rows if r["termination_date"] is not None]
    assert 0 < len(history) < 0.1 * len(rows)
    for row in rows:
        assert 20 <= _age(row["birth_date"], EFFECTIVE) <= 65
        assert row["birth_date"] < row["hire_date"] <= EFFECTIVE
        low, high = LEVEL_PAY[row["job_level"]]
        assert low <= row["annual_compensation"] <= high
        if row["termination_date"] is not None:
            assert row["hire_date"] <= row["termination_date"] < EFFECTIVE
    enrolled_share = sum(r["deferral_rate"] is not None for r in rows) / len(rows)
    assert 0.55 <= enrolled_share <= 0.65
    levels = Counter(r["job_level"] for r in actives)
    assert set(levels) == {1, 2, 3, 4, 5}
    assert levels[1] > levels[3] > levels[5]
    tenures = sorted((EFFECTIVE - r["hire_date"]).days / 365.25 for r in actives)
    assert tenures[len(tenures) // 2] < 10 < tenures[-1]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_write_round_trips_and_checks_clean(tmp_path: Path, census: pa.Table, suffix: str) -> None:
    path = write_census(census, tmp_path / f"census{suffix}")
    reread = pacsv.read_csv(path) if suffix == ".csv" else pq.read_table(path)
    assert reread.num_rows == census.num_rows
    result = check_census(path, effective_date=EFFECTIVE, max_reject_share=0.01)
    assert (result.total_rows, result.rejected_rows, result.reasons, result.ok) == (2000, 0, {}, True)


def test_write_rejects_other_extensions(tmp_path: Path, census: pa.Table) -> None:
    with pytest.raises(CensusError, match=r"\.csv or \.parquet"):
        write_census(census, tmp_path / "census.xlsx")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_injected_bad_rows_are_each_rejected_with_their_reason(tmp_path: Path, suffix: str) -> None:
    bad = len(BAD_ROW_KINDS) * 2
    table = generate_census(300, seed=3, bad_rows=bad)
    assert table.num_rows == 300 + bad
    result = check_census(write_census(table, tmp_path / f"bad{suffix}"), effective_date=EFFECTIVE)
    duplicates = 2
    assert set(result.reasons) == set(BAD_ROW_KINDS)
    # every injected duplicate also rejects the row it copies
    assert result.reasons["duplicate_employee_id"] == 2 * duplicates
    assert all(count == 2 for kind, count in result.reasons.items() if kind != "duplicate_employee_id")
    assert result.rejected_rows == bad + duplicates
    assert not result.ok
    assert "raise census_max_reject_share" in result.describe()
    relaxed = check_census(tmp_path / f"bad{suffix}", effective_date=EFFECTIVE, max_reject_share=0.10)
    assert relaxed.ok


def test_check_reports_missing_file_and_bad_extension(tmp_path: Path) -> None:
    with pytest.raises(CensusError, match="does not exist"):
        check_census(tmp_path / "absent.csv", effective_date=EFFECTIVE, max_reject_share=0.01)
    (tmp_path / "census.json").write_text("{}")
    with pytest.raises(CensusError, match="unsupported extension"):
        check_census(tmp_path / "census.json", effective_date=EFFECTIVE, max_reject_share=0.01)


def test_check_reports_missing_columns_and_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "partial.csv").write_text("employee_id,birth_date\nE1,1980-01-01\n")
    with pytest.raises(CensusError, match="lacks the column"):
        check_census(tmp_path / "partial.csv", effective_date=EFFECTIVE, max_reject_share=0.01)
    (tmp_path / "broken.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(CensusError, match="cannot be read"):
        check_census(tmp_path / "broken.parquet", effective_date=EFFECTIVE, max_reject_share=0.01)


def test_effective_date_moves_the_hire_rule(tmp_path: Path) -> None:
    path = write_census(generate_census(200, seed=9), tmp_path / "c.csv")
    earlier = check_census(path, effective_date=date(2023, 12, 31), max_reject_share=1.0)
    hired_in_2024 = sum(
        1 for row in generate_census(200, seed=9).to_pylist() if row["hire_date"] > date(2023, 12, 31)
    )
    assert hired_in_2024 > 0
    assert earlier.reasons.get("hire_after_effective_date") == hired_in_2024


def test_cli_generates_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli.parquet"
    assert main(["census", "--employees", "50", "--seed", "1", "--out", str(out)]) == 0
    assert pq.read_table(out).num_rows == 50
    assert main(["census", "--check", str(out)]) == 0
    bad = tmp_path / "cli_bad.csv"
    assert main(["census", "--employees", "50", "--seed", "1", "--bad-rows", "3", "--out", str(bad)]) == 0
    # a census the run would refuse is bad input, as for the run: exit 2, the reasons on stderr
    assert main(["census", "--check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "rows rejected" in err and "Fix those rows" in err


def test_cli_usage_errors_exit_2(tmp_path: Path) -> None:
    assert main(["census", "--employees", "5", "--out", str(tmp_path / "c.txt")]) == 2
    assert main(["census", "--employees", "0", "--out", str(tmp_path / "c.csv")]) == 2
    assert main(["census", "--employees", "5"]) == 2
