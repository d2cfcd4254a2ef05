"""Order-independent checksums of tables, to prove that two runs produced the same data.

A checksum is (row count, sum of the rows' hashes): independent of row order and of the physical layout, but
sensitive to every value of every row, including duplicates (which an XOR would cancel). Used by the
determinism and reliability tests and by the benchmarks ("a faster wrong answer does not count").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class TableChecksum:
    table: str
    rows: int
    digest: str


def table_checksum(con: duckdb.DuckDBPyConnection, table: str) -> TableChecksum:
    """Checksum of `table` (a name the connection resolves, e.g. `main.fct_yearly_events`)."""
    row = con.execute(
        f"select count(*), coalesce(sum(hash(t)::hugeint), 0) from {table} as t"  # t is the whole row
    ).fetchone()
    assert row is not None
    return TableChecksum(table=table, rows=int(row[0]), digest=format(int(row[1]) % (1 << 128), "032x"))


def database_checksums(database: Path, tables: Iterable[str]) -> dict[str, TableChecksum]:
    """Checksums of several tables of a database file, opened read-only."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        return {table: table_checksum(con, table) for table in tables}
    finally:
        con.close()
