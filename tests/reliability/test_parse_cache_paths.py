"""The parse cache hits across runs on other files: the census and database paths a simulation passes dbt
are parsed as stand-ins (`planalign.dbt.parse_vars`), because dbt keeps nothing of them from a parse but
the database's catalog name — so a second run, a test, a shard on other files starts from the cached parse
instead of parsing in full. And it stays correct: what the parse does keep (another database name, a var
used in a `config()`, an edited model) parses again; a project that keeps a path at parse time gets the
real path; a simulation started from another run's cached parse writes exactly what an uncached run writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from planalign.dbt.files import DbtFiles
from planalign.dbt.manifest import parse_project
from planalign.dbt.parse_vars import STAND_IN_DIR, stand_in_vars
from planalign.engine.nodes import ProjectManifest
from planalign.simulation.orchestrator import PipelineOrchestrator

PATH_VARS = ("census_path", "database_path")

PROJECT = {
    "dbt_project.yml": "name: tiny\nversion: '1.0'\nconfig-version: 2\nprofile: tiny\n"
    "vars:\n  census_path: none.csv\n  mat: view\n",
    "profiles.yml": "tiny:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
    "      path: \"{{ var('database_path') }}\"\n      threads: 1\n",
    # The census path only in the SQL body: read when the model runs.
    "models/census_rows.sql": "select * from read_csv_auto('{{ var(\"census_path\") }}')\n",
    # A var in config(): kept by the parse.
    "models/configured.sql": "{{ config(materialized=var('mat')) }}\n"
    "select count(*) as n from {{ ref('census_rows') }}\n",
}


def write_project(root: Path, extra: dict[str, str] | None = None) -> Path:
    for name, text in {**PROJECT, **(extra or {})}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


class Parser:
    """Parses `project` as separate processes would (each its own private target), from one parse cache;
    remembers how many files each parse parsed (dbt's perf_info.json: 0 when it started from the cache)."""

    def __init__(self, project: Path, tmp: Path) -> None:
        self.project, self.tmp, self.cache = project, tmp, tmp / "cache"
        self.parsed: list[int] = []

    def parse(self, **vars: object) -> ProjectManifest:
        process = self.tmp / f"process-{len(self.parsed)}"
        files = DbtFiles(process / "target", process / "logs", partial_parse_cache=self.cache)
        manifest = parse_project(self.project, vars=vars, files=files, path_vars=PATH_VARS)
        self.parsed.append(
            json.loads((files.target_path / "perf_info.json").read_text())["parsed_path_count"]
        )
        return manifest

    def cached(self) -> dict[str, int]:
        return {p.name: p.stat().st_mtime_ns for p in self.cache.rglob("*.msgpack")}


def node(manifest: ProjectManifest, name: str) -> object:
    assert manifest.dbt_manifest is not None
    return manifest.dbt_manifest.nodes[f"model.tiny.{name}"]


def test_the_database_stand_in_keeps_its_file_name_and_other_paths_only_their_suffix() -> None:
    vars_ = {"database_path": "/home/a/runs/sim.v2.duckdb", "census_path": "/data/x/people.parquet", "n": 1}
    assert stand_in_vars(vars_, PATH_VARS) == {
        "database_path": f"{STAND_IN_DIR}/database_path/sim.v2.duckdb",
        "census_path": f"{STAND_IN_DIR}/census_path/file.parquet",
        "n": 1,
    }
    # Unset and null paths stay as they are (the project's default applies, as for the run).
    assert stand_in_vars({"census_path": None}, PATH_VARS) == {"census_path": None}
    # A database that is not a local file keeps its own name: dbt-duckdb derives its catalog otherwise.
    for database in (":memory:", "md:my_db"):
        assert stand_in_vars({"database_path": database}, PATH_VARS) == {"database_path": database}


def test_the_cache_keeps_the_most_recently_written_projects_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every directory a project is parsed from has its own cached parses (a shard's or a test's unpacked
    copy too): beyond `CACHE_PROJECTS` the least recently written are removed whole."""
    import os

    import planalign.dbt.files as files_module

    monkeypatch.setattr(files_module, "CACHE_PROJECTS", 2)
    cache = tmp_path / "cache"
    files = DbtFiles(tmp_path / "target", tmp_path / "logs", partial_parse_cache=cache)
    projects = []
    for age, name in enumerate(["recent", "old", "older"]):
        project = tmp_path / name
        cached = files.cache_file(project, ["--vars", name])
        assert cached is not None
        cached.parent.mkdir(parents=True)
        cached.write_bytes(b"saved parse")
        os.utime(cached.parent, ns=(10**9 * (100 - age), 10**9 * (100 - age)))
        projects.append(cached)
    written = files.target_path / files_module.PARTIAL_PARSE_FILE
    written.parent.mkdir(parents=True)
    written.write_bytes(b"new parse")
    new = files.cache_file(tmp_path / "new", ["--vars", "new"])
    files.publish_parse(new, None)  # as after a parse that wrote `written`
    assert written.is_file() and new is not None and new.is_file()
    assert sorted(p.name for p in cache.iterdir()) == sorted([projects[0].parent.name, new.parent.name])


@pytest.mark.slow
def test_runs_on_other_census_and_database_paths_share_one_cached_parse(tmp_path: Path) -> None:
    parser = Parser(write_project(tmp_path / "project"), tmp_path)
    first = parser.parse(database_path=str(tmp_path / "a" / "sim.duckdb"), census_path="/in/a/c1.csv")
    after_first = parser.cached()
    second = parser.parse(database_path=str(tmp_path / "b" / "sim.duckdb"), census_path="/in/b/c2.csv")
    assert parser.parsed[0] > 0 and parser.parsed[1] == 0, f"files parsed by each parse: {parser.parsed}"
    assert len(after_first) == 1 and parser.cached() == after_first, (
        "the second parse did not reuse the first"
    )
    for manifest in (first, second):
        assert node(manifest, "census_rows").relation_name == '"sim"."main"."census_rows"'  # type: ignore[attr-defined]


@pytest.mark.slow
def test_what_the_parse_keeps_still_parses_again(tmp_path: Path) -> None:
    project = write_project(tmp_path / "project")
    parser = Parser(project, tmp_path)
    base = {"database_path": str(tmp_path / "a" / "sim.duckdb"), "census_path": "/in/c.csv"}
    parser.parse(**base)
    # Another database name: its catalog is every relation's database.
    other = parser.parse(**{**base, "database_path": str(tmp_path / "a" / "other.duckdb")})
    assert node(other, "census_rows").relation_name == '"other"."main"."census_rows"'  # type: ignore[attr-defined]
    # A var used in config(): the parse keeps its value.
    table = parser.parse(**base, mat="table")
    assert node(table, "configured").config.materialized == "table"  # type: ignore[attr-defined]
    # An edited model: parsed again from the same cached parse.
    (project / "models" / "configured.sql").write_text(
        "{{ config(materialized=var('mat'), tags=['edited']) }}\nselect 1 as n\n"
    )
    edited = parser.parse(**base)
    assert node(edited, "configured").tags == ["edited"]  # type: ignore[attr-defined]
    assert node(edited, "configured").depends_on.nodes == []  # type: ignore[attr-defined]
    assert all(count > 0 for count in parser.parsed), f"files parsed by each parse: {parser.parsed}"


@pytest.mark.slow
def test_a_project_that_keeps_a_path_at_parse_time_gets_the_real_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    leaky = "{{ config(meta={'census': var('census_path')}) }}\nselect 1 as n\n"
    parser = Parser(write_project(tmp_path / "project", {"models/leaky.sql": leaky}), tmp_path)
    manifest = parser.parse(database_path=str(tmp_path / "sim.duckdb"), census_path="/in/real.csv")
    assert node(manifest, "leaky").config.meta == {"census": "/in/real.csv"}  # type: ignore[attr-defined]
    assert "keeps a stand-in path" in caplog.text


# --------------------------------------------------------------------------------------------- simulations


@pytest.fixture(scope="module")
def other_census(tmp_path_factory: pytest.TempPathFactory, small_census: Path) -> Path:
    """Another census, in another directory under another name: the small census less a third of it."""
    path = tmp_path_factory.mktemp("other_census") / "people.parquet"
    con = duckdb.connect()
    try:
        con.execute(
            f"copy (select * from read_parquet('{small_census}') order by employee_id limit 200) "
            f"to '{path}' (format parquet)"
        )
    finally:
        con.close()
    return path


@pytest.mark.slow
def test_a_simulation_from_another_runs_cached_parse_writes_what_an_uncached_run_writes(
    tmp_path: Path, small_census: Path, other_census: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run A (census 1, a/sim.duckdb) fills the cache; run B (census 2, b/sim.duckdb) starts from it without
    parsing; B's tables equal those of B run with a fresh cache and a parse of its real paths, and B read its
    own census, not A's. Run A only parses (`describe()`: the parse a run starts with, and publishes to the
    cache): what it would simulate is not what is compared, and a simulated year costs ~15 s of CPU."""
    from planalign.simulation.orchestrator import create_orchestrator
    from tests.product.simulation_helpers import make_config, output_checksums

    def orchestrator(directory: Path, census: Path, cache: Path) -> PipelineOrchestrator:
        monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
        directory.mkdir()
        return create_orchestrator(make_config(directory, census, "sim", workers=2, end_year=2025))

    def simulate(directory: Path, census: Path, cache: Path) -> dict[str, tuple[int, str]]:
        summary = orchestrator(directory, census, cache).execute_multi_year_simulation()
        assert summary.completed_years == (2025,), summary
        return output_checksums(directory / "sim.duckdb")

    shared = tmp_path / "cache"
    orchestrator(tmp_path / "a", small_census, shared).describe()
    cached = {p: p.stat().st_mtime_ns for p in shared.rglob("*.msgpack")}
    b = simulate(tmp_path / "b", other_census, shared)
    assert len(cached) == 1 and {p: p.stat().st_mtime_ns for p in shared.rglob("*.msgpack")} == cached

    monkeypatch.setattr("planalign.simulation.orchestrator.RUN_TIME_PATH_VARS", ())
    uncached = simulate(tmp_path / "b_uncached", other_census, tmp_path / "fresh_cache")
    assert b == uncached
    # B's workforce is census 2's: the employees census 1 has and census 2 left out are not in it.
    con = duckdb.connect(str(tmp_path / "b" / "sim.duckdb"), read_only=True)
    try:
        b_ids = {i for (i,) in con.execute("select employee_id from fct_workforce_snapshot").fetchall()}
        dropped = {
            i
            for (i,) in con.execute(
                f"select employee_id from read_parquet('{small_census}') "
                f"except select employee_id from read_parquet('{other_census}')"
            ).fetchall()
        }
        kept = {
            i for (i,) in con.execute(f"select employee_id from read_parquet('{other_census}')").fetchall()
        }
    finally:
        con.close()
    assert dropped and b_ids & kept, "the snapshot's employee ids are not the census's"
    assert not b_ids & dropped, "run B read census 1, not its own"
