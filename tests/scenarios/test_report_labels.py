"""A scenario file's `title:`, `client:` and `prepared_by:` (issue #22 item 2): checked like the command
line's flags, carried into the sweep's record, refused with exit 2 naming the key when not one short line."""

from __future__ import annotations

import pytest

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
