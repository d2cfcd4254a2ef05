"""`planalign run` with the dbt flags a dbt user types (issue #26 item 2), each side by side with plain
`dbt run` on the jaffle_shop-shaped project: the same exit status, the same tables, the same nodes and
statuses in run_results.json (read from the flag's target path where it has one).

The base is test_run_like_dbt's (built once per test run by plain dbt), copied with a selectors.yml and the
manifest of that build kept as `state/`. Plain dbt's result of every case is computed in one separate process
(`dbt_references`, on its own copy, reset before each case) while planalign runs each case in this process on
one copy, reset from the base before each case — so both sides parse fully once and reuse dbt's partial parse
afterwards. The refusals (deferral, an undefined selector, a state directory without a manifest) are fast
tests: they are refused before the parse.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from planalign.cli import ExitStatus, main
from planalign.dbt.isolation import close_idle_databases
from tests.fixtures.jaffle import DATABASE_FILE, PROJECT_NAME, TABLES, write_jaffle_project

from .dbt_references import DbtReferences, ReferenceCase
from .helpers import checksums
from .test_run_like_dbt import _db, _dbt_cmd, _statuses, _vars, jaffle_base, validate_run_results

SELECTORS_YML = """\
selectors:
  - name: marts
    definition:
      method: path
      value: models/marts
"""

CUSTOMERS = "models/marts/customers.sql"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project built by plain dbt (seeds and every model; test_run_like_dbt's shared build), with a
    selectors.yml and the manifest of that build kept as `state/` for `state:` selectors."""
    project = Path(
        shutil.copytree(jaffle_base(tmp_path_factory), tmp_path_factory.mktemp("jaffle_flags") / "base")
    )
    (project / "selectors.yml").write_text(SELECTORS_YML)
    (project / "state").mkdir()
    shutil.copy(project / "target" / "manifest.json", project / "state" / "manifest.json")
    return project


@dataclass(frozen=True)
class Copy:
    """planalign's copy of the base, at one path for the module; `reset` puts back the base's database,
    models and profile and removes the last case's results."""

    base: Path
    ours: Path

    def reset(self) -> None:
        close_idle_databases(_db(self.ours))
        for target in ("target", "alt"):
            (self.ours / target / "run_results.json").unlink(missing_ok=True)
        _db(self.ours).with_name(DATABASE_FILE + ".wal").unlink(missing_ok=True)
        shutil.copyfile(_db(self.base), _db(self.ours))
        shutil.rmtree(self.ours / "models")
        shutil.copytree(self.base / "models", self.ours / "models")
        shutil.copyfile(self.base / "profiles.yml", self.ours / "profiles.yml")


@pytest.fixture(scope="module")
def copy(base: Path, tmp_path_factory: pytest.TempPathFactory) -> Copy:
    return Copy(base, Path(shutil.copytree(base, tmp_path_factory.mktemp("jaffle_flag_copies") / "ours")))


def _customers_modified(base: Path) -> dict[str, str]:
    """customers.sql changed since the state was saved (relative path → new text)."""
    return {CUSTOMERS: (base / CUSTOMERS).read_text() + "\n-- changed since the state was saved\n"}


def _profile_with_two_threads(base: Path) -> dict[str, str]:
    """The profile saying 2 threads (the fixture's says 4)."""
    text = (base / "profiles.yml").read_text()
    assert "threads: 4" in text
    return {"profiles.yml": text.replace("threads: 4", "threads: 2")}


def _write(project: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        (project / relative).write_text(text)


@dataclass(frozen=True)
class Case:
    args: Callable[[Path], list[str]]  # the flags, for a copy (paths in them are the copy's)
    exit: int
    target: str = "target"
    writes: Callable[[Path], dict[str, str]] = field(default=lambda base: {})  # files changed (from the base)
    silent: bool = False  # prints nothing on stdout, as dbt's


CASES: dict[str, Case] = {
    "--selector from selectors.yml": Case(lambda p: ["--selector", "marts"], 0),
    "--empty": Case(lambda p: ["--empty", "-s", "stg_orders", "orders"], 0),
    "--state with state:modified+": Case(
        lambda p: ["--state", str(p / "state"), "-s", "state:modified+"], 0, writes=_customers_modified
    ),
    "--indirect-selection": Case(lambda p: ["--indirect-selection", "cautious", "-s", "orders"], 0),
    "--no-partial-parse": Case(lambda p: ["--no-partial-parse", "-s", "customers"], 0),
    "--target-path": Case(lambda p: ["--target-path", "alt", "-s", "orders"], 0, target="alt"),
    "--warn-error": Case(lambda p: ["--warn-error", "-s", "orders"], 0),
    "--warn-error with a selector matching nothing": Case(
        lambda p: ["--warn-error", "-s", "nope", "orders"], 2
    ),
    "--warn-error-options": Case(
        lambda p: [
            "--warn-error-options",
            '{"error": ["NoNodesForSelectionCriteria"]}',
            "-s",
            "nope",
            "orders",
        ],
        2,
    ),
    "a selector matching nothing beside one that matches": Case(lambda p: ["-s", "nope", "orders"], 0),
    "-q": Case(lambda p: ["-q", "-s", "orders"], 0, silent=True),
    "--log-level warn": Case(lambda p: ["--log-level", "warn", "-s", "orders"], 0, silent=True),
}
#: The reference of test_without_threads_the_profiles_threads_are_used_as_dbt_does.
PROFILE_THREADS = "the profile's threads"


@pytest.fixture(scope="module")
def references(base: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DbtReferences]:
    """Plain dbt's result of every case, computed in one process started with the module."""
    workdir = tmp_path_factory.mktemp("jaffle_flag_references")
    project = workdir / "project"
    cases = [
        ReferenceCase(name, _dbt_cmd(project, "run", *c.args(project))[1:], c.writes(base), c.target)
        for name, c in CASES.items()
    ]
    cases.append(
        ReferenceCase(
            PROFILE_THREADS, _dbt_cmd(project, "run", "-s", "orders")[1:], _profile_with_two_threads(base)
        )
    )
    refs = DbtReferences(base, workdir, cases, database=f"db/{DATABASE_FILE}")
    try:
        yield refs
    finally:
        refs.kill()


def _results(project: Path, target: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((project / target / "run_results.json").read_text())
    return document


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_flag_runs_like_dbt_run(
    copy: Copy, references: DbtReferences, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES[name]
    copy.reset()
    ours = copy.ours
    _write(ours, case.writes(copy.base))
    code = main(["run", "--project-dir", str(ours), "--vars", _vars(ours), *case.args(ours)])
    out = capsys.readouterr()
    reference = references.get(name)
    theirs = reference.project
    assert reference.returncode == case.exit, reference.stdout[-3000:]
    assert code == case.exit, out.out + out.err
    if case.exit == ExitStatus.USAGE:
        assert "does not match any enabled nodes" in out.err
        return
    assert checksums(_db(ours), list(TABLES)) == checksums(_db(theirs), list(TABLES))
    document, reference_document = _results(ours, case.target), _results(theirs, case.target)
    validate_run_results(document)
    assert _statuses(document) == _statuses(reference_document)
    assert _statuses(document), "the case ran something"
    if case.silent:
        dbt_lines = [line for line in reference.stdout.splitlines() if line.strip()]
        assert not dbt_lines, reference.stdout
        assert not out.out.strip(), out.out


def test_state_modified_selects_what_dbt_selects(copy: Copy, capsys: pytest.CaptureFixture[str]) -> None:
    """The node set of `state:modified+` is dbt's: the changed model and its descendants only."""
    copy.reset()
    ours = copy.ours
    _write(ours, _customers_modified(copy.base))
    code = main(["run", "--project-dir", str(ours), "--vars", _vars(ours), "--state", str(ours / "state")])
    capsys.readouterr()
    assert code == ExitStatus.OK
    state = ["--state", str(ours / "state")]
    code = main(["run", "--project-dir", str(ours), "--vars", _vars(ours), *state, "-s", "state:modified+"])
    capsys.readouterr()
    assert code == ExitStatus.OK
    assert set(_statuses(_results(ours, "target"))) == {f"model.{PROJECT_NAME}.customers"}


# ---- refused or checked before the parse (fast) ----------------------------------------------------------


@pytest.fixture
def unbuilt(tmp_path: Path) -> Path:
    return write_jaffle_project(tmp_path / "proj")


@pytest.mark.parametrize("flag", [["--defer"], ["--favor-state"], ["--defer-state", "elsewhere"]])
def test_deferral_is_refused_before_the_parse_naming_why_and_the_alternative(
    unbuilt: Path, flag: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--project-dir", str(unbuilt), *flag]) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert flag[0] in err and "share one parsed manifest" in err and "dbt run --defer" in err
    assert not (unbuilt / "target").exists()  # nothing parsed


def test_a_selector_not_in_selectors_yml_is_refused_before_the_parse(
    unbuilt: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (unbuilt / "selectors.yml").write_text(SELECTORS_YML)
    assert main(["run", "--project-dir", str(unbuilt), "--selector", "nightly"]) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert "'nightly'" in err and "marts" in err and "selectors.yml" in err
    assert not (unbuilt / "target").exists()


def test_a_state_directory_without_a_manifest_is_refused_before_the_parse(
    unbuilt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["run", "--project-dir", str(unbuilt), "--state", str(tmp_path), "-s", "state:modified"]
    assert main(args) == ExitStatus.USAGE
    assert "manifest.json" in capsys.readouterr().err
    assert not (unbuilt / "target").exists()


def test_engine_warnings_go_through_planalign_log_not_a_librarys_basic_config(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """snowplow_tracker (imported by dbt) calls `logging.basicConfig()` at import: a planalign warning was
    printed as `WARNING:planalign.engine:...`. `configure_logging` (which `planalign run` calls) replaces that
    handler with planalign's."""
    import logging

    from planalign.log import configure_logging, get_logger

    root = logging.getLogger()
    saved = list(root.handlers), root.level
    try:
        basic = logging.StreamHandler()
        basic.setFormatter(logging.Formatter(logging.BASIC_FORMAT))
        root.addHandler(basic)  # what logging.basicConfig() installs
        configure_logging(fmt="console")
        get_logger("planalign.engine").warning("distinctive warning")
        err = capsys.readouterr().err
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    assert "distinctive warning" in err
    assert "WARNING:planalign.engine" not in err


@pytest.mark.slow
def test_without_threads_the_profiles_threads_are_used_as_dbt_does(
    copy: Copy, references: DbtReferences, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #26 item 5: the default was 4 whatever the profile said. Here the profile says 2 (the fixture's
    says 4): dbt runs with 2 threads ("Concurrency: 2 threads") and so does planalign; `--threads` wins."""
    copy.reset()  # and again after the test: the profile is put back
    ours = copy.ours
    _write(ours, _profile_with_two_threads(copy.base))
    try:
        code = main(["run", "--project-dir", str(ours), "--vars", _vars(ours), "-s", "orders"])
        out = capsys.readouterr().out
        reference = references.get(PROFILE_THREADS)
        stdout, theirs = reference.stdout, reference.project
        assert reference.returncode == 0 and "Concurrency: 2 threads" in stdout, stdout[-2000:]
        assert code == ExitStatus.OK and "with up to 2 workers" in out, out
        recorded = json.loads((ours / "target" / "planalign_run_results.json").read_text())["args"]
        assert recorded["threads"] == 2
        assert "threads" not in _results(ours, "target")["args"]  # as dbt's, with no --threads given
        assert "threads" not in _results(theirs, "target")["args"]
        code = main(
            ["run", "--project-dir", str(ours), "--vars", _vars(ours), "-s", "orders", "--threads", "3"]
        )
        assert code == ExitStatus.OK and "with up to 3 workers" in capsys.readouterr().out
    finally:
        copy.reset()
