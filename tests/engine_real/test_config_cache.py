"""The `config-cache` speed-up (planalign.dbt.isolation.config_cache) against real dbt: the profile, project
and dependencies are loaded once per engine run, and every input that can differ between two invocations of
one run — vars, target, profile — still reaches the invocation that gave it, when invocations run at once
too; the tables equal `dbt run`'s.

DuckDB, one small project: each profile output writes `<var dir>/.../db.duckdb` (one catalog name `db`, so
one parse serves them all), so an invocation that got another invocation's profile writes its table into
the wrong file — which is what a cache that ignored a key would do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from planalign.dbt.invoker import DbtInvoker
from planalign.dbt.manifest import parse_project
from planalign.engine.invocation import InvocationScope, use_scope
from planalign.engine.nodes import ProjectManifest

from .helpers import checksums, dbt_cli

pytestmark = pytest.mark.slow

PROFILES = """\
cfg:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "{{ var('dir') }}/db.duckdb"
      threads: 1
    alt:
      type: duckdb
      path: "{{ var('dir') }}/alt/db.duckdb"
      threads: 1
cfg_other:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "{{ var('dir') }}/other/db.duckdb"
      threads: 1
"""

MODELS = {
    "m1": "select {{ var('x') }} as x, '{{ target.name }}' as target_name",
    "m2": "select x * 10 as y, target_name from {{ ref('m1') }}",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[ProjectManifest, Path]:
    root = tmp_path_factory.mktemp("cfgcache")
    (root / "models").mkdir()
    (root / "dbt_project.yml").write_text(
        'name: cfgcache\nversion: "1.0.0"\nconfig-version: 2\nprofile: cfg\nmodel-paths: ["models"]\n'
        "vars:\n  x: 0\nmodels:\n  cfgcache:\n    +materialized: table\n"
    )
    (root / "profiles.yml").write_text(PROFILES)
    for name, sql in MODELS.items():
        (root / "models" / f"{name}.sql").write_text(sql + "\n")
    parse_dir = root / "parse"
    parse_dir.mkdir()
    return parse_project(root, profiles_dir=root, vars={"dir": str(parse_dir)}), root


def _invoker(manifest: ProjectManifest, root: Path, **kwargs: Any) -> DbtInvoker:
    return DbtInvoker(root, root, kwargs.pop("target", None), manifest, {}, None, **kwargs)


def _row(database: Path, table: str) -> tuple[Any, ...]:
    con = duckdb.connect(str(database))
    try:
        row = con.execute(f"select * from main.{table}").fetchone()
    finally:
        con.close()
    assert row is not None
    return tuple(row)


@pytest.fixture
def count_dependency_loads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Each dependency project dbt loads (`RuntimeConfig.new_project`, what `load_dependencies` calls per
    package), by path."""
    from dbt.config.runtime import RuntimeConfig

    loads: list[str] = []
    original = RuntimeConfig.new_project

    def counting(self: Any, project_root: str) -> Any:
        loads.append(project_root)
        return original(self, project_root)

    monkeypatch.setattr(RuntimeConfig, "new_project", counting)
    yield loads


def test_one_engine_run_loads_the_dependencies_once(
    project: tuple[ProjectManifest, Path], tmp_path: Path, count_dependency_loads: list[str]
) -> None:
    manifest, root = project
    invoker = _invoker(manifest, root)
    assert "config-cache" in invoker.isolation.speedups
    run_vars = {"dir": str(tmp_path), "x": 1}
    with use_scope(InvocationScope(label="one run")):
        for name in ("m1", "m2", "m1"):
            assert invoker.run_model(manifest.model_by_name(name), vars=run_vars).ok
    per_run = len(count_dependency_loads)
    assert per_run >= 1  # dbt's internal packages: `dbt` and `dbt_duckdb`
    count_dependency_loads.clear()
    for _ in range(2):  # outside an engine run: nothing cached, dbt loads them per invocation
        assert invoker.run_model(manifest.model_by_name("m1"), vars=run_vars).ok
    assert len(count_dependency_loads) == 2 * per_run


def test_vars_changed_between_concurrent_invocations_of_one_run_are_honoured(
    project: tuple[ProjectManifest, Path], tmp_path: Path
) -> None:
    """Eight invocations of one run at once, each with its own `dir` (the profile's path) and `x` (the
    model's value): each table lands in its own file with its own value. With the profile cached without
    its vars, all would write the first invocation's file."""
    manifest, root = project
    invoker = _invoker(manifest, root)
    scope = InvocationScope(label="concurrent vars")
    dirs = [tmp_path / f"d{i}" for i in range(8)]
    errors: list[str] = []
    start = threading.Barrier(len(dirs))

    def work(i: int) -> None:
        dirs[i].mkdir()
        with use_scope(scope):
            start.wait()
            for name in ("m1", "m2"):
                outcome = invoker.run_model(manifest.model_by_name(name), vars={"dir": str(dirs[i]), "x": i})
                if not outcome.ok:
                    errors.append(f"{i} {name}: {outcome.message}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(dirs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for i, directory in enumerate(dirs):
        assert _row(directory / "db.duckdb", "m1") == (i, "dev")
        assert _row(directory / "db.duckdb", "m2") == (i * 10, "dev")


@pytest.mark.parametrize(
    ("make", "where", "target_name"),
    [
        (lambda m, r: _invoker(m, r, target="alt"), "alt", "alt"),
        (lambda m, r: _invoker(m, r, profile="cfg_other"), "other", "dev"),
    ],
    ids=["target", "profile"],
)
def test_a_target_or_profile_changed_within_one_run_is_honoured(
    project: tuple[ProjectManifest, Path],
    tmp_path: Path,
    make: Callable[[ProjectManifest, Path], DbtInvoker],
    where: str,
    target_name: str,
) -> None:
    """One run's invocations through the default invoker, then one with another target or profile, then
    the default again: each writes where its own profile output says."""
    manifest, root = project
    (tmp_path / where).mkdir()
    run_vars = {"dir": str(tmp_path), "x": 5}
    default, other = _invoker(manifest, root), make(manifest, root)
    with use_scope(InvocationScope(label="target and profile")):
        assert default.run_model(manifest.model_by_name("m1"), vars=run_vars).ok
        assert other.run_model(manifest.model_by_name("m1"), vars=run_vars).ok
        assert default.run_model(manifest.model_by_name("m2"), vars=run_vars).ok
    assert _row(tmp_path / "db.duckdb", "m1") == (5, "dev")
    assert _row(tmp_path / "db.duckdb", "m2") == (50, "dev")
    assert _row(tmp_path / where / "db.duckdb", "m1") == (5, target_name)


def test_an_engine_run_with_the_cache_equals_dbt_run(
    project: tuple[ProjectManifest, Path], tmp_path: Path
) -> None:
    manifest, root = project
    ours, theirs = tmp_path / "ours", tmp_path / "dbt"
    ours.mkdir()
    theirs.mkdir()
    invoker = _invoker(manifest, root)
    with use_scope(InvocationScope(label="like dbt run")):
        for name in ("m1", "m2"):
            assert invoker.run_model(manifest.model_by_name(name), vars={"dir": str(ours), "x": 3}).ok
    dbt_cli(root, "run", vars={"dir": str(theirs), "x": 3})
    assert checksums(ours / "db.duckdb", ["m1", "m2"]) == checksums(theirs / "db.duckdb", ["m1", "m2"])
