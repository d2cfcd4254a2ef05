"""Which server database an adapter writes to, and for how long what we learnt about it holds — the
`schema-cache` speed-up's key for server warehouses (its DuckDB key is the open database file,
`planalign.dbt.isolation.duckdb.open_connection_of`).

Why: `dbt run` lists (and creates) the target's schemas once per run, in `GraphRunnableTask.create_schemas`;
the engine makes one dbt invocation per model on a server warehouse (`planalign.dbt.workers`), so that same
listing ran once per model — a `list_schemas` macro call, each with its own macro context (~45–120 ms of this
process's CPU) and a round trip to the server. Measured on PostgreSQL (150 models, docs/benchmarks.md
"PostgreSQL: client CPU"): 150 `list_schemas` calls took ~18 s of the run's client CPU.

The key names the server database by the adapter type and the credentials' connection keys (dbt-adapters
`Credentials.connection_info()`: host, port, user, database, schema, ... — what `dbt debug` prints), so two
profiles pointing at the same database share it and two databases never do. The epoch is the engine run
(the caller's `planalign.engine.invocation.InvocationScope`): schemas known to exist are trusted until the
run ends, exactly as `dbt run` trusts its one listing for the whole run; the next run lists them again.
Outside an engine run (a whole dbt command through `DbtInvoker.invoke`, a test calling dbt directly) there is
no key, and dbt lists schemas as usual.

Relies on dbt-adapters' `Credentials.type` and `Credentials.connection_info(with_aliases=...)`, verified by
`check()` (run by the `schema-cache` speed-up's own check).
"""

from __future__ import annotations

from typing import Any


def check() -> list[str]:
    """What `server_database_of` relies on, as problems (empty: as expected)."""
    import inspect

    from dbt.adapters.contracts.connection import Credentials

    problems = [
        f"Credentials.{name} missing"
        for name in ("type", "connection_info")
        if not hasattr(Credentials, name)
    ]
    if not problems and "with_aliases" not in inspect.signature(Credentials.connection_info).parameters:
        problems.append("Credentials.connection_info no longer takes with_aliases")
    return problems


def server_database_of(adapter: Any) -> tuple[str, Any] | None:
    """(key naming the server database, the engine run it is trusted for) of a server adapter inside an
    engine run; None for DuckDB (keyed by its open file instead) and outside any engine run."""
    from planalign.engine.invocation import current_scope

    credentials = adapter.config.credentials
    if credentials.type == "duckdb":
        return None
    scope = current_scope()
    if scope is None:
        return None
    info = tuple((str(k), str(v)) for k, v in credentials.connection_info(with_aliases=False))
    return f"{credentials.type}:{info!r}", scope
