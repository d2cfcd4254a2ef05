"""The catalog name DuckDB (and dbt-duckdb) give a database file, and the file names that cannot work.

DuckDB names a file's catalog after the first non-empty dot-separated part of the file name
(`sim.v2.duckdb` → `sim`), and dbt-duckdb derives the relation database the same way when it parses the
project; every relation name in the manifest carries that name. Three names DuckDB keeps for itself
(`system`, `temp`, `main`, in any case): it opens such a file as `<name>_db`, while dbt's relation names say
`<name>`, so every model would address DuckDB's own catalog. And dbt-duckdb writes the catalog name between
quotes in its SQL (`"<db>"."main"."t"`, `where table_catalog = '<db>'`) without escaping, so a quote in it
breaks the generated SQL. `catalog_problem` says why a file name is one of those, so the preflight can
refuse it before the ~35 s parse rather than after it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["RESERVED_CATALOGS", "catalog_name", "catalog_problem"]

#: Catalog names DuckDB reserves; a file named so gets `<name>_db` (compared case-insensitively).
RESERVED_CATALOGS = frozenset({"system", "temp", "main"})

#: Characters dbt-duckdb's generated SQL does not escape in a catalog name.
_UNQUOTABLE = frozenset("\"'`\\")


def catalog_name(path: Path | str) -> str:
    """The catalog name of the DuckDB file `path`: its file name up to the first dot, leading dots ignored
    (what DuckDB's attach and dbt-duckdb's `path_derived_database_name` both compute)."""
    return Path(path).name.lstrip(".").split(".")[0]


def catalog_problem(path: Path | str) -> str | None:
    """Why a simulation cannot use a DuckDB file named like `path` (a sentence naming the rule and a name
    that works), or None when the name is fine."""
    name = Path(path).name
    catalog = catalog_name(path)
    suffix = Path(path).suffix or ".duckdb"
    if not catalog:
        return (
            f"the file name {name!r} gives DuckDB no catalog name (the part before the first dot); "
            f"use a name such as simulation{suffix}"
        )
    if catalog.lower() in RESERVED_CATALOGS:
        return (
            f"DuckDB reserves the catalog name {catalog!r} (the file name up to its first dot): it would "
            f"open the file as {catalog}_db while dbt's relation names say {catalog}; use a name such as "
            f"{catalog}_simulation{suffix}"
        )
    bad = sorted({c for c in catalog if c in _UNQUOTABLE or not c.isprintable()})
    if bad:
        fixed = "".join("_" if c in bad else c for c in catalog)
        listed = ", ".join(map(repr, bad))
        return (
            f"the catalog name {catalog!r} (the file name up to its first dot) contains {listed}, "
            f"which dbt-duckdb writes unescaped into its SQL; use a name such as {fixed}{suffix}"
        )
    return None
