"""Designs × seeds into members, and the `scenarios` var: ids, order, and only the differing parameters."""

from __future__ import annotations

import pytest

from planalign.scenarios.expansion import Member, differing_vars, expand, scenarios_var
from planalign.scenarios.scenario_file import load_scenario_file

from .conftest import ScenarioWriter

FILE = """
scenarios:
  match_4pct:
    overrides: {match: {tiers: [{employee_max: 0.04, match_rate: 1.0}], cap_rate: 0.04}}
  same_as_baseline:
    overrides:
      match: {tiers: [{employee_max: 0.03, match_rate: 1.0}, {employee_max: 0.05, match_rate: 0.5}]}
seeds: [42, 7]
"""


def test_members_are_every_design_with_every_seed_baseline_first(write_scenarios: ScenarioWriter) -> None:
    members = expand(load_scenario_file(write_scenarios(FILE)))
    assert [(m.scenario_id, m.scenario_name, m.random_seed) for m in members] == [
        ("baseline__s42", "baseline", 42),
        ("baseline__s7", "baseline", 7),
        ("match_4pct__s42", "match_4pct", 42),
        ("match_4pct__s7", "match_4pct", 7),
        ("same_as_baseline__s42", "same_as_baseline", 42),
        ("same_as_baseline__s7", "same_as_baseline", 7),
    ]


def test_a_members_vars_are_the_parameters_that_differ_from_the_top_level(
    write_scenarios: ScenarioWriter,
) -> None:
    scenarios = load_scenario_file(write_scenarios(FILE))
    baseline, match, same = scenarios.designs
    top = baseline.config
    assert differing_vars(baseline.config, top) == {}
    assert differing_vars(match.config, top) == {
        "match_tiers": [{"employee_max": 0.04, "match_rate": 1.0}],
        "match_cap_rate": 0.04,
    }
    # Overrides that restate the baseline's values change nothing.
    assert differing_vars(same.config, top) == {}
    var = scenarios_var(expand(scenarios))
    assert var[2] == {
        "scenario_id": "match_4pct__s42",
        "scenario_name": "match_4pct",
        "random_seed": 42,
        "vars": {"match_tiers": [{"employee_max": 0.04, "match_rate": 1.0}], "match_cap_rate": 0.04},
    }
    assert all(set(item) == {"scenario_id", "scenario_name", "random_seed", "vars"} for item in var)
    # A member never carries a run-identity var (the dbt project refuses them in a scenario).
    identity = set(top.dbt_vars(2025)) - set(top.parameter_vars()) | {"census_max_reject_share"}
    assert "random_seed" in identity and "census_path" in identity
    for item in var:
        assert not set(item["vars"]) & identity


def test_a_parameter_the_baseline_leaves_to_the_seeds_is_passed_when_a_design_sets_it(
    write_scenarios: ScenarioWriter,
) -> None:
    """The baseline config leaves match.cap_rate unset (the dbt project's seed value); a design setting it
    must pass it, whatever the seed says."""
    scenarios = load_scenario_file(
        write_scenarios("scenarios: {capped: {overrides: {match: {cap_rate: 0.05}}}}")
    )
    baseline, capped = scenarios.designs
    assert "match_cap_rate" not in baseline.config.parameter_vars()
    assert differing_vars(capped.config, baseline.config) == {"match_cap_rate": 0.05}


def test_ids_are_checked_and_must_be_unique() -> None:
    with pytest.raises(ValueError, match="does not match"):
        Member("has space__s1", "has space", 1)
    twice = (Member("a__s1", "a", 1), Member("a__s1", "a", 1))
    with pytest.raises(ValueError, match="repeat"):
        scenarios_var(twice)
