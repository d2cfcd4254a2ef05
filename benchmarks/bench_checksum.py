"""Order-independent checksums of the simulation's result tables.

The benchmark compares five ways of running the same simulation; a faster way that produces a different
answer does not count. Rows come out in whatever order each way's execution happened to write them, so the
checksum must not depend on row order or on the physical column order — but it must notice a changed value,
a missing or duplicated row, and NULL versus the text 'NULL'.

Each row is rendered as canonical text (columns sorted by name, each `name=value`, NULL as a marker no value
can produce) and hashed; the table's checksum is the row count, the sum of the row hashes (as HUGEINT, so
duplicated rows add up instead of cancelling as they would under XOR) and the XOR of the row hashes.
Floating-point columns are rounded to `FLOAT_DIGITS` decimal places first: DuckDB's parallel aggregates may
sum doubles in a different order from one run to the next, which changes the last bits without changing the
answer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb

#: The tables every benchmark configuration must produce identically.
RESULT_TABLES: tuple[str, ...] = ("fct_yearly_events", "fct_workforce_snapshot")

#: The scenario label every model carries (docs/scenarios.md); excluded from checksums.
SCENARIO_COLUMN = "scenario_id"

#: Decimal places kept for FLOAT/DOUBLE columns (see the module docstring for why they are rounded at all).
FLOAT_DIGITS = 6

_NULL_MARKER = "\u2205NULL\u2205"
_FLOAT_TYPES = frozenset({"FLOAT", "DOUBLE", "REAL", "FLOAT4", "FLOAT8"})


class ChecksumError(Exception):
    """A result table is missing or ambiguous in the database being checked."""


@dataclass(frozen=True)
class TableChecksum:
    """The order-independent fingerprint of one table."""

    table: str
    rows: int
    sum_hash: str
    xor_hash: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _locate(con: duckdb.DuckDBPyConnection, table: str) -> tuple[str, str]:
    """Return (schema, name) of `table`; dbt may have put it in any schema of the database."""
    rows = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where lower(table_name) = lower(?) and table_catalog = current_database()",
        [table],
    ).fetchall()
    if not rows:
        raise ChecksumError(f"table {table!r} does not exist in the database")
    if len(rows) > 1:
        found = ", ".join(f"{s}.{t}" for s, t in rows)
        raise ChecksumError(
            f"table {table!r} exists in several schemas ({found}); cannot tell which to check"
        )
    schema, name = rows[0]
    return str(schema), str(name)


def _canonical_row_expression(columns: list[tuple[str, str]]) -> str:
    parts = []
    for name, data_type in sorted(columns, key=lambda c: c[0].lower()):
        column = _quote(name)
        if data_type.upper() in _FLOAT_TYPES:
            column = f"round({column}, {FLOAT_DIGITS})"
        value = f"coalesce(cast({column} as varchar), '{_NULL_MARKER}')"
        parts.append(f"'{name.lower()}=' || {value}")
    return "concat_ws(chr(31), " + ", ".join(parts) + ")"


def table_checksum(
    con: duckdb.DuckDBPyConnection, table: str, *, scenario_id: str | None = None
) -> TableChecksum:
    """Checksum one table reachable through `con` (located by name in any schema).

    The `scenario_id` column is a label, not a result, so it is never part of the checksum: a scenario in a
    sweep and a single run of that scenario must agree. With `scenario_id`, only that scenario's rows count.
    """
    schema, name = _locate(con, table)
    columns = [
        (str(col), str(dtype))
        for col, dtype in con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name = ? and table_catalog = current_database() "
            "order by ordinal_position",
            [schema, name],
        ).fetchall()
        if str(col).lower() != SCENARIO_COLUMN
    ]
    row_hash = f"hash({_canonical_row_expression(columns)})"
    where, params = (f" where {SCENARIO_COLUMN} = ?", [scenario_id]) if scenario_id is not None else ("", [])
    result = con.execute(
        f"select count(*), coalesce(sum({row_hash}::hugeint), 0), coalesce(bit_xor({row_hash}), 0) "
        f"from {_quote(schema)}.{_quote(name)}{where}",
        params,
    ).fetchone()
    assert result is not None  # an aggregate without GROUP BY always returns one row
    rows, sum_hash, xor_hash = result
    return TableChecksum(
        table=table, rows=int(rows), sum_hash=f"{int(sum_hash):x}", xor_hash=f"{int(xor_hash):x}"
    )


def database_checksum(
    database: Path, tables: tuple[str, ...] = RESULT_TABLES, *, scenario_id: str | None = None
) -> dict[str, TableChecksum]:
    """Checksum `tables` in the DuckDB file at `database`, opened read-only so a checksum never changes it."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        return {table: table_checksum(con, table, scenario_id=scenario_id) for table in tables}
    finally:
        con.close()


def checksums_equal(a: dict[str, TableChecksum], b: dict[str, TableChecksum]) -> bool:
    """True when both runs produced the same tables with the same fingerprints."""
    return a.keys() == b.keys() and all(a[t] == b[t] for t in a)


def describe_difference(
    name_a: str, a: dict[str, TableChecksum], name_b: str, b: dict[str, TableChecksum]
) -> str:
    """A human-readable line per differing table, for the mismatch message."""
    lines = []
    for table in sorted(a.keys() | b.keys()):
        left, right = a.get(table), b.get(table)
        if left == right:
            continue
        if left is None or right is None:
            lines.append(f"{table}: present only in {name_a if right is None else name_b}")
        elif left.rows != right.rows:
            lines.append(f"{table}: {name_a} has {left.rows} rows, {name_b} has {right.rows}")
        else:
            lines.append(f"{table}: same row count ({left.rows}) but different contents")
    return "; ".join(lines)
