"""run_results.json as dbt tooling reads it (issue #26 items 3, 4 and 5), against plain `dbt run`'s on the
jaffle_shop-shaped project and on the generated project.

A run with a broken model, side by side with dbt: the same nodes and statuses, `args` with dbt's keys (and
dbt's values for the flags given), a `compile` and an `execute` timing entry for every node that ran, a null
message for a node skipped because its parent failed, an `elapsed_time` without the parse, the file accepted
by dbt's own artifact parser, the "compiled code at" hint, and — with no `--threads` — the profile's threads.
A selection of nothing: dbt's "Nothing to do", exit 0, and the same empty run_results.json.

Plain dbt's side of each comparison is computed by one separate process per project (`dbt_references`: dbt
imported and the project parsed once), started with the module while planalign runs in this process.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from planalign.cli import ExitStatus, main
from planalign.engine.results import RUN_RESULTS_FILENAME
from tests.fixtures.genproject import generate_project
from tests.fixtures.jaffle import DATABASE_FILE

from .dbt_references import DbtReferences, Reference, ReferenceCase
from .test_run_like_dbt import (
    BROKEN_STG_ORDERS,
    STG_ORDERS,
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


#: The reference cases on the jaffle project: a run with `stg_orders` broken, and a selection of nothing.
FAILED, NOTHING = "failed run", "nothing selected"


@pytest.fixture(scope="module")
def references(base: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DbtReferences]:
    """Plain dbt's side of the jaffle comparisons, in one process started with the module. No --threads in
    the failed run: dbt takes the profile's (4)."""
    workdir = tmp_path_factory.mktemp("jaffle_artifact_references")
    project = workdir / "project"
    cases = [
        ReferenceCase(FAILED, _dbt_cmd(project, "run")[1:], writes={STG_ORDERS: BROKEN_STG_ORDERS}),
        ReferenceCase(NOTHING, _dbt_cmd(project, "run", "-s", "nope")[1:]),
    ]
    refs = DbtReferences(base, workdir, cases, database=f"db/{DATABASE_FILE}")
    try:
        yield refs
    finally:
        refs.kill()


@pytest.fixture(scope="module")
def failed_run(
    base: Path, references: DbtReferences, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, int, str, Reference]:
    """One run with `stg_orders` broken, by planalign and by dbt: (ours, theirs, our exit, our output,
    dbt's result). No --threads: both take the profile's (4)."""
    root = tmp_path_factory.mktemp("jaffle_artifact_runs")
    ours = Path(shutil.copytree(base, root / "ours"))
    (ours / STG_ORDERS).write_text(BROKEN_STG_ORDERS)
    capture = root / "ours.out"
    with capture.open("w") as sink, contextlib.redirect_stdout(sink):
        code = main(["run", "--project-dir", str(ours), "--vars", _vars(ours), "--max-retries", "0"])
    reference = references.get(FAILED)
    return ours, reference.project, code, capture.read_text(), reference


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.rstrip("Z"))


def test_exit_nodes_and_statuses_are_dbts(failed_run: tuple[Path, Path, int, str, Reference]) -> None:
    ours, theirs, code, out, proc = failed_run
    assert proc.returncode == 1 and code == ExitStatus.FAILURE, out + proc.stdout[-3000:]
    document, reference = _run_results(ours), _run_results(theirs)
    validate_run_results(document)
    assert _statuses(document) == _statuses(reference)
    assert [r["unique_id"] for r in document["results"] if not r["unique_id"].startswith("model.")] == [
        r["unique_id"] for r in reference["results"] if not r["unique_id"].startswith("model.")
    ]


def test_args_hold_dbts_flags_as_dbt_writes_them(failed_run: tuple[Path, Path, int, str, Reference]) -> None:
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


def test_timing_has_dbts_compile_and_execute_steps(
    failed_run: tuple[Path, Path, int, str, Reference],
) -> None:
    ours, theirs, *_ = failed_run

    def steps(document: dict[str, Any]) -> dict[str, list[str]]:
        return {r["unique_id"]: [t["name"] for t in r["timing"]] for r in document["results"]}

    assert steps(_run_results(ours)) == steps(_run_results(theirs))
    for row in _run_results(ours)["results"]:
        for step in row["timing"]:
            assert _time(step["started_at"]) <= _time(step["completed_at"]), row["unique_id"]


def test_a_node_skipped_for_a_failed_parent_has_a_null_message(
    failed_run: tuple[Path, Path, int, str, Reference],
) -> None:
    ours, theirs, *_ = failed_run
    for document in (_run_results(ours), _run_results(theirs)):
        skipped = [r for r in document["results"] if r["status"] == "skipped"]
        assert skipped and all(r["message"] is None for r in skipped)


def test_elapsed_time_leaves_out_the_parse(failed_run: tuple[Path, Path, int, str, Reference]) -> None:
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


def test_dbts_own_artifact_parser_reads_it(failed_run: tuple[Path, Path, int, str, Reference]) -> None:
    from dbt.artifacts.schemas.run import RunResultsArtifact

    ours, *_ = failed_run
    parsed = RunResultsArtifact.read_and_check_versions(str(ours / "target" / "run_results.json"))
    assert {r.unique_id for r in parsed.results} == set(_statuses(_run_results(ours))) | {
        r["unique_id"] for r in _run_results(ours)["results"] if not r["unique_id"].startswith("model.")
    }


def test_a_failure_names_its_compiled_code_as_dbt_does(
    failed_run: tuple[Path, Path, int, str, Reference],
) -> None:
    ours, _, _, out, proc = failed_run
    hint = "compiled code at target/compiled/jaffle_shop/models/staging/stg_orders.sql"
    assert hint in proc.stdout
    assert hint in out
    assert (ours / "target" / "compiled" / "jaffle_shop" / "models" / "staging" / "stg_orders.sql").is_file()


def test_a_selection_of_nothing_is_dbts_nothing_to_do(
    base: Path, references: DbtReferences, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ours = Path(shutil.copytree(base, tmp_path / "ours"))
    code = main(["run", "--project-dir", str(ours), "--vars", _vars(ours), "-s", "nope"])
    out = capsys.readouterr()
    proc = references.get(NOTHING)
    theirs = proc.project
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
    base = generate_project(tmp_path / "gen", n_models=12, seed=5).project_dir
    (base / "db").mkdir()
    flags = ["--threads", "2", "--empty"]

    def dbt_args(p: Path, *args: str) -> list[str]:
        return [*args, "--project-dir", str(p), "--profiles-dir", str(p), "--vars", vars_of(p)]

    def vars_of(p: Path) -> str:
        return json.dumps({"database_path": str(p / "db" / "gen.duckdb"), "salt": 1})

    # Plain dbt seeds its copy, saves it as the base (planalign's copy is taken from it, seeded), then runs.
    workdir = tmp_path / "references"
    project = workdir / "project"
    references = DbtReferences(
        base,
        workdir,
        [ReferenceCase("run", dbt_args(project, "run", *flags))],
        database="db/gen.duckdb",
        setup=[dbt_args(project, "seed")],
    )
    try:
        ours = Path(shutil.copytree(references.wait_for_base(), tmp_path / "ours"))
        code = main(["run", "--project-dir", str(ours), "--vars", vars_of(ours), *flags])
        out = capsys.readouterr()
        proc = references.get("run")
    finally:
        references.kill()
    theirs = proc.project
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
