"""The order-independent checksum must ignore row and column order but notice every real difference."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest
from bench_checksum import (
    ChecksumError,
    checksums_equal,
    database_checksum,
    describe_difference,
    table_checksum,
)

ROWS = [("E1", 2025, "hire", 50000.0), ("E2", 2025, "raise", 61000.5), ("E3", 2026, None, 70000.0)]


def _table(
    con: duckdb.DuckDBPyConnection, name: str, rows: Sequence[tuple[object, ...]], *, swap: bool = False
) -> None:
    if swap:
        con.execute(
            f"create table {name} (amount double, event_type varchar, simulation_year integer, id varchar)"
        )
        con.executemany(f"insert into {name} values (?, ?, ?, ?)", [tuple(reversed(r)) for r in rows])
    else:
        con.execute(
            f"create table {name} (id varchar, simulation_year integer, event_type varchar, amount double)"
        )
        if rows:
            con.executemany(f"insert into {name} values (?, ?, ?, ?)", rows)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def test_row_and_column_order_do_not_matter(con: duckdb.DuckDBPyConnection) -> None:
    _table(con, "a", ROWS)
    _table(con, "b", list(reversed(ROWS)), swap=True)
    a, b = table_checksum(con, "a"), table_checksum(con, "b")
    assert (a.rows, a.sum_hash, a.xor_hash) == (b.rows, b.sum_hash, b.xor_hash)


@pytest.mark.parametrize(
    "changed",
    [
        [("E1", 2025, "hire", 50000.01), *ROWS[1:]],  # one value
        ROWS[:2],  # a missing row
        [*ROWS, ROWS[0]],  # a duplicated row (XOR alone would not see a row added twice)
        [
            ("E1", 2025, "hire", 50000.0),
            ("E2", 2025, "raise", 61000.5),
            ("E3", 2026, "NULL", 70000.0),
        ],  # NULL
        [
            ("E1", 2025, "hire", 50000.0),
            ("E2", 2025, "raise", 61000.5),
            ("E3", 2026, "", 70000.0),
        ],  # '' vs NULL
        [(*r[:3], r[3]) for r in ROWS[:1]] + [("E2", 2026, "raise", 61000.5), ROWS[2]],  # a moved year
    ],
)
def test_any_real_difference_changes_the_checksum(
    con: duckdb.DuckDBPyConnection, changed: list[tuple[object, ...]]
) -> None:
    _table(con, "a", ROWS)
    _table(con, "b", changed)
    a, b = table_checksum(con, "a"), table_checksum(con, "b")
    assert (a.rows, a.sum_hash, a.xor_hash) != (b.rows, b.sum_hash, b.xor_hash)


def test_doubles_equal_after_rounding_compare_equal(con: duckdb.DuckDBPyConnection) -> None:
    _table(con, "a", [("E1", 2025, "hire", 0.1 + 0.2)])
    _table(con, "b", [("E1", 2025, "hire", 0.3)])
    assert table_checksum(con, "a").sum_hash == table_checksum(con, "b").sum_hash


def test_empty_table_has_a_checksum(con: duckdb.DuckDBPyConnection) -> None:
    _table(con, "a", [])
    result = table_checksum(con, "a")
    assert result.rows == 0 and result.sum_hash == "0"


def test_missing_and_ambiguous_tables_are_errors(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ChecksumError, match="does not exist"):
        table_checksum(con, "fct_yearly_events")
    con.execute("create schema other")
    _table(con, "main.t", ROWS)
    _table(con, "other.t", ROWS)
    with pytest.raises(ChecksumError, match="several schemas"):
        table_checksum(con, "t")


def test_database_checksum_reads_a_file_and_finds_tables_in_any_schema(tmp_path: Path) -> None:
    path = tmp_path / "results.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema simschema")
    _table(con, "simschema.fct_yearly_events", ROWS)
    _table(con, "main.fct_workforce_snapshot", ROWS[:1])
    con.close()
    first = database_checksum(path)
    assert {t: c.rows for t, c in first.items()} == {"fct_yearly_events": 3, "fct_workforce_snapshot": 1}
    assert checksums_equal(first, database_checksum(path))

    con = duckdb.connect(str(path))
    con.execute("delete from simschema.fct_yearly_events where id = 'E3'")
    con.close()
    second = database_checksum(path)
    assert not checksums_equal(first, second)
    assert describe_difference("A", first, "E", second) == "fct_yearly_events: A has 3 rows, E has 2"


def test_a_scenario_in_a_sweep_checksums_like_the_single_run_of_it(con: duckdb.DuckDBPyConnection) -> None:
    """The scenario label is not a result: a sweep's member must match its single run, and only its rows."""
    _table(con, "single", ROWS)
    con.execute(
        "create table sweep as select 'b' as scenario_id, * from single "
        "union all select 'a', id, simulation_year, event_type, amount + 1 from single"
    )
    con.execute("create table labelled as select 'x' as scenario_id, * from single")
    single = table_checksum(con, "single")
    assert table_checksum(con, "sweep", scenario_id="b") == replace(single, table="sweep")
    assert table_checksum(con, "sweep", scenario_id="a").sum_hash != single.sum_hash
    assert table_checksum(con, "labelled") == replace(single, table="labelled")
    assert table_checksum(con, "sweep", scenario_id="missing").rows == 0
