"""`planalign run` against plain `dbt run` on the generated 150-model project (issue #12's done-when).

The jaffle_shop comparison (`test_run_like_dbt`) has a handful of models; this one has a DAG deep and wide
enough that the engine really runs models side by side, in three sub-directories and with a tag across them.
Plain dbt, in one separate process (`dbt_references`), builds the base database (seed + run) and then runs
each selection form on its copy of it, reset before each; `planalign run` runs the same selection in this
process on another copy, reset from the base too — and the two must agree: exit status, every model's table
or view, and the nodes and statuses of `target/run_results.json`, which must also be valid against dbt's v6
schema. The selections run with another salt than the base was built with, so a model rebuilt by one run and
not by the other shows in its table.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from planalign.cli import ExitStatus, main
from planalign.dbt.isolation import close_idle_databases
from tests.fixtures.genproject import GeneratedProject, generate_project

from .dbt_references import DbtReferences, ReferenceCase
from .helpers import checksums
from .test_run_like_dbt import _run_results, _statuses, validate_run_results

pytestmark = pytest.mark.slow

N_MODELS = 150
GROUPS = 3
THREADS = "2"  # the CI machine has two cores
# Every model's contents are a function of its parents and the salt (`genproject`): the base is built with
# one salt and the selections run with another, so the tables show exactly which models each run rebuilt.
BASE_SALT, RUN_SALT = 0, 1
DATABASE = "db/gen.duckdb"


def _db(project: Path) -> Path:
    return project / DATABASE


def _vars(project: Path, salt: int) -> str:
    return json.dumps({"database_path": str(_db(project)), "salt": salt})


def _dbt_args(project: Path, *args: str, salt: int = RUN_SALT) -> list[str]:
    """dbt's arguments (without the executable) for `project`."""
    paths = ["--project-dir", str(project), "--profiles-dir", str(project)]
    return [*args, *paths, "--vars", _vars(project, salt), "--threads", THREADS]


def _middle(project: GeneratedProject, *, materialized: str | None = None) -> str:
    """The first model of the middle directory that reads other models (and has `materialized`)."""
    return next(
        m.name
        for m in project.models
        if m.directory == "g1" and m.parents and materialized in (None, m.materialized)
    )


def _late(project: GeneratedProject) -> str:
    """A model four fifths down the DAG, whose descendants are a real but modest part of it."""
    return next(m.name for m in project.models[N_MODELS * 4 // 5 :] if m.parents)


SELECTIONS: dict[str, Callable[[GeneratedProject], list[str]]] = {
    "one model": lambda p: ["-s", _middle(p)],
    "tag": lambda p: ["-s", f"tag:every_{GROUPS}"],
    "path": lambda p: ["-s", "path:models/g2"],
    "descendants": lambda p: ["-s", _late(p) + "+"],
    "exclude": lambda p: ["--exclude", _middle(p)],
    "full refresh of an incremental": lambda p: [
        "--full-refresh",
        "-s",
        _middle(p, materialized="incremental"),
    ],
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> GeneratedProject:
    """The generated project (its files; plain dbt builds its database in `references`)."""
    project = generate_project(
        tmp_path_factory.mktemp("gen") / "base", n_models=N_MODELS, seed=20261202, groups=GROUPS
    )
    _db(project.project_dir).parent.mkdir()
    return project


@pytest.fixture(scope="module")
def references(
    generated: GeneratedProject, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DbtReferences]:
    """Plain dbt in one process started with the module: it builds the base (the seed and every model, with
    the base's salt) in its own copy, saves it as `generated`'s directory, and then runs every selection
    there, one after another, each from the base's database."""
    workdir = tmp_path_factory.mktemp("gen_references")
    project = workdir / "project"
    setup = [_dbt_args(project, command, salt=BASE_SALT) for command in ("seed", "run")]
    cases = [
        ReferenceCase(name, _dbt_args(project, "run", *sel(generated))) for name, sel in SELECTIONS.items()
    ]
    refs = DbtReferences(generated.project_dir, workdir, cases, database=DATABASE, setup=setup)
    try:
        yield refs
    finally:
        refs.kill()


@pytest.fixture(scope="module")
def base(generated: GeneratedProject, references: DbtReferences) -> GeneratedProject:
    """The generated project with a database fully built by plain dbt (the seed and every model)."""
    references.wait_for_base()
    return generated


@dataclass(frozen=True)
class Ours:
    """planalign's copy of the base project. It stays at one path for the whole module, so the vars (which
    name the database file) are the same for every selection and planalign parses the project once — the
    later selections reuse dbt's partial parse; `reset` puts back the base's database and removes the last
    run's results before each one."""

    base: GeneratedProject
    project: Path

    def reset(self) -> None:
        # the last `planalign run` in this process may still hold its database open (dbt-duckdb keeps it)
        close_idle_databases(_db(self.project))
        for leftover in (
            self.project / "target" / "run_results.json",
            _db(self.project).with_name("gen.duckdb.wal"),
        ):
            leftover.unlink(missing_ok=True)
        shutil.copyfile(_db(self.base.project_dir), _db(self.project))


@pytest.fixture(scope="module")
def ours(base: GeneratedProject, tmp_path_factory: pytest.TempPathFactory) -> Ours:
    root = tmp_path_factory.mktemp("gen_copies")
    return Ours(base, Path(shutil.copytree(base.project_dir, root / "planalign")))


@pytest.mark.parametrize("name", list(SELECTIONS))
def test_selection_on_the_generated_project_runs_like_dbt_run(
    base: GeneratedProject,
    ours: Ours,
    references: DbtReferences,
    name: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = SELECTIONS[name](base)
    ours.reset()
    project = ours.project
    code = main(
        [
            "run",
            "--project-dir",
            str(project),
            "--vars",
            _vars(project, RUN_SALT),
            "--threads",
            THREADS,
            *args,
        ]
    )
    out = capsys.readouterr()
    assert code == ExitStatus.OK, out.out + out.err
    reference = references.get(name)
    assert reference.returncode == 0, reference.stdout[-3000:]
    theirs = reference.project

    assert checksums(_db(project), base.model_names) == checksums(_db(theirs), base.model_names)
    our_results, their_results = _run_results(project), _run_results(theirs)
    validate_run_results(our_results)
    assert _statuses(our_results) == _statuses(their_results)
    assert _statuses(our_results)  # the selection ran something
