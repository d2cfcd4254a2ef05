"""The vars a parse sees: the run's, with the file paths the project reads only at run time replaced by
stand-ins, so that one parse (and its partial-parse cache) serves every run whose other vars are the same.

Why: dbt keeps a saved parse only when the parse's `--vars` and profile are exactly those it was saved with
(`build_manifest_state_check`: a hash of the CLI vars and one of the profile's connection keys — for
dbt-duckdb the database `path`), and planalign's cache is keyed the same way. A simulation's vars carry
its census and database paths, which differ between runs (every test, every shard, every `--database`),
so every run parsed in full (3-7 s of CPU) although a path changes nothing dbt keeps from a parse.

What dbt fixes at parse time, and why a stand-in path is safe for these vars:
- A model's SQL is rendered at parse time only to find its `ref`/`source`/`config` calls; the rendered SQL
  is thrown away and rendered again, with the run's vars, when the model runs (`dbtRunner(manifest=...)`
  compiles every node it runs). A var used only in the SQL body therefore reaches the database with the
  run's value whatever the parse saw.
- What the parse keeps — `config()` values, `ref`/`source` targets, schema and alias, data-test arguments,
  and each relation's `database` — is fixed. For dbt-duckdb the relation database is the catalog name of
  the profile's `path` (`planalign.dbt.catalog`): the database's stand-in keeps the file name, so it keeps
  the catalog (a run on `a/sim.duckdb` and one on `b/sim.duckdb` share a parse; `other.duckdb` does not).
- A project that does bake such a var into what the parse keeps (a `config(alias=var('census_path'))`)
  would carry the stand-in: `stand_in_leaks` finds it, and the caller parses again with the real vars.

The stand-in directory is a fixed absolute path nothing is written to: dbt's parse opens neither the
census nor the database (it runs no query), and every run after the parse renders the profile again with
its own `database_path`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from pathlib import PurePosixPath
from typing import Any

__all__ = ["DATABASE_VAR", "STAND_IN_DIR", "stand_in_leaks", "stand_in_vars"]

#: Where the stand-in paths point: the same on every machine and run, and never created.
STAND_IN_DIR = "/planalign-parse-stand-in"

#: The var the profile convention of planalign's projects names the DuckDB file with (`DbtInvoker`): its
#: stand-in keeps the whole file name, whose catalog name is every relation's database.
DATABASE_VAR = "database_path"


def stand_in_vars(vars: Mapping[str, Any] | None, path_vars: Collection[str]) -> dict[str, Any]:
    """`vars` with each of `path_vars` that is set replaced by a stand-in under `STAND_IN_DIR`: the database
    (`DATABASE_VAR`) keeps its file name (its catalog name), any other path only its suffix (`.parquet`), so
    runs on differently named census files share a parse too. Unset or null vars stay as they are, and so
    does a database that is not a local file (`:memory:`, `md:...`): its catalog is named otherwise."""
    out = dict(vars or {})
    for name in path_vars:
        value = out.get(name)
        if value is None or (name == DATABASE_VAR and not _local_file(str(value))):
            continue
        path = PurePosixPath(str(value))
        file_name = path.name if name == DATABASE_VAR else f"file{path.suffix}"
        out[name] = f"{STAND_IN_DIR}/{name}/{file_name}"
    return out


def _local_file(path: str) -> bool:
    return bool(path) and ":" not in path.split("/", 1)[0]


def stand_in_leaks(dbt_manifest: Any, texts: Collection[str] = ()) -> list[str]:
    """The unique_ids of the parsed nodes and sources whose parsed state (config, relation name, test
    arguments, description, ...) carries a stand-in path, or one of `texts` (other values the parse saw
    instead of the run's, such as another shard's member ids): the project uses such a var at parse time,
    so a parse with stand-ins is not the run's parse. A node's unrendered SQL (`raw_code`) names the var,
    never its value, so a hit is a rendered value."""
    markers = (STAND_IN_DIR, *texts)
    leaks = []
    for collection in (dbt_manifest.nodes, dbt_manifest.sources):
        for unique_id, node in collection.items():
            state = node.to_dict(omit_none=True)
            state.pop("raw_code", None)
            text = json.dumps(state, default=str)
            if any(marker in text for marker in markers):
                leaks.append(unique_id)
    return sorted(leaks)
