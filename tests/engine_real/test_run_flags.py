"""`planalign run` with the dbt flags a dbt user types (issue #26 item 2), each side by side with plain
`dbt run` on the jaffle_shop-shaped project: the same exit status, the same tables, the same nodes and
statuses in run_results.json (read from the flag's target path where it has one).

One base is built with plain dbt per module; every case runs on the same two copies of it (planalign's in this
process, dbt's in its own process at the same time), reset from the base before each case, so that both
sides parse each copy fully once and reuse dbt's partial parse afterwards. The refusals (deferral, an
undefined selector, a state directory without a manifest) are fast tests: they are refused before the parse.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from planalign.cli import ExitStatus, main
from planalign.dbt.isolation import close_idle_databases
from tests.fixtures.jaffle import PROJECT_NAME, TABLES, write_jaffle_project

from .helpers import BackgroundDbt, checksums
from .test_run_like_dbt import _db, _dbt, _dbt_cmd, _statuses, _vars, validate_run_results

SELECTORS_YML = """\
selectors:
  - name: marts
    definition:
      method: path
      value: models/marts
"""


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project built by plain dbt (seeds and every model), with a selectors.yml and the manifest of that
    build kept as `state/` for `state:` selectors."""
    project = write_jaffle_project(tmp_path_factory.mktemp("jaffle_flags") / "base")
    (project / "selectors.yml").write_text(SELECTORS_YML)
    _db(project).parent.mkdir()
    for command in (["seed"], ["run"]):
        proc = _dbt(project, *command)
        assert proc.returncode == 0, proc.stdout[-3000:]
    (project / "state").mkdir()
    shutil.copy(project / "target" / "manifest.json", project / "state" / "manifest.json")
    return project


@dataclass(frozen=True)
class Copies:
    base: Path
    ours: Path
    theirs: Path

    def reset(self) -> None:
        close_idle_databases(_db(self.ours))
        for copy in (self.ours, self.theirs):
            for target in ("target", "alt"):
                (copy / target / "run_results.json").unlink(missing_ok=True)
            _db(copy).with_name(_db(copy).name + ".wal").unlink(missing_ok=True)
            shutil.copyfile(_db(self.base), _db(copy))
            shutil.rmtree(copy / "models")
            shutil.copytree(self.base / "models", copy / "models")


@pytest.fixture(scope="module")
def copies(base: Path, tmp_path_factory: pytest.TempPathFactory) -> Copies:
    root = tmp_path_factory.mktemp("jaffle_flag_copies")
    return Copies(base, Path(shutil.copytree(base, root / "ours")), Path(shutil.copytree(base, root / "dbt")))


def _modify_customers(project: Path) -> None:
    path = project / "models" / "marts" / "customers.sql"
    path.write_text(path.read_text() + "\n-- changed since the state was saved\n")


@dataclass(frozen=True)
class Case:
    args: Callable[[Path], list[str]]  # the flags, for a copy (paths in them are the copy's)
    exit: int
    target: str = "target"
    prepare: Callable[[Path], None] | None = None
    silent: bool = False  # prints nothing on stdout, as dbt's


CASES: dict[str, Case] = {
    "--selector from selectors.yml": Case(lambda p: ["--selector", "marts"], 0),
    "--empty": Case(lambda p: ["--empty", "-s", "stg_orders", "orders"], 0),
    "--state with state:modified+": Case(
        lambda p: ["--state", str(p / "state"), "-s", "state:modified+"], 0, prepare=_modify_customers
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


def _results(project: Path, target: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((project / target / "run_results.json").read_text())
    return document


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_flag_runs_like_dbt_run(copies: Copies, case: Case, capsys: pytest.CaptureFixture[str]) -> None:
    copies.reset()
    ours, theirs = copies.ours, copies.theirs
    if case.prepare is not None:
        case.prepare(ours)
        case.prepare(theirs)
    plain = BackgroundDbt(_dbt_cmd(theirs, "run", *case.args(theirs)), theirs, theirs.parent / "dbt.out")
    try:
        code = main(["run", "--project-dir", str(ours), "--vars", _vars(ours), *case.args(ours)])
        out = capsys.readouterr()
        proc = plain.wait()
    finally:
        plain.kill()
    assert proc.returncode == case.exit, proc.stdout[-3000:]
    assert code == case.exit, out.out + out.err
    if case.exit == ExitStatus.USAGE:
        assert "does not match any enabled nodes" in out.err
        return
    assert checksums(_db(ours), list(TABLES)) == checksums(_db(theirs), list(TABLES))
    document, reference = _results(ours, case.target), _results(theirs, case.target)
    validate_run_results(document)
    assert _statuses(document) == _statuses(reference)
    assert _statuses(document), "the case ran something"
    if case.silent:
        dbt_lines = [line for line in proc.stdout.splitlines() if line.strip()]
        assert not dbt_lines, proc.stdout
        assert not out.out.strip(), out.out


def test_state_modified_selects_what_dbt_selects(copies: Copies, capsys: pytest.CaptureFixture[str]) -> None:
    """The node set of `state:modified+` is dbt's: the changed model and its descendants only."""
    copies.reset()
    _modify_customers(copies.ours)
    ours = copies.ours
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
    copies: Copies, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #26 item 5: the default was 4 whatever the profile said. Here the profile says 2 (the fixture's
    says 4): dbt runs with 2 threads ("Concurrency: 2 threads") and so does planalign; `--threads` wins."""
    copies.reset()
    ours, theirs = copies.ours, copies.theirs
    profiles = {p: (p / "profiles.yml").read_text() for p in (ours, theirs)}
    try:
        for project, text in profiles.items():
            assert "threads: 4" in text
            (project / "profiles.yml").write_text(text.replace("threads: 4", "threads: 2"))
        plain = BackgroundDbt(_dbt_cmd(theirs, "run", "-s", "orders"), theirs, theirs.parent / "dbt.out")
        try:
            code = main(["run", "--project-dir", str(ours), "--vars", _vars(ours), "-s", "orders"])
            out = capsys.readouterr().out
            proc = plain.wait()
        finally:
            plain.kill()
        assert proc.returncode == 0 and "Concurrency: 2 threads" in proc.stdout, proc.stdout[-2000:]
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
        for project, text in profiles.items():
            (project / "profiles.yml").write_text(text)
