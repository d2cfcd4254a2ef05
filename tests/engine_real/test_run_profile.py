"""`--profile` (dbt's flag: the profiles.yml entry to use instead of the one dbt_project.yml names) reaches
every dbt call of `planalign run` — the parse, the selection, the parents check, the models and the project
hooks — and `planalign simulate` takes it into `dbt.profile`."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from planalign.cli import ExitStatus, main
from tests.fixtures.genproject import PROFILE_NAME, GeneratedProject, generate_project


def _project_naming_a_missing_profile(dest: Path) -> GeneratedProject:
    """A generated project whose dbt_project.yml names a profile profiles.yml does not have, with a hook."""
    project = generate_project(dest, n_models=3, seed=3)
    yml = project.project_dir / "dbt_project.yml"
    text = yml.read_text().replace(f"profile: {PROFILE_NAME}\n", "profile: no_such_profile\n")
    assert "no_such_profile" in text
    yml.write_text(text + 'on-run-start:\n  - "create or replace table main.hook_ran as select 1 as x"\n')
    return project


def _seed(project: GeneratedProject, vars: dict[str, str]) -> None:
    from dbt.cli.main import dbtRunner

    from planalign.dbt.isolation import invocation_slot
    from planalign.dbt.manifest import dbt_common_args

    common = dbt_common_args(
        project.project_dir, profiles_dir=None, target=None, vars=vars, profile=PROFILE_NAME
    )
    with invocation_slot(("seed", str(project.project_dir)), exclusive=True):
        result = dbtRunner().invoke(["seed", *common, "--quiet"])
    assert result.success, result.exception


@pytest.mark.slow
def test_run_with_profile_uses_it_for_every_dbt_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project_naming_a_missing_profile(tmp_path / "proj")
    db = tmp_path / "profile.duckdb"
    vars = {"database_path": str(db)}
    base = ["run", "--project-dir", str(project.project_dir), "--vars", json.dumps(vars)]

    # Without --profile the project does not even parse: its own profile is missing.
    assert main(base) == ExitStatus.USAGE
    assert "no_such_profile" in capsys.readouterr().err

    _seed(project, vars)
    code = main([*base, "--profile", PROFILE_NAME])
    out = capsys.readouterr()
    assert code == ExitStatus.OK, out.out + out.err
    assert out.out.count("SUCCESS") == len(project.models)

    # A selection with built parents: the parents check reads the target through the same profile.
    child = next(m for m in project.models if m.parents)
    code = main([*base, "--profile", PROFILE_NAME, "-s", child.name])
    out = capsys.readouterr()
    assert code == ExitStatus.OK, out.out + out.err
    document = json.loads((project.project_dir / "target" / "run_results.json").read_text())
    assert document["args"]["profile"] == PROFILE_NAME
    assert {r["unique_id"] for r in document["results"] if r["unique_id"].startswith("model.")} == {
        project.unique_id(child.name)
    }
    con = duckdb.connect(str(db))  # dbt's configuration: this process may still hold the file open
    try:
        assert con.execute("select x from main.hook_ran").fetchall() == [(1,)]  # the hook ran too
        assert con.execute(f"select count(*) from main.{child.name}").fetchone() != (0,)
    finally:
        con.close()


def test_simulate_profile_sets_dbt_profile() -> None:
    from planalign.cli import build_parser
    from planalign.cli.simulate import _overrides

    args = build_parser().parse_args(["simulate", "--profile", "other"])
    assert _overrides(args)["dbt.profile"] == "other"
    assert _overrides(build_parser().parse_args(["simulate"]))["dbt.profile"] is None


def test_dbt_profile_defaults_to_the_projects_own() -> None:
    from planalign.simulation.config_loading import load_simulation_config

    assert load_simulation_config(check_files=False).dbt.profile is None
    config = load_simulation_config(overrides={"dbt.profile": "other"}, check_files=False)
    assert config.dbt.profile == "other"
