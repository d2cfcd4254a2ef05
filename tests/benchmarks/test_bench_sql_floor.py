"""Configuration E's hand-made materializations and the project reading behind C and E, without dbt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from bench_project import (
    ModelInfo,
    ProjectError,
    by_stage,
    models_for_year,
    project_models,
    topological_order,
)
from bench_sql_floor import FloorPlan, FloorPlanError, FloorStep, build_year_plan, execute_plan


def _node(
    name: str, stage: str, *, scope: str = "year", deps: tuple[str, ...] = (), **config: Any
) -> dict[str, Any]:
    return {
        "resource_type": "model",
        "package_name": "proj",
        "name": name,
        "alias": name,
        "database": "memory",
        "schema": "main",
        "relation_name": f'"memory"."main"."{name}"',
        "config": {
            "materialized": "table",
            "meta": {"planalign": {"stage": stage, "scope": scope}},
            **config,
        },
        "depends_on": {"nodes": list(deps)},
        "compiled_code": f"select 1 as x, '{name}' as src",
        "columns": {},
    }


def _manifest() -> dict[str, Any]:
    nodes = {
        "model.proj.stg": _node("stg", "initialization", scope="simulation"),
        "model.proj.fct": _node("fct", "event_generation", deps=("model.proj.params", "model.proj.stg")),
        "model.proj.params": _node("params", "foundation", deps=("model.proj.stg",), materialized="view"),
        "model.proj.dq": _node("dq", "validation", deps=("model.proj.fct",)),
        "test.proj.unique_fct": {
            "resource_type": "test",
            "name": "unique_fct",
            "config": {"enabled": True},
            "depends_on": {"nodes": ["model.proj.fct"]},
            "compiled_code": "select x from memory.main.fct where x <> 1",
        },
    }
    return {"metadata": {"project_name": "proj"}, "nodes": nodes}


def test_year_selection_stages_and_order() -> None:
    models = project_models(_manifest())
    later = models_for_year(models, first_year=False)
    assert sorted(m.name for m in later.values()) == ["dq", "fct", "params"]
    assert list(by_stage(models.values())) == [
        "initialization",
        "foundation",
        "event_generation",
        "validation",
    ]
    assert [m.name for m in topological_order(models)] == ["stg", "params", "fct", "dq"]


def test_unplaceable_models_and_cycles_are_errors() -> None:
    manifest = _manifest()
    manifest["nodes"]["model.proj.stg"]["config"]["meta"] = {}
    with pytest.raises(ProjectError, match="stg"):
        project_models(manifest)
    a = ModelInfo("a", "a", "foundation", "year", "table", ("b",))
    b = ModelInfo("b", "b", "foundation", "year", "table", ("a",))
    with pytest.raises(ProjectError, match="cycle"):
        topological_order({"a": a, "b": b})


def test_plan_from_manifest_builds_models_then_tests(tmp_path: Path) -> None:
    manifest = _manifest()
    models = models_for_year(project_models(manifest), first_year=True)
    plan = build_year_plan(manifest, models, year=2025, include_seeds=False, project_dir=tmp_path)
    assert [(s.kind, s.name) for s in plan.steps] == [
        ("table", "stg"),
        ("view", "params"),
        ("table", "fct"),
        ("table", "dq"),
        ("test", "unique_fct"),
    ]
    assert FloorPlan.from_json(plan.to_json()) == plan
    result = execute_plan(duckdb.connect(), plan)
    assert (result.models, result.tests, result.failed_tests) == (4, 1, ())


def test_hooks_are_refused(tmp_path: Path) -> None:
    manifest = _manifest()
    manifest["nodes"]["model.proj.fct"]["config"]["post-hook"] = ["delete from other"]
    with pytest.raises(FloorPlanError, match="hooks"):
        build_year_plan(
            manifest, project_models(manifest), year=2025, include_seeds=False, project_dir=tmp_path
        )


def _incremental(year: int) -> FloorStep:
    return FloorStep(
        kind="incremental",
        name="events",
        relation='"memory"."main"."events"',
        identifier="events",
        database="memory",
        schema="main",
        sql=f"select range as id, {year} as simulation_year from range(3)",
        unique_key=("simulation_year",),
        contract_columns=(("id", "bigint"), ("simulation_year", "integer")),
    )


def test_incremental_delete_insert_replaces_a_rerun_year() -> None:
    con = duckdb.connect()
    for year in (2025, 2026, 2026):
        execute_plan(con, FloorPlan(year=year, steps=(_incremental(year),)))
    rows = con.execute("select simulation_year, count(*) from events group by 1 order by 1").fetchall()
    assert rows == [(2025, 3), (2026, 3)]
    types = dict(con.execute("select column_name, data_type from information_schema.columns "
                             "where table_name = 'events'").fetchall())  # fmt: skip
    assert types == {"id": "BIGINT", "simulation_year": "INTEGER"}


def test_a_unique_key_written_as_one_expression_names_each_column() -> None:
    """dbt's delete+insert takes `unique_key: "scenario_id, simulation_year"` as one expression; the floor
    must delete on both columns, not look for a column of that name."""
    unique_key = "scenario_id, simulation_year"
    manifest = _manifest()
    for node in manifest["nodes"].values():
        if node["name"] == "fct":
            node["config"].update(materialized="incremental", incremental_strategy="delete+insert")
            node["config"]["unique_key"] = unique_key
    models = models_for_year(project_models(manifest), first_year=True)
    plan = build_year_plan(manifest, models, year=2025, include_seeds=False, project_dir=Path("."))
    (step,) = [s for s in plan.steps if s.name == "fct"]
    assert step.unique_key == ("scenario_id", "simulation_year")


def test_seed_typing_follows_dbt_and_failing_tests_are_recorded(tmp_path: Path) -> None:
    csv = tmp_path / "params.csv"
    csv.write_text("name,count,rate,day\nx,1,0.5,2025-01-01\ny,2,0.25,2025-06-30\n")
    seed = FloorStep(kind="seed", name="params", relation='"memory"."main"."params"', database="memory",
                     schema="main", csv_path=str(csv), column_types={"name": "varchar(10)"})  # fmt: skip
    failing = FloorStep(kind="test", name="no_x", relation="", sql="select * from params where name = 'x'")
    con = duckdb.connect()
    result = execute_plan(con, FloorPlan(year=2025, steps=(seed, failing)))
    assert result.failed_tests == ("no_x",) and result.seeds == 1
    types = dict(con.execute("select column_name, data_type from information_schema.columns "
                             "where table_name = 'params'").fetchall())  # fmt: skip
    assert types == {"name": "VARCHAR", "count": "INTEGER", "rate": "DOUBLE", "day": "DATE"}
