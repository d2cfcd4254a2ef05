"""The project's lean `table` and `incremental` materializations (issue #25;
dbt_project/macros/lean_materializations.sql) on a tiny dbt project that uses that macro file as it is.

What they promise: fewer statements (no intermediate relation renamed into place), the same tables, and the
data-safety of dbt-duckdb's own: a build that fails leaves the previous table exactly as it was, because the
drop, the create and the delete+insert run in one transaction that is rolled back. Configurations they do
not cover go to dbt-duckdb's materialization unchanged.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
MACROS = REPO / "dbt_project" / "macros" / "lean_materializations.sql"

PROFILE = """lean:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "{path}"
      threads: 1
"""

INCREMENTAL = """{{{{ config(materialized='incremental', incremental_strategy='delete+insert',
    unique_key='scenario_id, simulation_year', on_schema_change='{on_schema_change}') }}}}
select 'a' as scenario_id, {{{{ env_var('LEAN_YEAR') }}}} as simulation_year, r as row_no, {value} as amount
from range(3) as t(r)
"""

ADDED = " as amount, 7 as extra"


class Project:
    """A throw-away dbt project: write models, run dbt in this process, read the database.

    One project serves the module (one full parse of dbt-duckdb's 500 macros; every later invocation
    re-parses only the files that changed): each test gets its own `Project` view, whose models are its
    own files, built in its own schema under the names the test uses (`alias`). The year is an environment
    variable, not a --vars value: a changed var makes dbt parse everything again, a changed env_var only the
    files that read it."""

    def __init__(self, root: Path, schema: str = "") -> None:
        self.root = root
        self.schema = schema
        self.database = root / "lean.duckdb"
        self.log = ""
        if (root / "dbt_project.yml").exists():
            return
        (root / "models").mkdir(parents=True)
        (root / "macros").mkdir()
        shutil.copy(MACROS, root / "macros" / MACROS.name)
        (root / "dbt_project.yml").write_text(
            "name: lean\nversion: '1.0'\nconfig-version: 2\nprofile: lean\n"
            "model-paths: ['models']\nmacro-paths: ['macros']\n"
        )
        (root / "profiles.yml").write_text(PROFILE.format(path=self.database))

    def for_test(self, schema: str) -> Project:
        """This project as one test sees it: its models in schema main_<schema>."""
        return Project(self.root, schema)

    def _node(self, name: str) -> str:
        return f"{self.schema}__{name}" if self.schema else name

    def model(self, name: str, sql: str) -> None:
        own = f"{{{{ config(alias='{name}', schema='{self.schema}') }}}} " if self.schema else ""
        (self.root / "models" / f"{self._node(name)}.sql").write_text(own + sql)

    def run(self, *select: str, year: int = 2025) -> tuple[bool, list[str]]:
        """`dbt run --select ...`; whether it succeeded and every SQL statement dbt sent (and, in `log`,
        what the run added to dbt.log)."""
        from dbt.cli.main import dbtRunner

        statements: list[str] = []

        def collect(event: Any) -> None:
            if event.info.name == "SQLQuery":
                statements.append(" ".join(event.data.sql.split()).lower())

        log_file = self.root / "logs" / "dbt.log"
        logged = log_file.stat().st_size if log_file.exists() else 0
        args = ["run", "--project-dir", str(self.root), "--profiles-dir", str(self.root)]
        args += ["--target-path", str(self.root / "target")]
        args += ["--log-path", str(self.root / "logs"), "--select", *map(self._node, select)]
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("LEAN_YEAR", str(year))
            try:
                result = dbtRunner(callbacks=[collect]).invoke(args)
            finally:
                _close_duckdb()
        with log_file.open("rb") as handle:
            handle.seek(logged)
            self.log = handle.read().decode(errors="replace")
        return bool(result.success), statements

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.database), read_only=True) as con:
            if self.schema:
                con.execute(f"set search_path = 'main_{self.schema}'")
            return con.execute(sql).fetchall()


def _close_duckdb() -> None:
    """dbt-duckdb keeps the database open in its class-level environment after an in-process invocation
    (its `close_all_connections` forgets it without closing it); close it so the test can read the file."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    env = DuckDBConnectionManager._ENV
    DuckDBConnectionManager._ENV = None
    if env is not None:
        env.close()


@pytest.fixture(scope="module")
def shared_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return Project(tmp_path_factory.mktemp("lean") / "lean")


@pytest.fixture
def project(shared_project: Project, request: pytest.FixtureRequest) -> Project:
    return shared_project.for_test(re.sub(r"\W+", "_", request.node.name).strip("_").lower()[-40:])


def _renames(statements: list[str]) -> list[str]:
    return [s for s in statements if " rename to " in s]


def test_table_is_replaced_in_place_without_an_intermediate_relation(project: Project) -> None:
    project.model("t", "{{ config(materialized='table') }} select r as n from range(3) as t(r)")
    assert project.run("t")[0]
    project.model("t", "{{ config(materialized='table') }} select r * 10 as n from range(4) as t(r)")
    ok, statements = project.run("t")
    assert ok
    assert project.rows("select n from t order by n") == [(0,), (10,), (20,), (30,)]
    assert _renames(statements) == []
    assert not any("__dbt_tmp" in s or "__dbt_backup" in s for s in statements)


def test_a_failing_table_build_leaves_the_previous_table_as_it_was(project: Project) -> None:
    project.model("t", "{{ config(materialized='table') }} select r as n from range(3) as t(r)")
    assert project.run("t")[0]
    # fails while the new rows are computed, after the old table was dropped in the transaction
    failing = "select cast('x' || r as integer) as n from range(3) as t(r)"
    project.model("t", "{{ config(materialized='table') }} " + failing)
    ok, statements = project.run("t")
    assert not ok
    assert any("drop table if exists" in s for s in statements), "the drop is part of the build"
    assert project.rows("select n from t order by n") == [(0,), (1,), (2,)]


def test_incremental_replaces_its_key_and_keeps_other_years(project: Project) -> None:
    project.model("inc", INCREMENTAL.format(on_schema_change="fail", value="1.5"))
    assert project.run("inc", year=2025)[0]
    assert project.run("inc", year=2026)[0]
    project.model("inc", INCREMENTAL.format(on_schema_change="fail", value="2.5"))
    ok, statements = project.run("inc", year=2026)
    assert ok
    assert project.rows("select simulation_year, count(*), sum(amount) from inc group by 1 order by 1") == [
        (2025, 3, 4.5),
        (2026, 3, 7.5),
    ]
    assert _renames(statements) == []
    assert sum("duckdb_columns()" in s for s in statements) == 1, "both column lists in one query"


def test_a_failing_incremental_build_leaves_every_row_as_it_was(project: Project) -> None:
    project.model("inc", INCREMENTAL.format(on_schema_change="fail", value="1.5"))
    assert project.run("inc", year=2025)[0]
    # the insert fails after the delete ran: the transaction must bring the deleted rows back
    project.model(
        "inc",
        INCREMENTAL.format(on_schema_change="fail", value="1.5").replace(
            "from range(3) as t(r)", "from range(3) as t(r) where 1 / 0 = 1 or error('boom') is null"
        ),
    )
    ok, _ = project.run("inc", year=2025)
    assert not ok
    rows = project.rows("select simulation_year, count(*), sum(amount) from inc group by 1")
    assert rows == [(2025, 3, 4.5)]


def test_on_schema_change_fail_names_the_columns_and_changes_nothing(project: Project) -> None:
    project.model("inc", INCREMENTAL.format(on_schema_change="fail", value="1.5"))
    assert project.run("inc", year=2025)[0]
    project.model(
        "inc",
        INCREMENTAL.format(on_schema_change="fail", value="1.5").replace(" as amount", ADDED),
    )
    ok, _ = project.run("inc", year=2026)
    assert not ok
    log = project.log
    assert "out of sync" in log and "Columns added: extra" in log
    assert project.rows("select simulation_year, count(*) from inc group by 1") == [(2025, 3)]


def test_ignore_inserts_the_target_columns(project: Project) -> None:
    project.model("inc", INCREMENTAL.format(on_schema_change="ignore", value="1.5"))
    assert project.run("inc", year=2025)[0]
    project.model(
        "inc",
        INCREMENTAL.format(on_schema_change="ignore", value="1.5").replace(" as amount", ADDED),
    )
    assert project.run("inc", year=2026)[0]
    assert project.rows("select count(*) from inc") == [(6,)]
    columns = [r[0] for r in project.rows("describe inc")]
    assert columns == ["scenario_id", "simulation_year", "row_no", "amount"]


@pytest.mark.parametrize(
    ("config", "check"),
    [
        ("indexes=[{'columns': ['n']}]", lambda p: p.rows("select count(*) from duckdb_indexes()") == [(1,)]),
        ("persist_docs={'relation': true}", lambda p: p.rows("select count(*) from t") == [(3,)]),
    ],
)
def test_what_the_lean_path_does_not_cover_goes_to_dbt_duckdb(
    project: Project, config: str, check: Callable[[Project], bool]
) -> None:
    project.model("t", f"{{{{ config(materialized='table', {config}) }}}} select r as n from range(3) t(r)")
    assert project.run("t")[0]
    ok, statements = project.run("t")
    assert ok and check(project)
    assert _renames(statements), "dbt-duckdb's table materialization renames an intermediate relation"
