"""Configuration E — the SQL floor: the simulation's compiled SQL executed through the duckdb client, no dbt.

E answers "how long does the SQL itself take?", the time no orchestration can remove. The harness compiles
the project with `dbt compile --vars ...` for each year just before that year is executed (compilation is
not timed: `is_incremental()` is decided at compile time from the database's state, so compiling a year
against the database as the previous year left it is what makes the SQL right). `build_year_plan` turns the
compiled manifest into a `FloorPlan` — seeds, then models in topological order, then the year's data tests —
and this module, run as a child process (`python bench_sql_floor.py PLAN.json DATABASE RESULT.json`),
executes the plan and reports the time of the SQL phase alone.

Materializations are done by hand, the way dbt-duckdb does them:
- seed: `read_csv` with dbt's seed typing (integers INTEGER, decimals DOUBLE; `column_types` honoured);
- view: `create or replace view R as <sql>`;
- table: `create or replace table R as <sql>` (contract-enforced: create with the declared columns, insert
  by name);
- incremental: on first build like a table; afterwards the new rows go to a temp table, rows whose
  `unique_key` matches are deleted, and the new rows inserted (delete+insert); without a unique_key, append;
- data test: `select count(*)` of the compiled test query; a non-zero count is recorded as a failure.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_project import ModelInfo, project_tests, topological_order


class FloorPlanError(Exception):
    """The compiled project uses what the SQL floor cannot reproduce by hand (hooks, Python models)."""


@dataclass(frozen=True)
class FloorStep:
    """One statement group of the plan: a seed load, a model build or a data test."""

    kind: str  # seed | view | table | incremental | test
    name: str
    relation: str
    identifier: str = ""
    sql: str = ""
    database: str = ""
    schema: str = ""
    unique_key: tuple[str, ...] = ()
    contract_columns: tuple[tuple[str, str], ...] = ()
    csv_path: str = ""
    column_types: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FloorPlan:
    year: int
    steps: tuple[FloorStep, ...]

    def to_json(self) -> str:
        return json.dumps({"year": self.year, "steps": [asdict(s) for s in self.steps]})

    @classmethod
    def from_json(cls, text: str) -> FloorPlan:
        data = json.loads(text)
        steps = []
        for raw in data["steps"]:
            raw["unique_key"] = tuple(raw["unique_key"])
            raw["contract_columns"] = tuple(tuple(c) for c in raw["contract_columns"])
            steps.append(FloorStep(**raw))
        return cls(year=int(data["year"]), steps=tuple(steps))


@dataclass(frozen=True)
class FloorResult:
    """What executing one year's plan measured."""

    year: int
    sql_seconds: float
    models: int
    seeds: int
    tests: int
    failed_tests: tuple[str, ...]
    #: seconds per model and seed (tests summed under "<tests>"), to find the slow models worth profiling
    step_seconds: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _unique_key(config: Mapping[str, Any]) -> tuple[str, ...]:
    key = config.get("unique_key")
    if key is None:
        return ()
    if isinstance(key, str):  # one expression, e.g. "scenario_id, simulation_year" (dbt pastes it as is)
        return tuple(part.strip() for part in key.split(",") if part.strip())
    return tuple(str(k) for k in key)


def _check_reproducible(node: Mapping[str, Any]) -> None:
    config = node.get("config", {})
    if config.get("pre-hook") or config.get("post-hook"):
        raise FloorPlanError(f"{node['name']} has hooks; the SQL floor does not run hooks")
    if node.get("language", "sql") != "sql":
        raise FloorPlanError(f"{node['name']} is a {node.get('language')} model; the SQL floor runs SQL only")
    strategy = config.get("incremental_strategy")
    if config.get("materialized") == "incremental" and strategy not in (None, "delete+insert", "append"):
        raise FloorPlanError(f"{node['name']}: incremental_strategy {strategy!r} is not reproduced by hand")


def _model_step(node: Mapping[str, Any]) -> FloorStep:
    _check_reproducible(node)
    config = node.get("config", {})
    materialized = str(config.get("materialized", "view"))
    if materialized not in ("view", "table", "incremental"):
        raise FloorPlanError(f"{node['name']}: materialization {materialized!r} is not reproduced by hand")
    if node.get("compiled_code") is None:
        raise FloorPlanError(f"{node['name']} has no compiled_code; compile the project before planning")
    contract: tuple[tuple[str, str], ...] = ()
    if config.get("contract", {}).get("enforced"):
        contract = tuple(
            (str(col["name"]), str(col["data_type"]))
            for col in node.get("columns", {}).values()
            if col.get("data_type")
        )
    incremental_strategy = config.get("incremental_strategy")
    return FloorStep(
        kind=materialized,
        name=str(node["name"]),
        relation=str(node["relation_name"]),
        identifier=str(node.get("alias") or node["name"]),
        sql=str(node["compiled_code"]),
        database=str(node["database"]),
        schema=str(node["schema"]),
        unique_key=_unique_key(config) if incremental_strategy != "append" else (),
        contract_columns=contract,
    )


def _seed_step(node: Mapping[str, Any], project_dir: Path) -> FloorStep:
    config = node.get("config", {})
    csv_path = Path(node.get("root_path") or project_dir) / str(node["original_file_path"])
    return FloorStep(
        kind="seed",
        name=str(node["name"]),
        relation=str(node["relation_name"]),
        database=str(node["database"]),
        schema=str(node["schema"]),
        csv_path=str(csv_path),
        column_types=dict(config.get("column_types") or {}),
    )


def build_year_plan(
    manifest: Mapping[str, Any],
    models: Mapping[str, ModelInfo],
    *,
    year: int,
    include_seeds: bool,
    project_dir: Path,
) -> FloorPlan:
    """The plan for one year from a manifest compiled with that year's vars.

    `models` is the year's model set (see `bench_project.models_for_year`); the tests are the ones planalign's
    validation stage runs that year (`bench_project.project_tests`: all in the first year, the year's after).
    """
    nodes: Mapping[str, Mapping[str, Any]] = manifest["nodes"]
    steps: list[FloorStep] = []
    if include_seeds:
        for uid in sorted(u for u, n in nodes.items() if n.get("resource_type") == "seed"):
            steps.append(_seed_step(nodes[uid], project_dir))
    for model in topological_order(models):
        node = nodes[model.unique_id]
        if node.get("config", {}).get("materialized") == "ephemeral":
            continue
        steps.append(_model_step(node))
    for uid in project_tests(manifest, first_year=include_seeds):
        node = nodes[uid]
        if node.get("compiled_code") is None:
            raise FloorPlanError(f"test {node['name']} has no compiled_code")
        steps.append(
            FloorStep(kind="test", name=str(node["name"]), relation="", sql=str(node["compiled_code"]))
        )
    return FloorPlan(year=year, steps=tuple(steps))


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _relation_exists(con: duckdb.DuckDBPyConnection, step: FloorStep) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables "
        "where table_catalog = ? and table_schema = ? and table_name = ?",
        [step.database, step.schema, step.identifier],
    ).fetchone()
    return bool(row and row[0])


def _create_table(con: duckdb.DuckDBPyConnection, step: FloorStep, select_sql: str) -> None:
    if step.contract_columns:
        columns = ", ".join(f"{_quote(n)} {t}" for n, t in step.contract_columns)
        names = ", ".join(_quote(n) for n, _ in step.contract_columns)
        con.execute(f"create or replace table {step.relation} ({columns})")
        con.execute(f"insert into {step.relation} ({names}) select {names} from ({select_sql}) as model_subq")
    else:
        con.execute(f"create or replace table {step.relation} as {select_sql}")


def _load_seed(con: duckdb.DuckDBPyConnection, step: FloorStep) -> None:
    source = f"read_csv({_sql_string(step.csv_path)}, header = true, auto_detect = true)"
    described = con.execute(f"describe select * from {source}").fetchall()
    columns = []
    for row in described:
        name, dtype = str(row[0]), str(row[1])
        if name in step.column_types:
            dtype = step.column_types[name]
        elif dtype in ("BIGINT", "HUGEINT"):
            dtype = "INTEGER"  # dbt's seed typing: whole numbers become integer
        columns.append(f"cast({_quote(name)} as {dtype}) as {_quote(name)}")
    con.execute(f"create or replace table {step.relation} as select {', '.join(columns)} from {source}")


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _build_incremental(con: duckdb.DuckDBPyConnection, step: FloorStep) -> None:
    if not _relation_exists(con, step):
        _create_table(con, step, step.sql)
        return
    con.execute(f"create or replace temp table __floor_new as {step.sql}")
    if step.unique_key:
        match = " and ".join(f"__floor_new.{_quote(k)} = t.{_quote(k)}" for k in step.unique_key)
        con.execute(f"delete from {step.relation} as t using __floor_new where {match}")
    con.execute(f"insert into {step.relation} by name select * from __floor_new")
    con.execute("drop table __floor_new")


def execute_plan(con: duckdb.DuckDBPyConnection, plan: FloorPlan) -> FloorResult:
    """Run every step; the returned time covers exactly the SQL statements of the plan."""
    schemas: set[tuple[str, str]] = set()
    failed: list[str] = []
    counts = {"seed": 0, "model": 0, "test": 0}
    step_seconds: dict[str, float] = {}
    started = time.perf_counter()
    for step in plan.steps:
        step_started = time.perf_counter()
        if step.kind != "test" and (step.database, step.schema) not in schemas:
            con.execute(f"create schema if not exists {_quote(step.database)}.{_quote(step.schema)}")
            schemas.add((step.database, step.schema))
        if step.kind == "seed":
            _load_seed(con, step)
            counts["seed"] += 1
        elif step.kind == "view":
            con.execute(f"create or replace view {step.relation} as {step.sql}")
            counts["model"] += 1
        elif step.kind == "table":
            _create_table(con, step, step.sql)
            counts["model"] += 1
        elif step.kind == "incremental":
            _build_incremental(con, step)
            counts["model"] += 1
        elif step.kind == "test":
            row = con.execute(f"select count(*) from ({step.sql}) as dbt_test_subq").fetchone()
            if row and row[0]:
                failed.append(step.name)
            counts["test"] += 1
        else:
            raise FloorPlanError(f"unknown step kind {step.kind!r}")
        key = "<tests>" if step.kind == "test" else step.name
        step_seconds[key] = step_seconds.get(key, 0.0) + time.perf_counter() - step_started
    elapsed = time.perf_counter() - started
    return FloorResult(
        year=plan.year,
        sql_seconds=elapsed,
        models=counts["model"],
        seeds=counts["seed"],
        tests=counts["test"],
        failed_tests=tuple(failed),
        step_seconds={k: round(v, 4) for k, v in step_seconds.items()},
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Child-process entry: `bench_sql_floor.py PLAN.json DATABASE RESULT.json`."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 3:
        print("usage: bench_sql_floor.py PLAN.json DATABASE RESULT.json", file=sys.stderr)
        return 2
    plan = FloorPlan.from_json(Path(args[0]).read_text())
    con = duckdb.connect(args[1])
    try:
        result = execute_plan(con, plan)
    finally:
        con.close()
    Path(args[2]).write_text(json.dumps(result.to_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
