"""A scenario file's `title:`, `client:` and `prepared_by:` (issue #22 item 2): checked like the command
line's flags, carried into the sweep's record, refused with exit 2 naming the key when not one short line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from planalign.scenarios.scenario_file import ScenarioFileError, load_scenario_file

from .conftest import ScenarioWriter

BASE = """
config: simulation_config.yaml
scenarios:
  match_4pct:
    overrides:
      match: {tiers: [{employee_max: 0.04, match_rate: 1.0}], cap_rate: 0.04}
seeds: 2
"""


def test_the_labels_are_read_and_carried(write_scenarios: ScenarioWriter) -> None:
    text = BASE + 'title: "Match redesign, 2025–2029"\nclient: Acme Corp\nprepared_by: "  Plan Team  "\n'
    scenarios = load_scenario_file(write_scenarios(text))
    assert scenarios.labels.title == "Match redesign, 2025–2029"
    assert scenarios.labels.client == "Acme Corp" and scenarios.labels.prepared_by == "Plan Team"
    assert scenarios.labels.to_dict() == {
        "title": "Match redesign, 2025–2029",
        "client": "Acme Corp",
        "prepared_by": "Plan Team",
    }


def test_a_file_without_them_has_none(write_scenarios: ScenarioWriter) -> None:
    assert load_scenario_file(write_scenarios(BASE)).labels.empty


@pytest.mark.parametrize(
    "line, problem",
    [('title: "two\\nlines"', "control character"), (f"client: {'x' * 130}", "at most 120"),
     ('prepared_by: ""', "must not be empty")],
)  # fmt: skip
def test_a_bad_label_is_refused_naming_the_key(
    write_scenarios: ScenarioWriter, line: str, problem: str
) -> None:
    with pytest.raises(ScenarioFileError) as caught:
        load_scenario_file(write_scenarios(BASE + line + "\n"))
    message = str(caught.value)
    assert line.split(":")[0] in message and problem in message


def test_the_baseline_configurations_report_section_fills_what_the_file_leaves_out(
    write_scenarios: ScenarioWriter, baseline_config: Path
) -> None:
    """The team's `report:` in simulation_config.yaml reaches sweep.json; the scenario file's words win."""
    from planalign.scenarios.sweep import plan_sweep, sweep_document

    document = yaml.safe_load(baseline_config.read_text())
    document["report"] = {"client": "Acme Corp", "prepared_by": "Plan Team"}
    baseline_config.write_text(yaml.safe_dump(document))
    plan = plan_sweep(load_scenario_file(write_scenarios(BASE + "client: Globex\n")))
    record = sweep_document(
        plan, status="running", config_digest="d", census_employees=1, designs=[], started_at="s",
        finished_at=None, elapsed_seconds=None,
    )  # fmt: skip
    assert (record["client"], record["prepared_by"]) == ("Globex", "Plan Team")
    assert "title" not in record
