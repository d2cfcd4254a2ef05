"""`planalign retry` runs the failed models again with every flag of the run it retries — also dbt's
pass-through flags `planalign run` accepts (issue #26: `--empty`, `--log-level`, `-q`, `--no-partial-parse`,
`--target-path`, `--warn-error`, `--warn-error-options`). The selection flags (`--selector`, `--state`,
`--indirect-selection`) are not carried: retry selects the failed models by name.

The records are written by the library's own recorders (`artifact_args` for run_results.json's `args` when
dbt does not report its own, `RunRecord.planalign_args` for planalign_run_results.json), as `planalign run`
writes them; the real `planalign run` is replaced by a recorder (tests/conftest.py `recorded_runs`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from planalign.cli import build_parser, main
from planalign.cli._common import ExitStatus
from planalign.cli.run import parse_vars, request_from_args
from planalign.cli.run_flags import flags_from_args
from planalign.engine.results import RUN_RESULTS_FILENAME
from planalign.project_run.request import RunRecord, artifact_args

PASS_THROUGH = [
    "--empty",
    "--log-level",
    "warn",
    "-q",
    "--no-partial-parse",
    "--warn-error",
    "--warn-error-options",
    "{include: all}",
]


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "dbt_project.yml").write_text("name: proj\nprofile: proj\n")
    (project / "selectors.yml").write_text("selectors:\n  - name: nightly\n    definition: 'tag:nightly'\n")
    return project


def _last_run(project: Path, extra: list[str], target: Path) -> argparse.Namespace:
    """Write both results files into `target` as `planalign run <extra>` would: one model failed."""
    args = build_parser().parse_args(
        ["run", "--project-dir", str(project), "--threads", "2", "--models-per-invocation", "1", *extra]
    )
    request = request_from_args(args, flags_from_args(args), parse_vars(args.vars))
    record = RunRecord(request, workers=2)
    document = {
        "metadata": {"invocation_id": record.invocation_id},
        "results": [
            {"unique_id": "model.proj.orders", "status": "success"},
            {"unique_id": "model.proj.payments", "status": "error"},
        ],
        "args": artifact_args(request),
    }
    target.mkdir(parents=True)
    (target / "run_results.json").write_text(json.dumps(document, default=str))
    (target / RUN_RESULTS_FILENAME).write_text(json.dumps({"args": record.planalign_args()}, default=str))
    return args


def test_retry_carries_every_pass_through_flag_of_the_run(
    tmp_path: Path, recorded_runs: list[argparse.Namespace]
) -> None:
    project = _project(tmp_path)
    original = _last_run(project, PASS_THROUGH, project / "target")
    assert main(["retry", "--project-dir", str(project)]) == ExitStatus.OK
    [rerun] = recorded_runs
    assert rerun.select == ["payments"]
    assert flags_from_args(rerun) == flags_from_args(original)


def test_retry_finds_a_run_written_under_another_target_path_and_keeps_it(
    tmp_path: Path, recorded_runs: list[argparse.Namespace], capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path)
    original = _last_run(project, ["--target-path", "out", "--empty"], project / "out")
    # without --target-path retry looks where dbt would (target/) and says so
    assert main(["retry", "--project-dir", str(project)]) == ExitStatus.USAGE
    assert "--target-path" in capsys.readouterr().err
    assert main(["retry", "--project-dir", str(project), "--target-path", "out"]) == ExitStatus.OK
    [rerun] = recorded_runs
    assert flags_from_args(rerun) == flags_from_args(original)
    assert flags_from_args(rerun).target_path == "out"


def test_retry_does_not_carry_the_selection_flags(
    tmp_path: Path, recorded_runs: list[argparse.Namespace]
) -> None:
    """The failed models are selected by name; a recorded selector or state would select others."""
    project = _project(tmp_path)
    _last_run(project, ["--selector", "nightly", "--indirect-selection", "cautious"], project / "target")
    assert main(["retry", "--project-dir", str(project)]) == ExitStatus.OK
    [rerun] = recorded_runs
    flags = flags_from_args(rerun)
    assert (flags.selector, flags.state, flags.indirect_selection) == (None, None, None)
    assert rerun.select == ["payments"]


def test_a_recorded_flag_of_the_wrong_type_is_refused(
    tmp_path: Path, recorded_runs: list[argparse.Namespace], capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path)
    _last_run(project, ["--empty"], project / "target")
    sidecar = project / "target" / RUN_RESULTS_FILENAME
    document = json.loads(sidecar.read_text())
    document["args"]["dbt_flags"] = {"empty": "yes please", "target_path": ["x"]}
    sidecar.write_text(json.dumps(document))
    assert main(["retry", "--project-dir", str(project)]) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert "dbt_flags" in err and "Traceback" not in err
    assert recorded_runs == []
