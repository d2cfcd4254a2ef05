import duckdb

from planalign.simulation.checksum import table_checksum


def _con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create table a as select range as i, range * 1.5 as d, 'x' || range as s from range(500)")
    return con


def test_checksum_ignores_row_order() -> None:
    con = _con()
    con.execute("create table b as select * from a order by s desc")
    assert table_checksum(con, "a").digest == table_checksum(con, "b").digest


def test_checksum_sees_a_changed_value_and_a_duplicate_row() -> None:
    con = _con()
    base = table_checksum(con, "a")
    con.execute("create table changed as select i, case when i = 7 then d + 0.5 else d end as d, s from a")
    con.execute("create table doubled as select * from a union all select * from a where i = 3")
    assert table_checksum(con, "changed").digest != base.digest
    dup = table_checksum(con, "doubled")
    assert dup.rows == base.rows + 1 and dup.digest != base.digest
