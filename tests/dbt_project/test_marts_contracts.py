"""The dbt project's public interface, `models/marts/` (issue #24 item 6): exactly the public outputs, each
with an enforced contract, a grain test and its tests run after the stage that builds it; the contract is
really checked by the project's lean materializations; last year's pay is read through `prior_year/` only.

Cost: the manifest checks read the shared parse; the grain check copies the shared five-year build (no
build of its own) and runs two `dbt test`s of two tests each; the contract check builds a two-model project
three times with dbt in this process (the simulation project's 35 s parse is not needed to check a
materialization).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import pytest

from planalign.simulation.build import reporting_tests, year_tests
from planalign.simulation.stages import StageAssignment

from .simulation_support import DBT_PROJECT, YEARS, DbtResult, DbtWorkspace, SimulationRun, shared_parse
from .test_lean_materializations import _close_duckdb
from .test_model_descriptions import PUBLIC_MODELS

MARTS = "models/marts/"


def _models() -> dict[str, dict[str, Any]]:
    return {
        node["name"]: node
        for node in shared_parse().manifest_data()["nodes"].values()
        if node["resource_type"] == "model" and node["package_name"] == "planalign_sim"
    }


@pytest.mark.slow
def test_the_marts_are_exactly_the_public_outputs_with_contracts_and_grain_tests() -> None:
    models = _models()
    marts = sorted(name for name, node in models.items() if node["original_file_path"].startswith(MARTS))
    assert marts == sorted(PUBLIC_MODELS)
    outside = sorted(name for name, node in models.items() if name not in marts and "marts" in node["fqn"])
    assert not outside
    nodes = shared_parse().manifest_data()["nodes"].values()
    for name in marts:
        node = models[name]
        assert node["config"]["contract"]["enforced"], f"{name}: contract not enforced"
        untyped = sorted(c for c, spec in node["columns"].items() if not spec.get("data_type"))
        assert not untyped, f"{name}: columns without data_type: {untyped}"
        assert any(spec.get("constraints") for spec in node["columns"].values()), f"{name}: no constraint"
        grain = [
            t["name"]
            for t in nodes
            if t["resource_type"] == "test"
            and t["attached_node"] == node["unique_id"]
            and t["test_metadata"]["name"] in ("planalign_unique_per_scenario", "unique")
        ]
        assert grain, f"{name} has no grain test (planalign_unique_per_scenario or unique)"


@pytest.mark.slow
def test_a_duplicated_report_row_fails_the_reporting_tests(simulation: SimulationRun, tmp_path: Path) -> None:
    """The rpt_* grain tests run after the reporting stage (`Workspace.reporting_tests`), never with the
    validation stage's tests (before the reports are built); on a copy of the shared build, a duplicated row
    of the last year fails them and the untouched copy passes."""
    manifest = shared_parse().manifest
    prepared = SimpleNamespace(manifest=manifest, stages=StageAssignment.from_manifest(manifest))
    later = reporting_tests(prepared)  # type: ignore[arg-type]
    assert sorted(s.rsplit(".", 1)[-1] for s in later) == [
        "planalign_unique_per_scenario_rpt_account_balances_simulation_year__True",
        "planalign_unique_per_scenario_rpt_yearly_summary_simulation_year__True",
    ]
    assert not set(later) & set(year_tests(prepared))  # type: ignore[arg-type]

    workspace = DbtWorkspace(tmp_path)
    shutil.copy(simulation.workspace.database, workspace.database)
    vars_ = {**simulation.vars, "simulation_year": YEARS[-1]}
    assert workspace.dbt("test", "--select", *later, vars=vars_, check=False).returncode == 0
    with duckdb.connect(str(workspace.database)) as connection:
        connection.execute(
            "insert into rpt_yearly_summary select * from rpt_yearly_summary where simulation_year = ?",
            [YEARS[-1]],
        )
    failed = workspace.dbt("test", "--select", *later, vars=vars_, check=False)
    assert failed.returncode == 1
    assert "Got 1 result, configured to fail if != 0" in failed.stdout  # the one duplicated (scenario, year)


CONTRACT_YML = """version: 2
models:
  - name: {name}
    config:
      contract: {{enforced: true}}
      materialized: {materialized}
      incremental_strategy: delete+insert
      unique_key: year
      on_schema_change: fail
    columns:
      - name: year
        data_type: integer
        constraints: [{{type: not_null}}]
      - name: id
        data_type: integer
        constraints: [{{type: not_null}}]
      - name: amount
        data_type: decimal(18,2)
"""

CONTRACT_SQL = """select
    {{ var('year') }} as year,
    {% if var('break') == 'null' %}cast(null as integer){% else %}cast(i as integer){% endif %} as id,
    {% if var('break') == 'type' %}cast(i * 1.5 as double){% else %}cast(i * 1.5 as decimal(18, 2)){% endif %}
        as amount
from range(3) as t(i)
"""


def _contract_project(root: Path) -> Path:
    project = root / "contracted"
    (project / "models").mkdir(parents=True)
    (project / "macros").mkdir()
    shutil.copy(DBT_PROJECT / "macros" / "lean_materializations.sql", project / "macros")
    (project / "dbt_project.yml").write_text(
        "name: contracted\nversion: '1.0'\nconfig-version: 2\nprofile: contracted\n"
        "vars: {year: 1, break: none}\n"
    )
    (project / "profiles.yml").write_text(
        "contracted:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {root / 'contracted.duckdb'}\n      threads: 1\n"
    )
    for name, materialized in (("m_table", "table"), ("m_incremental", "incremental")):
        (project / "models" / f"{name}.sql").write_text(CONTRACT_SQL)
        (project / "models" / f"{name}.yml").write_text(
            CONTRACT_YML.format(name=name, materialized=materialized)
        )
    return project


def _dbt_run(project: Path, **vars_: Any) -> DbtResult:
    """`dbt run` of the project in this process (the contract is dbt's and the materialization's, not a
    process's: a plain `dbt` per run paid ~2.3 s of CPU importing dbt); `stdout` is every node's message,
    one per model."""
    from dbt.artifacts.schemas.run import RunExecutionResult
    from dbt.cli.main import dbtRunner

    args = ["run", "--project-dir", str(project), "--profiles-dir", str(project), "--vars", json.dumps(vars_)]
    try:
        result = dbtRunner().invoke(args)
    finally:
        _close_duckdb()
    run = result.result
    messages = [str(node.message) for node in run.results] if isinstance(run, RunExecutionResult) else []
    return DbtResult(0 if result.success else 1, "\n".join(messages) or str(result.exception))


@pytest.mark.slow
def test_the_lean_materializations_enforce_contracts_and_constraints(tmp_path: Path) -> None:
    """A contracted table and incremental model built by the project's lean materializations (no rename of
    an intermediate relation: dbt-duckdb's own path would leave `__dbt_backup` in the log): declared types
    and not_null constraints on the first build; a changed column type fails the next build with dbt's
    contract error naming the column (the incremental run's temporary table included) and leaves the
    tables as they were; a null key fails the incremental insert on its constraint."""
    project = _contract_project(tmp_path)
    database = tmp_path / "contracted.duckdb"
    built = _dbt_run(project, year=1, **{"break": "none"})
    assert built.returncode == 0, built.stdout[-3000:]
    log = (project / "logs" / "dbt.log").read_text()
    assert "__dbt_backup" not in log and "__dbt_tmp" not in log, "not the lean materialization"

    def state() -> dict[str, Any]:
        with duckdb.connect(str(database), read_only=True) as connection:
            return {
                "types": connection.execute(
                    "select table_name, column_name, data_type from duckdb_columns() "
                    "where table_name like 'm_%' order by all"
                ).fetchall(),
                "not_null": connection.execute(
                    "select table_name, constraint_column_names[1] from duckdb_constraints() "
                    "where constraint_type = 'NOT NULL' and table_name like 'm_%' order by all"
                ).fetchall(),
                "rows": connection.execute(
                    "select 't', * from m_table union all select 'i', * from m_incremental order by all"
                ).fetchall(),
            }

    before = state()
    assert ("m_incremental", "amount", "DECIMAL(18,2)") in before["types"]
    assert before["not_null"] == [
        ("m_incremental", "id"),
        ("m_incremental", "year"),
        ("m_table", "id"),
        ("m_table", "year"),
    ]

    retyped = _dbt_run(project, year=2, **{"break": "type"})
    assert retyped.returncode == 1
    assert retyped.stdout.count("This model has an enforced contract that failed") == 2, retyped.stdout[
        -3000:
    ]
    assert re.search(r"amount\s*\|\s*DOUBLE\s*\|\s*DECIMAL", retyped.stdout), retyped.stdout[-3000:]
    assert state() == before

    nulls = _dbt_run(project, year=2, **{"break": "null"})
    assert nulls.returncode == 1
    assert "NOT NULL constraint failed" in nulls.stdout, nulls.stdout[-3000:]
    assert state()["rows"] == before["rows"]


#: The models outside prior_year/ that read rows of earlier years, and why none of them is last year's pay.
EARLIER_YEAR_READERS = {
    "foundation/int_effective_parameters.sql": "the IRS limits of the look-back plan year (a seed, not pay)",
    "dq/dq_plan_rules.sql": "a check that this year's opening balance is last year's closing balance",
    "state/int_nondiscrimination_employees.sql": "the deferrals kept to date (the top-heavy balance)",
}


def test_last_years_state_is_read_through_the_prior_year_funnel_only() -> None:
    """Earlier years' state is read in prior_year/ (int_prior_year_compensation is the one reader of last
    year's pay); anywhere else only the reads listed above, none of them pay."""
    earlier = re.compile(r"year - 1 \}\}|simulation_year\s*<")
    found = {}
    for path in sorted((DBT_PROJECT / "models").rglob("*.sql")):
        relative = path.relative_to(DBT_PROJECT / "models").as_posix()
        if relative.startswith("prior_year/"):
            continue
        code = re.sub(r"\{#.*?#\}", "", path.read_text(), flags=re.S)
        assert "source('planalign_state'" not in code, f"{relative} reads the simulation's state directly"
        if earlier.search(code):
            found[relative] = code
    assert sorted(found) == sorted(EARLIER_YEAR_READERS)
    pay = re.compile(r"(annual|prorated|prior_year)_compensation")
    for relative, code in found.items():
        for statement in re.split(r"\)\s*,?\s*\n|union all", code):
            if earlier.search(statement):
                assert not pay.search(statement), f"{relative} reads an earlier year's pay: {statement!r}"
