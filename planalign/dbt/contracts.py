"""The columns a dbt project promises for its incremental models under an enforced contract (the public
marts, `dbt_project/models/marts/`), read from dbt's parsed manifest.

dbt appends to an existing incremental table; with `on_schema_change: fail` a table that an earlier version
of the project built with other columns stops the run mid-way. The simulation compares these promises with
the tables a database already holds before any work (`planalign.simulation.year_plan.check_table_columns`).
"""

from __future__ import annotations

from typing import Any


def incremental_contract_columns(dbt_manifest: Any) -> dict[str, tuple[str, ...]]:
    """{relation name: declared columns, lower case, in order} of every incremental model with an enforced
    contract in dbt's in-memory `Manifest`; empty without one (a manifest read from JSON)."""
    if dbt_manifest is None:
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for node in dbt_manifest.nodes.values():
        config = getattr(node, "config", None)
        contract = getattr(config, "contract", None)
        relation = getattr(node, "relation_name", None)
        if (
            relation
            and getattr(config, "materialized", None) == "incremental"
            and getattr(contract, "enforced", False)
        ):
            out[str(relation)] = tuple(str(name).lower() for name in (getattr(node, "columns", None) or {}))
    return out
