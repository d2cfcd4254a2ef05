"""The census: a synthetic generator and a pre-flight check of a census file.

The generator exists so the simulation runs out of the box and so tests can build censuses of any size
with known defects. The pre-flight check applies exactly the bad-row rules the dbt project applies: it
renders `dbt_project/macros/census_rules.sql` (the file reader, the text projection and the rules, the
macros `stg_census_rows` uses) with plain jinja2 and runs them on an in-memory DuckDB, so a user learns
about a broken census before a run starts, without touching the simulation database, and the check and
the run cannot disagree about a row.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import jinja2
import pyarrow as pa

from planalign.errors import CensusError
from planalign.simulation.census_population import (
    DISTRIBUTIONS,
    CensusDistribution,
    add_opening_balances,
    bls_row,
    legacy_row,
)

#: The census columns, in file order.
CENSUS_COLUMNS: tuple[str, ...] = (
    "employee_id",
    "birth_date",
    "hire_date",
    "termination_date",
    "annual_compensation",
    "job_level",
    "deferral_rate",
)
#: The optional census column of balances on the effective date (`generate_census(opening_balances=True)`).
OPENING_BALANCE = "opening_balance"

#: Where the single definition of the bad-row rules lives: the simulation's dbt project, which ships beside
#: the package in this repository (a run passes its configured project's file instead).
DEFAULT_RULES_PATH = Path(__file__).resolve().parents[2] / "dbt_project" / "macros" / "census_rules.sql"

SUPPORTED_SUFFIXES = (".csv", ".parquet")

#: What each reject reason means for the user: the field at fault and what a good value looks like.
REASON_FIXES: dict[str, str] = {
    "missing_employee_id": "employee_id must not be empty",
    "formula_employee_id": "employee_id must not begin with =, +, -, @, a tab or a carriage return: a "
    "spreadsheet opening an export would run it as a formula; rename it",
    "duplicate_employee_id": "employee_id must be unique (every copy is rejected)",
    "reserved_employee_id": "employee_id must not look like NH<year>_<number>, the ids the simulation "
    "gives its hires; rename it",
    "invalid_birth_date": "birth_date must be a date (YYYY-MM-DD)",
    "invalid_hire_date": "hire_date must be a date (YYYY-MM-DD)",
    "invalid_termination_date": "termination_date must be empty or a date (YYYY-MM-DD)",
    "missing_compensation": "annual_compensation must be a number",
    "non_positive_compensation": "annual_compensation must be above 0",
    "implausible_compensation": "annual_compensation must be a finite annual pay rate of at most "
    "1,000,000,000 (not NaN or infinite)",
    "invalid_job_level": "job_level must be a whole number from 1 to 5",
    "invalid_deferral_rate": "deferral_rate must be empty or a number from 0 to 1",
    "invalid_opening_balance": "opening_balance (optional) must be empty or a number from 0 to 1,000,000,000",
    "invalid_ownership_share": "ownership_share (optional) must be empty or a number from 0 to 1",
    "invalid_prior_year_compensation": (
        "prior_year_compensation (optional) must be empty or a number from 0 to 1,000,000,000"
    ),
    "implausible_birth_date": "birth_date must be in 1900 or later and at least 14 years before the "
    "effective date",
    "hire_after_effective_date": "hire_date must be on or before the effective date",
    "termination_before_hire": "termination_date must not be before hire_date",
    "birth_not_before_hire": "birth_date must be before hire_date",
}

#: How many rejected rows a check names (by row number and id) in its message.
EXAMPLE_ROWS = 3

#: Defect kinds `generate_census(bad_rows=...)` injects, in rotation. Each name is the reject reason the
#: rules give the injected row.
BAD_ROW_KINDS: tuple[str, ...] = (
    "duplicate_employee_id",
    "missing_compensation",
    "non_positive_compensation",
    "hire_after_effective_date",
    "termination_before_hire",
    "invalid_job_level",
    "invalid_birth_date",
)


@dataclass(frozen=True)
class RejectedRow:
    """One rejected census row: its 1-based data row in the file (the header is not counted), its id as
    written (None when missing) and the first reason that applies."""

    row: int
    employee_id: str | None
    reason: str


@dataclass(frozen=True)
class CensusCheck:
    """Outcome of the pre-flight census check. `examples` are the first rejected rows of each reason
    (up to `EXAMPLE_ROWS` each), in file order."""

    path: Path
    total_rows: int
    rejected_rows: int
    reasons: dict[str, int] = field(default_factory=dict)
    max_reject_share: float = 0.01
    examples: tuple[RejectedRow, ...] = ()

    @property
    def reject_share(self) -> float:
        return self.rejected_rows / self.total_rows if self.total_rows else 1.0

    @property
    def ok(self) -> bool:
        """True when the run would accept the census (it has rows and few enough are rejected)."""
        return self.total_rows > 0 and self.rejected_rows <= self.max_reject_share * self.total_rows

    def describe(self) -> str:
        """An explanation for users: counts, then one line per reason naming the field, what a good value
        is and the first rows it applies to, then what to do."""
        if self.total_rows == 0:
            return f"census {self.path} has no rows"
        text = (
            f"census {self.path}: {self.rejected_rows} of {self.total_rows} rows rejected "
            f"({self.reject_share:.2%}, limit {self.max_reject_share:.2%})"
        )
        for reason, count in sorted(self.reasons.items()):
            rows = [e for e in self.examples if e.reason == reason]
            where = ", ".join(f"row {e.row} (employee_id {e.employee_id!r})" for e in rows)
            more = ", ..." if count > len(rows) else ""
            fix = REASON_FIXES.get(reason, "see dq_census_rejects")
            text += f"\n  {reason}: {count} — {fix}; {where}{more}"
        if not self.ok:
            text += "\nFix those rows or raise census_max_reject_share."
        return text


def census_rules(rules_path: Path = DEFAULT_RULES_PATH) -> Any:
    """The macros of `census_rules.sql` as a jinja2 module (attributes are the macros, callable)."""
    try:
        source = rules_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CensusError(f"cannot read the census rules at {rules_path}: {exc}") from exc
    return jinja2.Environment(autoescape=False).from_string(source).module


def _reader_sql(path: Path, rules: Any) -> str:
    reader = str(rules.census_reader(str(path))).strip()
    if not reader:
        raise CensusError(
            f"census file {path} has an unsupported extension {path.suffix or '(none)'!r}; "
            "use a .csv file with a header row or a .parquet file"
        )
    return reader


def check_census(
    path: Path,
    *,
    effective_date: date = date(2024, 12, 31),
    max_reject_share: float = 0.01,
    rules_path: Path = DEFAULT_RULES_PATH,
    examples_per_reason: int = EXAMPLE_ROWS,
) -> CensusCheck:
    """Apply the census bad-row rules to `path` on an in-memory DuckDB and count rejects by reason.

    Raises `CensusError` when the file is missing, has an unsupported extension, cannot be read or lacks
    census columns. A census with too many bad rows is not an error here: the result's `ok` is False.
    The result names the first `examples_per_reason` rejected rows of each reason.
    """
    import duckdb

    path = Path(path)
    rules = census_rules(rules_path)
    reader = _reader_sql(path, rules)
    if not path.is_file():
        raise CensusError(
            f"census file {path} does not exist; point census_path at your census "
            f"or generate one with `python -m planalign census --employees 5000 --out {path}`"
        )
    reason_sql = str(rules.census_reject_reason(effective_date.isoformat()))
    connection = duckdb.connect(":memory:")
    try:
        try:
            # Lower-cased: DuckDB binds column names case-insensitively, so the staging model reads an
            # `EMPLOYEE_ID` header as employee_id; the check must accept what the run reads.
            present = {
                str(row[0]).lower()
                for row in connection.execute(f"describe select * from {reader}").fetchall()
            }
        except duckdb.Error as exc:
            # DuckDB's message continues with the SQL it ran, which would only confuse the user.
            reason = str(exc).strip().splitlines()[0]
            raise CensusError(
                f"census file {path} cannot be read: {reason}. A census must be a CSV or Parquet file with "
                f"the columns {', '.join(CENSUS_COLUMNS)}; check the path, or regenerate it with "
                "`python -m planalign census`"
            ) from exc
        missing = [column for column in CENSUS_COLUMNS if column not in present]
        if missing:
            raise CensusError(
                f"census file {path} lacks the column(s) {', '.join(missing)}; "
                f"a census needs {', '.join(CENSUS_COLUMNS)}"
            )
        # row_number() over the scan, before any window: file order (DuckDB preserves insertion order)
        connection.execute(
            f"create temp table checked as with raw as (select {rules.census_projection()}, "
            f"row_number() over () as census_row from {reader}) "
            f"select census_row, employee_id, {reason_sql} as reject_reason from raw"
        )
        rows = connection.execute("select reject_reason, count(*) from checked group by 1").fetchall()
        examples = connection.execute(
            "select census_row, employee_id, reject_reason from checked where reject_reason is not null "
            "qualify row_number() over (partition by reject_reason order by census_row) <= ? "
            "order by census_row",
            [examples_per_reason],
        ).fetchall()
    except duckdb.Error as exc:
        raise CensusError(f"census file {path} cannot be checked: {str(exc).splitlines()[0]}") from exc
    finally:
        connection.close()
    reasons = {str(reason): int(count) for reason, count in rows if reason is not None}
    total = sum(int(count) for _, count in rows)
    return CensusCheck(
        path=path,
        total_rows=total,
        rejected_rows=sum(reasons.values()),
        reasons=reasons,
        max_reject_share=max_reject_share,
        examples=tuple(RejectedRow(int(r), None if i is None else str(i), str(k)) for r, i, k in examples),
    )


def _bad_row(kind: str, template: dict[str, Any], index: int, effective_date: date) -> dict[str, Any]:
    row = dict(template)
    row["employee_id"] = f"BAD{index:06d}"
    if kind == "duplicate_employee_id":
        row["employee_id"] = template["employee_id"]
    elif kind == "missing_compensation":
        row["annual_compensation"] = None
    elif kind == "non_positive_compensation":
        row["annual_compensation"] = -1000.0
    elif kind == "hire_after_effective_date":
        row["hire_date"] = effective_date + timedelta(days=30)
        row["termination_date"] = None
    elif kind == "termination_before_hire":
        row["termination_date"] = template["hire_date"] - timedelta(days=10)
    elif kind == "invalid_job_level":
        row["job_level"] = 7
    elif kind == "invalid_birth_date":
        row["birth_date"] = "not-a-date"
    else:
        raise ValueError(f"unknown bad-row kind {kind!r}")
    return row


def generate_census(
    n: int,
    seed: int,
    effective_date: date = date(2024, 12, 31),
    *,
    bad_rows: int = 0,
    terminated_share: float = 0.04,
    distribution: CensusDistribution = "bls",
    opening_balances: bool = False,
) -> pa.Table:
    """A realistic synthetic census of `n` employees as of `effective_date`, deterministic in `seed`.

    `distribution` "bls" (default): age, tenure (consistent with age) and level by age from published
    workforce tables (`census_population`, docs/methodology.md); "legacy": the generator before issue #20,
    row for row. Pay is triangular inside each level's range (a fifth of directors are executives paid
    300k–550k), about 60% already enrolled, and about `terminated_share` of rows terminated in the year
    before the effective date (history, not actives). `opening_balances` adds the optional
    `opening_balance` column (How America Saves 2025 by age; 0 for the not enrolled) without changing any
    other column. `bad_rows` appends that many defective rows, cycling through `BAD_ROW_KINDS`; an injected
    duplicate also makes the row it copies a reject.
    """
    if n < 1:
        raise CensusError(f"a census needs at least one employee, got --employees {n}")
    if bad_rows < 0:
        raise CensusError(f"--bad-rows must be zero or more, got {bad_rows}")
    if distribution not in DISTRIBUTIONS:
        raise CensusError(
            f"unknown census distribution {distribution!r}; use one of {', '.join(DISTRIBUTIONS)}"
        )
    draw = bls_row if distribution == "bls" else legacy_row
    rng = random.Random(seed)
    rows = [draw(index, rng, effective_date, terminated_share) for index in range(1, n + 1)]
    if opening_balances:
        add_opening_balances(rows, seed, effective_date)
    # distinct templates, so each injected duplicate makes exactly one more reject
    templates = rng.sample(range(n), min(bad_rows, n))
    for position in range(bad_rows):
        kind = BAD_ROW_KINDS[position % len(BAD_ROW_KINDS)]
        template = rows[templates[position % len(templates)]]
        rows.append(_bad_row(kind, template, position + 1, effective_date))
    return _to_table(rows)


def _column_type(values: Sequence[Any]) -> pa.DataType:
    present = [value for value in values if value is not None]
    if all(isinstance(value, date) for value in present):
        return pa.date32()
    if all(isinstance(value, int) and not isinstance(value, bool) for value in present):
        return pa.int32()
    if all(isinstance(value, int | float) and not isinstance(value, bool) for value in present):
        return pa.float64()
    return pa.string()


def _to_table(rows: Sequence[dict[str, Any]]) -> pa.Table:
    columns: dict[str, pa.Array] = {}
    optional = [OPENING_BALANCE] if rows and OPENING_BALANCE in rows[0] else []
    for column in (*CENSUS_COLUMNS, *optional):
        values = [row[column] for row in rows]
        kind = _column_type(values)
        if kind == pa.string():
            values = [None if value is None else str(value) for value in values]
        columns[column] = pa.array(values, type=kind)
    return pa.table(columns)


def write_census(table: pa.Table, path: Path) -> Path:
    """Write a census table as CSV or Parquet, chosen by the file extension; returns the path written."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise CensusError(
            f"cannot write a census to {path}: the extension must be .csv or .parquet, "
            f"not {path.suffix or '(none)'!r}"
        )
    from planalign.simulation.preflight import unwritable_reason

    problem = unwritable_reason(path)
    if problem is not None:
        raise CensusError(f"cannot write a census to {path}: {problem}; give --out a writable path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".csv":
            import pyarrow.csv as pacsv

            pacsv.write_csv(table, path)
        else:
            import pyarrow.parquet as pq

            pq.write_table(table, path)
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise CensusError(
            f"cannot write a census to {path}: {reason}"
            f"{f' ({exc.filename})' if exc.filename else ''}; give --out a path in a writable directory"
        ) from exc
    return path
