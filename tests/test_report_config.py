"""`report:` in simulation_config.yaml (issue #22's leftover): a team sets the report's title, client and
preparer once in the configuration instead of on every command line. The command-line flags win; a bad
value is refused at load (exit 2) naming the key; the keys never change a simulation's results.

Fast: configuration loading and the label composition only (the write of labels.json by `simulate` is
covered with flags by tests/report/test_client_safe_report.py).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from planalign.cli import main
from planalign.cli.simulate import run_labels
from planalign.errors import ConfigError
from planalign.simulation.config_loading import load_simulation_config
from planalign.simulation.run_labels import ReportLabels

REPO = Path(__file__).resolve().parents[1]


def _config(tmp_path: Path, report: Mapping[str, object] | None) -> Path:
    document = yaml.safe_load((REPO / "simulation_config.yaml").read_text())
    document["simulation"]["census_path"] = str(REPO / document["simulation"]["census_path"])
    document["dbt"] = {**document.get("dbt", {}), "project_dir": str(REPO / "dbt_project")}
    if report is None:
        document.pop("report", None)
    else:
        document["report"] = dict(report)
    path = tmp_path / "simulation_config.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_the_report_section_gives_the_labels(tmp_path: Path) -> None:
    report = {"title": " Plan design review ", "client": "Acme Corp", "prepared_by": "Plan Team"}
    config = load_simulation_config(_config(tmp_path, report))
    assert config.report.labels() == ReportLabels(
        title="Plan design review", client="Acme Corp", prepared_by="Plan Team"
    )


def test_without_the_section_there_are_no_labels(tmp_path: Path) -> None:
    assert load_simulation_config(_config(tmp_path, None)).report.labels() == ReportLabels()


def test_flags_win_over_the_configuration(tmp_path: Path) -> None:
    config = load_simulation_config(_config(tmp_path, {"title": "From the file", "client": "Acme Corp"}))
    args = argparse.Namespace(name="run one", title="From the flag", client=None, prepared_by=None)
    assert run_labels(args, config) == ReportLabels(name="run one", title="From the flag", client="Acme Corp")


def test_the_environment_sets_a_label(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANALIGN_REPORT__CLIENT", "Globex")
    config = load_simulation_config(_config(tmp_path, {"client": "Acme Corp"}))
    assert config.report.labels().client == "Globex"


@pytest.mark.parametrize(
    ("value", "problem"),
    [("a\nb", "control character"), ("", "must not be empty"), ("x" * 121, "characters long"), (7, "text")],
)
def test_a_bad_label_is_refused_naming_the_key(tmp_path: Path, value: object, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_simulation_config(_config(tmp_path, {"title": value}))
    assert "report.title" in str(caught.value) and problem in str(caught.value)


def test_validate_refuses_a_bad_label_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _config(tmp_path, {"prepared_by": "a\x1b[2Jb"})
    assert main(["validate", "--config", str(path)]) == 2
    assert "report.prepared_by" in capsys.readouterr().err


def test_an_unknown_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"report\.subtitle: unknown key"):
        load_simulation_config(_config(tmp_path, {"subtitle": "x"}))


def test_labels_never_change_the_results_digest(tmp_path: Path) -> None:
    plain = load_simulation_config(_config(tmp_path, None))
    labelled = load_simulation_config(_config(tmp_path, {"title": "Plan design review"}))
    assert plain.results_digest() == labelled.results_digest()
