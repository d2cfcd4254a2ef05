"""`planalign census --check` and the run apply the same census rules: the same bad rows, each with the same
reason, on the same file — and every row the rules accept is one `stg_census_data` can type (a row that
passed the check used to crash the run: a blank termination date, pay of 1e20).

Real dbt, staging models only, on files holding one row of every defect next to good rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from planalign.simulation.census import check_census, generate_census, write_census

from .simulation_support import DbtWorkspace

pytestmark = pytest.mark.slow

EFFECTIVE = dt.date(2024, 12, 31)
STAGING = ("--select", "dim_scenarios", "stg_census_rows", "stg_census_data", "dq_census_rejects")

#: employee_id → (column, text) of one defective row each, and the reason both sides must give it.
CSV_DEFECTS: dict[str, tuple[str, str, str]] = {
    "NH2025_000001": ("employee_id", "NH2025_000001", "reserved_employee_id"),
    "=1+1": ("employee_id", "=1+1", "formula_employee_id"),
    "+1": ("employee_id", "+1", "formula_employee_id"),
    "-1": ("employee_id", "-1", "formula_employee_id"),
    "@A1": ("employee_id", "@A1", "formula_employee_id"),
    "X_pay_1e20": ("annual_compensation", "1e20", "implausible_compensation"),
    "X_pay_nan": ("annual_compensation", "nan", "implausible_compensation"),
    "X_pay_inf": ("annual_compensation", "inf", "implausible_compensation"),
    "X_pay_minus_inf": ("annual_compensation", "-inf", "non_positive_compensation"),
    "X_level_1_6": ("job_level", "1.6", "invalid_job_level"),
    "X_level_0": ("job_level", "0", "invalid_job_level"),
    "X_deferral_nan": ("deferral_rate", "nan", "invalid_deferral_rate"),
    "X_born_24": ("birth_date", "0024-03-01", "implausible_birth_date"),
    "X_born_1899": ("birth_date", "1899-12-31", "implausible_birth_date"),
    "X_aged_10": ("birth_date", "2014-06-01", "implausible_birth_date"),
    "X_bad_termination": ("termination_date", "2024-02-30", "invalid_termination_date"),
}
#: Rows that are good although they look odd: blank text means empty.
CSV_ODD_BUT_GOOD: dict[str, tuple[str, str]] = {
    "X_blank_termination": ("termination_date", " "),
    "X_blank_deferral": ("deferral_rate", "  "),
    "X_level_2_0": ("job_level", "2.0"),
}


def _good_rows(n: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = generate_census(n, seed=21).to_pylist()
    for row in rows:  # nobody too young, so the odd-but-good rows' other fields never trip a rule
        row["birth_date"] = min(row["birth_date"], dt.date(1990, 1, 1))
        row["hire_date"] = max(row["hire_date"], dt.date(2010, 1, 1))
        if row["termination_date"] is not None:
            row["termination_date"] = max(row["termination_date"], row["hire_date"])
    return rows


def _csv(path: Path, rows: list[dict[str, Any]], edits: dict[str, tuple[str, str]]) -> Path:
    header = list(rows[0])
    lines = [",".join(header)]
    for index, (employee_id, (column, text)) in enumerate(edits.items()):
        cells = {k: "" if v is None else str(v) for k, v in rows[index].items()}
        cells["employee_id"] = employee_id
        cells[column] = text
        lines.append(",".join(cells[h] for h in header))
    for row in rows[len(edits) :]:
        lines.append(",".join("" if row[h] is None else str(row[h]) for h in header))
    path.write_text("\n".join(lines) + "\n")
    return path


def _dbt_rejects(workspace: DbtWorkspace, census: Path) -> dict[str, str]:
    workspace.dbt(
        "run", *STAGING, vars={"census_path": str(census), "census_max_reject_share": 1.0}
    )  # check=True: stg_census_data must type every row the rules accept
    with workspace.connect() as connection:
        rejects = dict(
            connection.execute("select employee_id, reject_reason from dq_census_rejects").fetchall()
        )
        kept = {r[0] for r in connection.execute("select employee_id from stg_census_data").fetchall()}
        total = connection.execute("select count(*) from stg_census_rows").fetchone()
    assert total is not None and total[0] == len(rejects) + len(kept)
    return rejects


def _check_rejects(census: Path) -> dict[str, str]:
    result = check_census(census, effective_date=EFFECTIVE, max_reject_share=1.0, examples_per_reason=10_000)
    assert result.rejected_rows == len(result.examples)
    return {str(e.employee_id): e.reason for e in result.examples}


def test_check_and_run_reject_the_same_csv_rows_for_the_same_reasons(
    workspace_factory: Callable[[str], DbtWorkspace], tmp_path: Path
) -> None:
    census = _csv(tmp_path / "census.csv", _good_rows(60), {**{k: v[:2] for k, v in CSV_DEFECTS.items()},
                                                            **CSV_ODD_BUT_GOOD})  # fmt: skip
    expected = {employee_id: reason for employee_id, (_, _, reason) in CSV_DEFECTS.items()}
    assert _check_rejects(census) == expected
    assert _dbt_rejects(workspace_factory("agree_csv"), census) == expected


def test_check_and_run_agree_on_parquet_blanks_and_non_finite_pay(
    workspace_factory: Callable[[str], DbtWorkspace], tmp_path: Path
) -> None:
    rows = _good_rows(60)
    table = pa.Table.from_pylist(rows)
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    columns["termination_date"] = ["" if v is None else v.isoformat() for v in columns["termination_date"]]
    for index, value in enumerate([1e20, float("nan"), float("inf")]):
        columns["annual_compensation"][index] = value
    columns["employee_id"][3] = "NH2031_1234567"
    census = tmp_path / "census.parquet"
    pq.write_table(pa.table(columns), census)
    expected = {
        rows[0]["employee_id"]: "implausible_compensation",
        rows[1]["employee_id"]: "implausible_compensation",
        rows[2]["employee_id"]: "implausible_compensation",
        "NH2031_1234567": "reserved_employee_id",
    }
    assert _check_rejects(census) == expected
    assert _dbt_rejects(workspace_factory("agree_parquet"), census) == expected


def test_the_run_reads_a_census_path_with_glob_characters_literally(
    workspace_factory: Callable[[str], DbtWorkspace], tmp_path: Path
) -> None:
    literal = write_census(generate_census(30, seed=5), tmp_path / "census[1].parquet")
    write_census(generate_census(50, seed=6), tmp_path / "census1.parquet")  # what the glob matched
    workspace = workspace_factory("glob_path")
    workspace.dbt("run", *STAGING, vars={"census_path": str(literal)})
    with workspace.connect() as connection:
        assert connection.execute("select count(*) from stg_census_rows").fetchone() == (30,)
    assert check_census(literal, effective_date=EFFECTIVE).total_rows == 30


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_check_and_run_read_upper_case_headers_like_lower_case_ones(
    workspace_factory: Callable[[str], DbtWorkspace], tmp_path: Path, suffix: str
) -> None:
    """Issue #19 (item 8): `EMPLOYEE_ID` is the column employee_id for the run (DuckDB binds names
    case-insensitively) and so for the check too: both reject the same rows as in the lower-case file."""
    lower = _csv(tmp_path / "lower.csv", _good_rows(40), {k: v[:2] for k, v in CSV_DEFECTS.items()})
    header, _, rest = lower.read_text().partition("\n")
    upper = tmp_path / f"upper{suffix}"
    if suffix == ".csv":
        upper.write_text(header.upper() + "\n" + rest)
    else:
        columns = ", ".join(f'{c} as "{c.upper()}"' for c in header.split(","))
        with duckdb.connect() as connection:  # the same text, in a Parquet file whose columns are upper case
            connection.execute(
                f"copy (select {columns} from read_csv('{lower}', header = true, all_varchar = true)) "
                f"to '{upper}' (format parquet)"
            )
    expected = {employee_id: reason for employee_id, (_, _, reason) in CSV_DEFECTS.items()}
    assert _check_rejects(upper) == expected
    assert _dbt_rejects(workspace_factory(f"upper_{suffix[1:]}"), upper) == expected
