"""Sensitivities (issue #20 item 3): one assumption at a time at a low and a high value, for every design
and seed — the scenario file's `sensitivities:`, the members they add, the paired present-value
differences of the comparison, and the tornado chart of the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from planalign.report.comparison import write_comparison_report
from planalign.scenarios.comparison import YEARLY_METRICS, MemberYear, build_comparison
from planalign.scenarios.expansion import expand
from planalign.scenarios.scenario_file import ScenarioFileError, load_scenario_file
from planalign.scenarios.stats import present_value

from .conftest import ScenarioWriter

FILE = """
scenarios:
  richer:
    overrides: {contributions: {core_contribution_rate: 0.03}}
  turnover_design:
    overrides: {workforce: {total_termination_rate: 0.10}}
seeds: [7, 8]
sensitivities:
  turnover:
    description: experienced termination rate 8% / 16%
    low: {workforce: {total_termination_rate: 0.08}}
    high: {workforce.total_termination_rate: 0.16}
"""


def test_each_sensitivity_adds_every_design_at_its_low_and_high_value_with_the_same_seeds(
    write_scenarios: ScenarioWriter,
) -> None:
    scenarios = load_scenario_file(write_scenarios(FILE))
    [turnover] = scenarios.sensitivities
    assert turnover.low == {"workforce": {"total_termination_rate": 0.08}}
    assert turnover.high == {"workforce": {"total_termination_rate": 0.16}}  # the dotted key, nested
    members = expand(scenarios)
    extra = [m for m in members if m.sensitivity is not None]
    assert len(members) == 3 * 2 + 3 * 2 * 2 and len(extra) == 12
    assert {m.random_seed for m in extra} == {7, 8}
    by_name = {(m.scenario_name, m.random_seed): m for m in members}
    richer_low = by_name[("richer--turnover-low", 7)]
    assert richer_low.sensitivity == ("richer", "turnover", "low")
    assert richer_low.scenario_id == "richer--turnover-low__s7"
    # The design's own overrides and the sensitivity's, against the baseline's vars.
    assert richer_low.vars["core_contribution_rate"] == 0.03
    assert richer_low.vars["total_termination_rate"] == 0.08
    # A key both set takes the sensitivity's value.
    assert by_name[("turnover_design--turnover-high", 8)].vars["total_termination_rate"] == 0.16
    assert by_name[("turnover_design", 8)].vars["total_termination_rate"] == 0.10


@pytest.mark.parametrize(
    ("sensitivities", "expected"),
    [
        ("{bad-name: {low: {workforce: {total_termination_rate: 0.1}},"
         " high: {workforce: {total_termination_rate: 0.2}}}}",
         "sensitivities.bad-name: 'bad-name' is not a usable sensitivity name"),
        ("{turnover: {low: {workforce: {total_termination_rate: 0.1}}}}",
         "sensitivities.turnover.high: field required"),
        ("{turnover: {low: {}, high: {workforce: {total_termination_rate: 0.2}}}}",
         "sensitivities.turnover.low: must set at least one parameter"),
        ("{turnover: {lo: {}, low: {workforce: {total_termination_rate: 0.1}},"
         " high: {workforce: {total_termination_rate: 0.2}}}}",
         "sensitivities.turnover.lo: unknown key; did you mean 'low'?"),
        ("{seeds_sens: {low: {simulation: {random_seed: 1}},"
         " high: {workforce: {total_termination_rate: 0.2}}}}",
         "sensitivities.seeds_sens.low.simulation.random_seed: a scenario cannot override this"),
        ("{turnover: {low: {workforce: {total_termination_rate: 1.5}},"
         " high: {workforce: {total_termination_rate: 0.2}}}}",
         "sensitivities.turnover.low.workforce.total_termination_rate"),
    ],
)  # fmt: skip
def test_a_bad_sensitivity_is_named_by_its_key_path(
    write_scenarios: ScenarioWriter, sensitivities: str, expected: str
) -> None:
    with pytest.raises(ScenarioFileError) as caught:
        load_scenario_file(write_scenarios(f"seeds: 1\nsensitivities: {sensitivities}\n"))
    assert expected.lower() in str(caught.value).lower(), str(caught.value)


def _members(sweep: dict[str, Any]) -> list[dict[str, Any]]:
    members: list[dict[str, Any]] = sweep["members"]
    return members


def _sweep_document() -> dict[str, Any]:
    members = [
        {"scenario_id": f"{n}__s{s}", "scenario_name": n, "random_seed": s}
        for n in ("baseline", "richer")
        for s in (1, 2)
    ] + [
        {"scenario_id": f"{n}--turnover-{side}__s{s}", "scenario_name": f"{n}--turnover-{side}",
         "random_seed": s, "design": n, "sensitivity": "turnover", "side": side}
        for n in ("baseline", "richer") for side in ("low", "high") for s in (1, 2)
    ]  # fmt: skip
    return {
        "schema_version": 1,
        "kind": "sweep",
        "status": "complete",
        "name": "hand",
        "baseline": "baseline",
        "years": [2025, 2026],
        "seeds": [1, 2],
        "discount_rate": 0.1,
        "members": members,
        "scenarios": [
            {"name": n, "description": "", "overrides": {}, "parameters": {}, "match_formula": ""}
            for n in ("baseline", "richer")
        ],
        "sensitivities": [{"name": "turnover", "description": "8% / 16%", "low": {}, "high": {}}],
        "census": {"path": "census.parquet", "employees": 3},
    }


def _cost(name: str, seed: int, year: int) -> float:
    """Richer costs 500 more; low turnover adds 50 to every design and 30 more to richer, high turnover
    takes 40 from every design and 20 more from richer; +10% in the second year; +7 per seed."""
    design, _, variant = name.partition("--")
    cost = 1000.0 + 7 * seed + (500.0 if design == "richer" else 0.0)
    if variant == "turnover-low":
        cost += 50.0 + (30.0 if design == "richer" else 0.0)
    elif variant == "turnover-high":
        cost -= 40.0 + (20.0 if design == "richer" else 0.0)
    return cost * (1.1 if year == 2026 else 1.0)


def test_the_comparison_pairs_each_design_with_the_baseline_under_the_same_value(tmp_path: Path) -> None:
    sweep = _sweep_document()
    members = [
        MemberYear(
            str(m["scenario_id"]),
            str(m["scenario_name"]),
            int(m["random_seed"]),
            year,
            {
                **{spec.key: 1.0 for spec in YEARLY_METRICS},
                "employer_cost": _cost(str(m["scenario_name"]), int(m["random_seed"]), year),
            },
        )
        for m in _members(sweep)
        for year in (2025, 2026)
    ]
    document = build_comparison(sweep, members)
    rows = {(r["sensitivity"], r["side"], r["scenario"]): r for r in document["sensitivities"]}
    assert set(rows) == {("turnover", side, n) for side in ("low", "high") for n in ("baseline", "richer")}

    def pv(name: str, seed: int) -> float:
        return present_value({y: _cost(name, seed, y) for y in (2025, 2026)}, 0.1, 2025)

    central = next(
        t for t in document["totals"] if (t["scenario"], t["metric"]) == ("richer", "pv_employer_cost")
    )
    assert central["delta_p50"] == pytest.approx(500 + 500 * 1.1 / 1.1)
    low, high = rows[("turnover", "low", "richer")], rows[("turnover", "high", "richer")]
    assert low["delta_p50"] == pytest.approx(pv("richer--turnover-low", 1) - pv("baseline--turnover-low", 1))
    assert low["delta_p50"] == pytest.approx(2 * 530.0)  # 530 a year, discounting undoes the +10%
    assert high["delta_p50"] == pytest.approx(2 * 480.0)
    assert rows[("turnover", "low", "baseline")]["delta_p50"] == 0
    assert rows[("turnover", "low", "richer")]["p50"] == pytest.approx(
        (pv("richer--turnover-low", 1) + pv("richer--turnover-low", 2)) / 2
    )
    # Without sensitivities the section is empty, and nothing else changes.
    plain = {**sweep, "sensitivities": [], "members": [m for m in _members(sweep) if "design" not in m]}
    assert build_comparison(plain, [m for m in members if "--" not in m.scenario_name])["sensitivities"] == []

    directory = tmp_path / "sweep"
    directory.mkdir()
    (directory / "comparison.json").write_text(json.dumps(document))
    report = write_comparison_report(directory / "comparison.json", directory / "comparison.html").read_text()
    assert 'id="chart-tornado-richer"' in report
    assert "Sensitivity: one assumption at a time" in report
    assert "It does not show assumptions moving together" in report
    assert "turnover low: +$1,060 vs baseline" in report and "turnover high: +$960 vs baseline" in report
    assert 'data-sensitivity="turnover" data-scenario="richer"' in report
    assert "tornado-baseline" not in report  # the baseline's difference to itself is no chart
