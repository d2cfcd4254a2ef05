"""`planalign run` end to end on a small generated project: exit statuses 0/1/2, progress and summary,
the results file, failure isolation, and selection errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planalign.cli import ExitStatus, main
from tests.fixtures.genproject import GeneratedProject, generate_project

from .helpers import checksums, dbt_cli, dbt_seed_in_process

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> GeneratedProject:
    project = generate_project(tmp_path_factory.mktemp("runcmd") / "proj", n_models=16, seed=11)
    (project.project_dir / "db").mkdir()
    return project


def _vars(project: GeneratedProject, db: str, salt: int = 3) -> str:
    return json.dumps({"database_path": str(project.project_dir / "db" / db), "salt": salt})


def _seed(project: GeneratedProject, db: str) -> None:
    dbt_seed_in_process(project.project_dir, vars=json.loads(_vars(project, db)))


def test_run_builds_what_dbt_builds(project: GeneratedProject, capsys: pytest.CaptureFixture[str]) -> None:
    _seed(project, "ok.duckdb")
    code = main(
        [
            "run",
            "--project-dir",
            str(project.project_dir),
            "--vars",
            _vars(project, "ok.duckdb"),
            "--workers",
            "3",
        ]
    )
    out = capsys.readouterr().out
    assert code == ExitStatus.OK, out
    assert out.count("SUCCESS") == len(project.models)
    assert "Done in" in out

    document = json.loads((project.project_dir / "target" / "planalign_run_results.json").read_text())
    invocations = document["summary"]["runs"][0]["invocations"]
    assert 1 <= invocations < len(project.models)  # batched by default
    assert f"in {invocations} dbt invocations" in out
    statuses = {r["unique_id"]: r["status"] for r in document["results"]}
    assert statuses == {project.unique_id(n): "success" for n in project.model_names}
    assert "summary" in document

    dbt_cli(project.project_dir, "build", "--threads", "1", vars=json.loads(_vars(project, "ref.duckdb")))
    db = project.project_dir / "db"
    assert checksums(db / "ok.duckdb", project.model_names) == checksums(
        db / "ref.duckdb", project.model_names
    )


def test_select_and_exclude_use_dbt_syntax(
    project: GeneratedProject, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed(project, "sel.duckdb")
    first = project.model_names[0]
    code = main(
        [
            "run",
            "--project-dir",
            str(project.project_dir),
            "--vars",
            _vars(project, "sel.duckdb"),
            "--select",
            f"{first}+",
            "--exclude",
            project.model_names[-1],
            "--models-per-invocation",
            "1",
        ]
    )
    out = capsys.readouterr().out
    assert code == ExitStatus.OK, out
    document = json.loads((project.project_dir / "target" / "planalign_run_results.json").read_text())
    ran = {r["unique_id"] for r in document["results"]}
    assert project.unique_id(first) in ran
    assert project.unique_id(project.model_names[-1]) not in ran
    assert document["summary"]["runs"][0]["invocations"] == len(ran)  # one model per invocation


def test_failing_model_fails_the_run_and_skips_only_its_descendants(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = generate_project(tmp_path / "proj", n_models=16, seed=11)
    broken = next(m for m in project.models if m.parents and m.materialized == "table")
    (project.project_dir / "models" / f"{broken.name}.sql").write_text(
        "{{ config(materialized='table') }}\nselect cast('x' || id as integer) as id from "
        f"{{{{ ref('{broken.parents[0]}') }}}}\n"
    )
    db = tmp_path / "fail.duckdb"
    vars = {"database_path": str(db), "salt": 1}
    dbt_seed_in_process(project.project_dir, vars=vars)
    code = main(
        ["run", "--project-dir", str(project.project_dir), "--vars", json.dumps(vars), "--max-retries", "0"]
    )
    out = capsys.readouterr().out
    assert code == ExitStatus.FAILURE, out
    document = json.loads((project.project_dir / "target" / "planalign_run_results.json").read_text())
    statuses = {r["unique_id"]: r["status"] for r in document["results"]}
    assert statuses[project.unique_id(broken.name)] == "error"
    descendants = _descendants(project, broken.name)
    for name in project.model_names:
        if name == broken.name:
            continue
        expected = "skipped" if name in descendants else "success"
        assert statuses[project.unique_id(name)] == expected, name


def _descendants(project: GeneratedProject, name: str) -> set[str]:
    children: dict[str, set[str]] = {}
    for m in project.models:
        for p in m.parents:
            children.setdefault(p, set()).add(m.name)
    found: set[str] = set()
    stack = [name]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--vars", "[1, 2"], "--vars"),
        (["--vars", "just a string"], "mapping"),
        (["--workers", "0"], "--workers"),
        (["--models-per-invocation", "0"], "--models-per-invocation"),
    ],
)
def test_bad_usage_exits_2_with_a_clear_message(
    project: GeneratedProject, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    code = main(["run", "--project-dir", str(project.project_dir), *extra])
    err = capsys.readouterr().err
    assert code == ExitStatus.USAGE
    assert message in err


def test_not_a_dbt_project_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--project-dir", str(tmp_path)]) == ExitStatus.USAGE
    assert "not a dbt project" in capsys.readouterr().err


def test_unparseable_project_exits_2_with_dbts_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = generate_project(tmp_path / "proj", n_models=3, seed=1)
    (project.project_dir / "models" / "bad.sql").write_text("select * from {{ ref('does_not_exist') }}\n")
    assert main(["run", "--project-dir", str(project.project_dir)]) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert "does not parse" in err and "does_not_exist" in err


def test_ephemeral_models_are_compiled_into_their_dependents_not_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = generate_project(tmp_path / "proj", n_models=3, seed=2)
    models = project.project_dir / "models"
    (models / "eph.sql").write_text("{{ config(materialized='ephemeral') }} select 41 as x\n")
    (models / "uses_eph.sql").write_text("select x + 1 as x from {{ ref('eph') }}\n")
    db = project.project_dir / "db" / "eph.duckdb"
    db.parent.mkdir(exist_ok=True)
    vars = json.dumps({"database_path": str(db)})
    code = main(["run", "--project-dir", str(project.project_dir), "--vars", vars, "--select", "eph+"])
    out = capsys.readouterr().out
    assert code == ExitStatus.OK, out
    assert "1 ephemeral models are compiled into the models that use them" in out
    document = json.loads((project.project_dir / "target" / "planalign_run_results.json").read_text())
    assert [r["name"] for r in document["results"]] == ["uses_eph"]
    assert document["results"][0]["status"] == "success"
