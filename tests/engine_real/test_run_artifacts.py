"""run_results.json as dbt tooling reads it (issue #26 items 3, 4 and 5), against plain `dbt run`'s on the
jaffle_shop-shaped project and on the generated project.

A run with a broken model, side by side with dbt: the same nodes and statuses, `args` with dbt's keys (and
dbt's values for the flags given), a `compile` and an `execute` timing entry for every node that ran, a null
message for a node skipped because its parent failed, an `elapsed_time` without the parse, the file accepted
by dbt's own artifact parser, the "compiled code at" hint, and — with no `--threads` — the profile's threads.
A selection of nothing: dbt's "Nothing to do", exit 0, and the same empty run_results.json.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from planalign.cli import ExitStatus, main
from planalign.engine.results import RUN_RESULTS_FILENAME
from tests.fixtures.genproject import generate_project

from .helpers import DBT_EXECUTABLE, BackgroundDbt
from .test_run_like_dbt import (
    _dbt_cmd,
    _run_results,
    _statuses,
    _vars,
    jaffle_base,
    validate_run_results,
)

pytestmark = pytest.mark.slow

#: The keys whose values depend on where each copy is, or on what was typed.
PER_COPY = {"project_dir", "profiles_dir", "log_path", "vars", "invocation_command"}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """test_run_like_dbt's built project, shared (read-only: the tests copy it)."""
    return jaffle_base(tmp_path_factory)


@pytest.fixture(scope="module")
def failed_run(base: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int, str, Any]:
    """One run with `stg_orders` broken, by planalign and by dbt: (ours, theirs, our exit, our output,
    dbt's finished process). No --threads: both take the profile's (4)."""
    root = tmp_path_factory.mktemp("jaffle_artifact_runs")
    ours, theirs = Path(shutil.copytree(base, root / "ours")), Path(shutil.copytree(base, root / "dbt"))
    broken = "{{ config(materialized='table') }} select cast('not a number' as integer) as order_id\n"
    for project in (ours, theirs):
        (project / "models" / "staging" / "stg_orders.sql").write_text(broken)
    plain = BackgroundDbt(_dbt_cmd(theirs, "run"), theirs, root / "dbt.out")
    capture = root / "ours.out"
    try:
        with capture.open("w") as sink, contextlib.redirect_stdout(sink):
            code = main(["run", "--project-dir", str(ours), "--vars", _vars(ours), "--max-retries", "0"])
        proc = plain.wait()
    finally:
        plain.kill()
    return ours, theirs, code, capture.read_text(), proc


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.rstrip("Z"))


def test_exit_nodes_and_statuses_are_dbts(failed_run: tuple[Path, Path, int, str, Any]) -> None:
    ours, theirs, code, out, proc = failed_run
    assert proc.returncode == 1 and code == ExitStatus.FAILURE, out
    document, reference = _run_results(ours), _run_results(theirs)
    validate_run_results(document)
    assert _statuses(document) == _statuses(reference)
    assert [r["unique_id"] for r in document["results"] if not r["unique_id"].startswith("model.")] == [
        r["unique_id"] for r in reference["results"] if not r["unique_id"].startswith("model.")
    ]


def test_args_hold_dbts_flags_as_dbt_writes_them(failed_run: tuple[Path, Path, int, str, Any]) -> None:
    ours, theirs, *_ = failed_run
    args, reference = _run_results(ours)["args"], _run_results(theirs)["args"]
    assert set(args) == set(reference)
    assert {k: v for k, v in args.items() if k not in PER_COPY} == {
        k: v for k, v in reference.items() if k not in PER_COPY
    }
    assert args["project_dir"] == str(ours) and args["invocation_command"].startswith("planalign ")
    # planalign's own flags are in planalign's file, not dbt's
    ours_only = json.loads((ours / "target" / RUN_RESULTS_FILENAME).read_text())["args"]
    assert ours_only["models_per_invocation"] >= 1 and "models_per_invocation" not in args
    assert ours_only["threads"] == 4  # the profile's threads, as dbt


def test_timing_has_dbts_compile_and_execute_steps(failed_run: tuple[Path, Path, int, str, Any]) -> None:
    ours, theirs, *_ = failed_run

    def steps(document: dict[str, Any]) -> dict[str, list[str]]:
        return {r["unique_id"]: [t["name"] for t in r["timing"]] for r in document["results"]}

    assert steps(_run_results(ours)) == steps(_run_results(theirs))
    for row in _run_results(ours)["results"]:
        for step in row["timing"]:
            assert _time(step["started_at"]) <= _time(step["completed_at"]), row["unique_id"]


def test_a_node_skipped_for_a_failed_parent_has_a_null_message(
    failed_run: tuple[Path, Path, int, str, Any],
) -> None:
    ours, theirs, *_ = failed_run
    for document in (_run_results(ours), _run_results(theirs)):
        skipped = [r for r in document["results"] if r["status"] == "skipped"]
        assert skipped and all(r["message"] is None for r in skipped)


def test_elapsed_time_leaves_out_the_parse(failed_run: tuple[Path, Path, int, str, Any]) -> None:
    """dbt's `elapsed_time` starts at its on-run-start hooks, after the parse: it covers the span of the
    nodes, and together with the parse and selection (which the run prints) it fits in the invocation."""
    import re

    ours, _, _, out, _ = failed_run
    document = _run_results(ours)
    starts = [_time(t["started_at"]) for r in document["results"] for t in r["timing"]]
    ends = [_time(t["completed_at"]) for r in document["results"] for t in r["timing"]]
    invoked = _time(document["metadata"]["invocation_started_at"])
    generated = _time(document["metadata"]["generated_at"])
    match = re.search(r"parsed and selected in ([0-9.]+)s", out)
    assert match, out
    parse_s = float(match.group(1)) - 0.05  # printed to 0.1 s
    assert (max(ends) - min(starts)).total_seconds() <= document["elapsed_time"]
    assert document["elapsed_time"] + parse_s <= (generated - invoked).total_seconds()


def test_dbts_own_artifact_parser_reads_it(failed_run: tuple[Path, Path, int, str, Any]) -> None:
    from dbt.artifacts.schemas.run import RunResultsArtifact

    ours, *_ = failed_run
    parsed = RunResultsArtifact.read_and_check_versions(str(ours / "target" / "run_results.json"))
    assert {r.unique_id for r in parsed.results} == set(_statuses(_run_results(ours))) | {
        r["unique_id"] for r in _run_results(ours)["results"] if not r["unique_id"].startswith("model.")
    }


def test_a_failure_names_its_compiled_code_as_dbt_does(failed_run: tuple[Path, Path, int, str, Any]) -> None:
    ours, _, _, out, proc = failed_run
    hint = "compiled code at target/compiled/jaffle_shop/models/staging/stg_orders.sql"
    assert hint in proc.stdout
    assert hint in out
    assert (ours / "target" / "compiled" / "jaffle_shop" / "models" / "staging" / "stg_orders.sql").is_file()


def test_a_selection_of_nothing_is_dbts_nothing_to_do(
    base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ours, theirs = (
        Path(shutil.copytree(base, tmp_path / "ours")),
        Path(shutil.copytree(base, tmp_path / "dbt")),
    )
    plain = BackgroundDbt(_dbt_cmd(theirs, "run", "-s", "nope"), theirs, tmp_path / "dbt.out")
    try:
        code = main(["run", "--project-dir", str(ours), "--vars", _vars(ours), "-s", "nope"])
        out = capsys.readouterr()
        proc = plain.wait()
    finally:
        plain.kill()
    message = "Nothing to do. Try checking your model configs and model specification args"
    assert proc.returncode == 0 and message in proc.stdout
    assert code == ExitStatus.OK and message in out.out
    assert "The selection criterion 'nope' does not match any enabled nodes" in out.err
    document, reference = _run_results(ours), _run_results(theirs)
    validate_run_results(document)
    assert document["results"] == reference["results"] == []
    assert document["elapsed_time"] == reference["elapsed_time"] == 0.0
    assert set(document["args"]) == set(reference["args"])
    assert document["args"]["select"] == reference["args"]["select"] == ["nope"]


def test_generated_project_artifact_args_and_timing_are_dbts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same on the generated project, with flags given (threads, --empty, --fail-fast off)."""
    project = generate_project(tmp_path / "gen", n_models=12, seed=5).project_dir
    ours, theirs = project, Path(shutil.copytree(project, tmp_path / "gen_dbt"))
    flags = ["--threads", "2", "--empty"]

    def vars_of(p: Path) -> str:
        return json.dumps({"database_path": str(p / "db" / "gen.duckdb"), "salt": 1})

    def dbt(p: Path, *args: str) -> BackgroundDbt:
        cmd = [DBT_EXECUTABLE, *args, "--project-dir", str(p), "--profiles-dir", str(p), "--vars", vars_of(p)]
        return BackgroundDbt(cmd, p, tmp_path / f"{p.name}.{args[0]}.out")

    for p in (ours, theirs):
        (p / "db").mkdir(exist_ok=True)
        done = dbt(p, "seed").wait()
        assert done.returncode == 0, done.stdout[-2000:]
    plain = dbt(theirs, "run", *flags)
    try:
        code = main(["run", "--project-dir", str(ours), "--vars", vars_of(ours), *flags])
        out = capsys.readouterr()
        proc = plain.wait()
    finally:
        plain.kill()
    assert proc.returncode == 0 and code == ExitStatus.OK, out.out + out.err
    document, reference = _run_results(ours), _run_results(theirs)
    validate_run_results(document)
    assert _statuses(document) == _statuses(reference)
    assert set(document["args"]) == set(reference["args"])
    assert {k: v for k, v in document["args"].items() if k not in PER_COPY} == {
        k: v for k, v in reference["args"].items() if k not in PER_COPY
    }
    names = {r["unique_id"]: [t["name"] for t in r["timing"]] for r in document["results"]}
    assert names == {r["unique_id"]: [t["name"] for t in r["timing"]] for r in reference["results"]}
