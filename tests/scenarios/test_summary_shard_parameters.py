"""A `--keep summaries` shard sends the parameter tables sweep.json's designs are read from.

Before, a summary sweep's sweep.json said of every design "not kept: a --keep summaries sweep keeps only its
members' yearly figures": its shards sent back only the figures and the scenario dimension, so the merged
database had no `int_effective_*` rows to read each design's parameters from. The real sharded summary
sweep (tests/scenarios/test_sharding.py, `[local-summaries]`) checks the designs' parameters against the
one-pass sweep's; this file checks, without dbt, which tables travel with rows.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from planalign.scenarios.member_figures import SUMMARY_TABLE
from planalign.scenarios.shard_task import SUMMARY_KEPT, export_tables
from planalign.simulation.assumptions_resolve import PARAMETER_TABLES


def test_a_summary_shard_sends_the_parameter_tables_with_rows_and_no_member_table(tmp_path: Path) -> None:
    database = tmp_path / "shard.duckdb"
    with duckdb.connect(str(database)) as con:
        for name in (*PARAMETER_TABLES, SUMMARY_TABLE, "dim_scenarios", "fct_workforce_snapshot"):
            con.execute(f"create table {name} as select 'm1' as scenario_id, 2025 as simulation_year")
        con.execute("create table config_seed as select 1 as value")  # not per member: always sent
    tables = {t.name: t for t in export_tables(database, tmp_path / "export", SUMMARY_KEPT)}
    for name in (*PARAMETER_TABLES, SUMMARY_TABLE, "dim_scenarios", "config_seed"):
        assert tables[name].kept and tables[name].parquet, name
    assert not tables["fct_workforce_snapshot"].kept  # a member table stays in the shard
    assert tables["fct_workforce_snapshot"].parquet == b""
