"""Log every SQL statement dbt sends, with its node and time: `bench_query_log.py OUT.jsonl -m module ...`.

The profile of a model run (docs/benchmarks.md, "Where a model run goes") needs to know how many statements a
materialization issues per model and how long DuckDB takes for them, apart from dbt's Python around them.
dbt-adapters sends every statement of a SQL adapter through `SQLConnectionManager.add_query(sql, ...)`; this
wrapper times each call and writes one JSON line per statement: the connection's name (dbt names a node's
connection after the node's unique_id), the statement's first words, and the seconds it took. Run it like
bench_profile: `python benchmarks/bench_query_log.py q.jsonl -m planalign simulate --config ...`, then
`python benchmarks/bench_query_log.py --summary q.jsonl` for statements per node kind and their time.
"""

from __future__ import annotations

import json
import re
import runpy
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_lock = threading.Lock()


def _kind(sql: str) -> str:
    """The statement's kind: its first keywords with relation names dropped (`create table`, `alter table
    rename`, `select ... information_schema`)."""
    text = re.sub(r"/\*.*?\*/", " ", sql, flags=re.S)
    text = re.sub(r"--[^\n]*", " ", text).strip().lower()
    words = text.split()
    if not words:
        return "(empty)"
    head = words[0]
    if head in ("create", "drop"):
        keep = ("or", "replace", "temp", "temporary", "table", "view", "schema")
        kept = [w for w in words[1:4] if w in keep]
        return " ".join([head, *kept, *(["if exists"] if "exists" in words[1:6] else [])])
    if head == "alter":
        return "alter " + ("rename" if "rename" in words[:8] else " ".join(words[1:2]))
    if head in ("select", "with"):
        for marker in (
            "information_schema",
            "duckdb_indexes",
            "duckdb_constraints",
            "duckdb_tables",
            "duckdb_views",
            "system.",
            "pragma_",
        ):
            if marker in text[:600]:
                return f"select ({marker.rstrip('.')})"
        return "select"
    return head


def install(out: Path) -> None:
    from dbt.adapters.sql.connections import SQLConnectionManager

    original = SQLConnectionManager.add_query
    stream = out.open("w")

    def add_query(self: Any, sql: str, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(self, sql, *args, **kwargs)
        finally:
            elapsed = time.perf_counter() - started
            try:
                name = self.get_thread_connection().name
            except Exception:  # no connection (failed open): still log the statement
                name = None
            line = json.dumps({"node": name, "kind": _kind(sql), "s": round(elapsed, 6), "sql": sql[:200]})
            with _lock:
                stream.write(line + "\n")
                stream.flush()

    SQLConnectionManager.add_query = add_query  # type: ignore[method-assign]


def summary(path: Path) -> str:
    """Statements per node kind (model, test, seed, other) and per statement kind, with their seconds."""
    per_kind: Counter[str] = Counter()
    seconds: defaultdict[str, float] = defaultdict(float)
    nodes: defaultdict[str, set[str]] = defaultdict(set)
    statements: Counter[tuple[str, str]] = Counter()
    statement_s: defaultdict[tuple[str, str], float] = defaultdict(float)
    for raw in path.read_text().splitlines():
        row = json.loads(raw)
        node = row["node"] or "?"
        group = node.split(".")[0] if "." in node else "other"
        per_kind[group] += 1
        seconds[group] += row["s"]
        nodes[group].add(node)
        statements[(group, row["kind"])] += 1
        statement_s[(group, row["kind"])] += row["s"]
    lines = ["| node kind | nodes | statements | per node | seconds |", "|---|---:|---:|---:|---:|"]
    for group, count in per_kind.most_common():
        n = len(nodes[group])
        lines.append(f"| {group} | {n} | {count} | {count / max(n, 1):.1f} | {seconds[group]:.2f} |")
    lines += ["", "| node kind | statement | count | seconds |", "|---|---|---:|---:|"]
    for (group, kind), count in statements.most_common():
        lines.append(f"| {group} | `{kind}` | {count} | {statement_s[(group, kind)]:.2f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 2 and args[0] == "--summary":
        print(summary(Path(args[1])))
        return 0
    if len(args) < 3 or args[1] != "-m":
        usage = "usage: bench_query_log.py OUT.jsonl -m MODULE [ARGS...] | --summary OUT.jsonl"
        print(usage, file=sys.stderr)
        return 2
    out, module, program_args = Path(args[0]), args[2], args[3:]
    install(out)
    sys.argv = [module, *program_args]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
