"""Parsing a dbt project in-process and reading target/manifest.json give the same neutral graph."""

from __future__ import annotations

from pathlib import Path

import pytest

from planalign.dbt.manifest import load_manifest_json, parse_project, resolve_selection
from planalign.errors import ProjectParseError, SelectionError
from tests.fixtures.genproject import SEED_NAME, generate_project

pytestmark = pytest.mark.slow

SCHEMA_YML = """\
version: 2
models:
  - name: m0
    meta:
      owner: yaml
      planalign: {execution: sequential, stage: foundation}
"""


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = generate_project(tmp_path_factory.mktemp("manifest") / "proj", n_models=8, seed=2)
    (project.project_dir / "models" / "schema.yml").write_text(SCHEMA_YML)
    sql = project.project_dir / "models" / "m0.sql"
    sql.write_text("{{ config(meta={'owner': 'config'}) }}\n" + sql.read_text())
    return project.project_dir


def test_parse_project_builds_the_neutral_graph(project_dir: Path) -> None:
    manifest = parse_project(project_dir, vars={"database_path": str(project_dir / "x.duckdb")})
    assert manifest.dbt_manifest is not None
    m0 = manifest.model_by_name("m0")
    assert m0.meta["owner"] == "config"  # config.meta wins over node meta
    assert m0.planalign_meta["execution"] == "sequential"
    assert m0.fqn == ("genproj", "m0")
    assert m0.relation_name is not None and m0.relation_name.endswith('"m0"')
    seed_id = f"seed.genproj.{SEED_NAME}"
    assert manifest.nodes[seed_id].resource_type == "seed"
    readers_of_seed = [n for n in manifest.models() if seed_id in n.depends_on]
    assert readers_of_seed  # parents of every type are kept, seeds included
    assert all(n.materialized in {"table", "view", "incremental"} for n in manifest.models())


def test_manifest_json_gives_the_same_nodes(project_dir: Path) -> None:
    parsed = parse_project(project_dir, vars={"database_path": str(project_dir / "x.duckdb")})
    loaded = load_manifest_json(project_dir / "target" / "manifest.json")
    assert loaded.dbt_manifest is None
    assert loaded.project_dir == project_dir.resolve()
    assert {n.unique_id: n for n in loaded.models()} == {n.unique_id: n for n in parsed.models()}


def test_missing_manifest_json_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(ProjectParseError, match="dbt parse"):
        load_manifest_json(tmp_path / "target" / "manifest.json")


def test_strict_selection_uses_dbt_syntax_and_names_an_empty_selector(project_dir: Path) -> None:
    manifest = parse_project(project_dir, vars={"database_path": str(project_dir / "x.duckdb")})
    everything = resolve_selection(manifest, [], [], strict=True).unique_ids
    assert list(everything) == sorted(n.unique_id for n in manifest.models())
    assert resolve_selection(manifest, ["m0"], [], strict=True).unique_ids == ("model.genproj.m0",)
    assert "model.genproj.m0" not in resolve_selection(manifest, [], ["m0"], strict=True).unique_ids
    with pytest.raises(SelectionError, match="nope"):
        resolve_selection(manifest, ["m0 nope"], [], strict=True)
