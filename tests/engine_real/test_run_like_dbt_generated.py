"""`planalign run` against plain `dbt run` on the generated 150-model project (issue #12's done-when).

The jaffle_shop comparison (`test_run_like_dbt`) has a handful of models; this one has a DAG deep and wide
enough that the engine really runs models side by side, in three sub-directories and with a tag across them.
The base database is built once per module with plain dbt (seed + run); each selection form runs on two
copies of it — `planalign run` in this process on one, `dbt run` in its own process on the other — and the
two must agree: exit status, every model's table or view, and the nodes and statuses of
`target/run_results.json`, which must also be valid against dbt's v6 schema. The selections run with another
salt than the base was built with, so a model rebuilt by one run and not by the other shows in its table.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from planalign.cli import ExitStatus, main
from planalign.dbt.isolation import close_idle_databases
from tests.fixtures.genproject import GeneratedProject, generate_project

from .helpers import DBT_EXECUTABLE, BackgroundDbt, checksums
from .test_run_like_dbt import _run_results, _statuses, validate_run_results

pytestmark = pytest.mark.slow

N_MODELS = 150
GROUPS = 3
THREADS = "2"  # the CI machine has two cores
# Every model's contents are a function of its parents and the salt (`genproject`): the base is built with
# one salt and the selections run with another, so the tables show exactly which models each run rebuilt.
BASE_SALT, RUN_SALT = 0, 1


def _db(project: Path) -> Path:
    return project / "db" / "gen.duckdb"


def _vars(project: Path, salt: int) -> str:
    return json.dumps({"database_path": str(_db(project)), "salt": salt})


def _dbt_cmd(project: Path, *args: str, salt: int = RUN_SALT) -> list[str]:
    cmd = [DBT_EXECUTABLE, *args, "--project-dir", str(project), "--profiles-dir", str(project)]
    return [*cmd, "--vars", _vars(project, salt), "--threads", THREADS]


def _dbt(project: Path, *args: str, salt: int = RUN_SALT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_dbt_cmd(project, *args, salt=salt), capture_output=True, text=True, cwd=project)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> GeneratedProject:
    """The generated project with a database fully built by plain dbt (the seed and every model)."""
    project = generate_project(
        tmp_path_factory.mktemp("gen") / "base", n_models=N_MODELS, seed=20261202, groups=GROUPS
    )
    _db(project.project_dir).parent.mkdir()
    for command in (["seed"], ["run"]):
        proc = _dbt(project.project_dir, *command, salt=BASE_SALT)
        assert proc.returncode == 0, proc.stdout[-3000:]
    return project


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


@dataclass(frozen=True)
class Copies:
    """The two copies of the base project every selection runs on: planalign's and plain dbt's. They stay
    at the same paths for the whole module, so the vars (which name the database file) are the same for
    every selection and both sides parse the project once — the later selections reuse dbt's partial
    parse; `reset` puts back the base's database and removes the last run's results before each one."""

    base: GeneratedProject
    ours: Path
    theirs: Path

    def reset(self) -> None:
        # the last `planalign run` in this process may still hold its database open (dbt-duckdb keeps it)
        close_idle_databases(_db(self.ours))
        for copy in (self.ours, self.theirs):
            for leftover in (copy / "target" / "run_results.json", _db(copy).with_name("gen.duckdb.wal")):
                leftover.unlink(missing_ok=True)
            shutil.copyfile(_db(self.base.project_dir), _db(copy))


@pytest.fixture(scope="module")
def copies(base: GeneratedProject, tmp_path_factory: pytest.TempPathFactory) -> Copies:
    root = tmp_path_factory.mktemp("gen_copies")
    ours = Path(shutil.copytree(base.project_dir, root / "planalign"))
    theirs = Path(shutil.copytree(base.project_dir, root / "dbt"))
    return Copies(base, ours, theirs)


@pytest.mark.parametrize("selection", list(SELECTIONS.values()), ids=list(SELECTIONS))
def test_selection_on_the_generated_project_runs_like_dbt_run(
    base: GeneratedProject,
    copies: Copies,
    selection: Callable[[GeneratedProject], list[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = selection(base)
    copies.reset()
    ours, theirs = copies.ours, copies.theirs

    # plain dbt builds its copy in its own process while planalign runs on the other
    plain = BackgroundDbt(_dbt_cmd(theirs, "run", *args), theirs, theirs.parent / "dbt.out")
    try:
        code = main(
            ["run", "--project-dir", str(ours), "--vars", _vars(ours, RUN_SALT), "--threads", THREADS, *args]
        )
        out = capsys.readouterr()
        assert code == ExitStatus.OK, out.out + out.err
        proc = plain.wait()
    finally:
        plain.kill()
    assert proc.returncode == 0, proc.stdout[-3000:]

    assert checksums(_db(ours), base.model_names) == checksums(_db(theirs), base.model_names)
    our_results, their_results = _run_results(ours), _run_results(theirs)
    validate_run_results(our_results)
    assert _statuses(our_results) == _statuses(their_results)
    assert _statuses(our_results)  # the selection ran something
