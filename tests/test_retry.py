"""`planalign retry`: the failed and skipped models of the last `planalign run`, run again with that run's
`--vars` and flags — not the vars of retry's own command line, which is what `dbt retry` does
(dbt-labs/dbt-core#9112). The real `planalign run` is replaced by a recorder: what is checked is what
retry hands it, built from a run_results.json that `planalign run`'s own recorder (`_artifact_args`) wrote."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from planalign.cli import build_parser, main
from planalign.cli._common import ExitStatus
from planalign.cli.run import _artifact_args, parse_vars

RUN_FLAGS = [
    "--vars",
    "{salt: 7, start: '2025-01-01', rates: {merit: 0.03}}",
    "--threads",
    "3",
    "--target",
    "ci",
    "--models-per-invocation",
    "1",
    "--max-retries",
    "0",
    "--default-class",
    "sequential",
    "--full-refresh",
    "--fail-fast",
    "--log-format",
    "text",
]


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "proj"
    (project / "profiles").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: proj\nprofile: proj\n")
    return project


def _last_run(project: Path, statuses: dict[str, str]) -> argparse.Namespace:
    """Write target/run_results.json as `planalign run` with RUN_FLAGS would, with these model statuses."""
    args = build_parser().parse_args(
        ["run", "--project-dir", str(project), "--profiles-dir", str(project / "profiles"), *RUN_FLAGS]
    )
    document = {
        "results": [
            {"unique_id": "operation.proj.proj-on-run-start-0", "status": "error"},
            *({"unique_id": f"model.proj.{name}", "status": s} for name, s in statuses.items()),
        ],
        "args": _artifact_args(args, parse_vars(args.vars)),
    }
    (project / "target").mkdir()
    (project / "target" / "run_results.json").write_text(json.dumps(document, default=str))
    return args


def test_retry_reruns_the_failed_and_skipped_models_with_the_original_vars_and_flags(
    tmp_path: Path, recorded_runs: list[argparse.Namespace]
) -> None:
    project = _project(tmp_path)
    original = _last_run(
        project, {"orders": "success", "payments": "error", "customers": "skipped", "stg": "success"}
    )
    # retry's own command line has no --vars: the original run's are the only ones used
    assert main(["retry", "--project-dir", str(project)]) == ExitStatus.OK
    [rerun] = recorded_runs
    assert rerun.select == ["customers", "payments"] and rerun.exclude == []
    assert (
        parse_vars(rerun.vars)
        == parse_vars(original.vars)
        == {
            "salt": 7,
            "start": "2025-01-01",
            "rates": {"merit": 0.03},
        }
    )
    for flag in (
        "target",
        "workers",
        "models_per_invocation",
        "max_retries",
        "default_class",
        "full_refresh",
        "fail_fast",
        "log_format",
    ):
        assert getattr(rerun, flag) == getattr(original, flag), flag
    assert rerun.project_dir == project.resolve()
    assert rerun.profiles_dir == (project / "profiles").resolve()
    assert _artifact_args(rerun, parse_vars(rerun.vars))["which"] == "retry"


def test_nothing_to_retry_when_every_model_built(
    tmp_path: Path, recorded_runs: list[argparse.Namespace], capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path)
    _last_run(project, {"orders": "success"})
    assert main(["retry", "--project-dir", str(project)]) == ExitStatus.OK
    assert recorded_runs == []
    assert "Nothing to retry" in capsys.readouterr().out


def test_retry_refuses_results_it_cannot_retry_from(
    tmp_path: Path, recorded_runs: list[argparse.Namespace], capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path)
    assert main(["retry", "--project-dir", str(project)]) == ExitStatus.USAGE
    assert "run `planalign run` first" in capsys.readouterr().err
    (project / "target").mkdir()
    dbt_written = {"results": [{"unique_id": "model.proj.a", "status": "error"}], "args": {"which": "run"}}
    (project / "target" / "run_results.json").write_text(json.dumps(dbt_written))
    assert main(["retry", "--project-dir", str(project)]) == ExitStatus.USAGE
    assert "not written by `planalign run`" in capsys.readouterr().err
    assert recorded_runs == []
