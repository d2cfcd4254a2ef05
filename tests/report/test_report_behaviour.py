"""The behavioural assumptions in words (planalign.report.behaviour) in the run and comparison reports, and
the run report's balances section when the database cannot give this run's balances. No dbt: the run
report's numbers against a real database are checked in test_summary_real.py (one shared build)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from planalign.report import load_run
from planalign.report.balances import balances_section, load_plan_assets
from planalign.report.behaviour import behaviour_statements
from planalign.report.comparison import write_comparison_report
from tests.fixtures.sample_run import SampleRun
from tests.report.comparison_fixture import comparison_document, write_sweep_dir

#: The behaviour parameters in force by default (simulation_config.yaml and the seeds).
DEFAULTS: dict[str, Any] = {
    "deferral_response_enabled": True,
    "deferral_match_threshold_share": 0.20,
    "deferral_below_match_share": 0.30,
    "auto_enrollment_enabled": True,
    "auto_enrollment_default_deferral_rate": 0.06,
    "auto_enrollment_opt_out_rate": 0.06,
    "auto_enrollment_default_departure_rate": 0.47,
    "auto_enrollment_opt_out_default_slope": 0.0,
    "voluntary_enrollment_rate": 0.20,
    "voluntary_enrollment_match_sensitivity": 0.87,
    "voluntary_enrollment_match_reference": 0.80,
    "escalation_enabled": True,
    "escalation_increment": 0.01,
    "escalation_cap": 0.10,
    "escalation_delay_years": 1,
    "escalation_opt_out_rate": 0.13,
    "account_balances_enabled": True,
    "account_balances_expected_return": 0.064,
    "account_balances_return_volatility": 0.10,
    "account_balances_deterministic_returns": False,
    "account_balances_distributions_enabled": True,
    "account_balances_cash_out_limit": 1000.0,
    "account_balances_involuntary_limit": 7000.0,
    "account_balances_small_cash_out_share": 0.40,
    "account_balances_cash_out_share": 0.10,
    "account_balances_rollover_share": 0.45,
}


def _texts(values: dict[str, Any]) -> dict[str, str]:
    return {s.key: s.text for s in behaviour_statements(values)}


def test_each_rule_is_stated_with_its_value_and_source() -> None:
    statements = behaviour_statements(DEFAULTS)
    assert [s.key for s in statements] == [
        "deferral-response",
        "auto-enrollment",
        "escalation",
        "participation-response",
        "investment-return",
        "leavers",
    ]
    assert all(s.source for s in statements)
    texts = {s.key: s.text for s in statements}
    assert "20% elect exactly the rate that earns the full match" in texts["deferral-response"]
    assert (
        "6% opt out" in texts["auto-enrollment"] and "47% choose their own rate" in texts["auto-enrollment"]
    )
    assert "13% of those due an increase opt out" in texts["escalation"]
    assert "1 + 0.87 ×" in texts["participation-response"]
    assert "mean 6.4% and volatility 10%" in texts["investment-return"]
    assert "up to $7,000" in texts["leavers"] and "45% stay" in texts["leavers"]


def test_a_switch_that_is_off_is_said_to_be_off() -> None:
    off = {
        **DEFAULTS,
        "deferral_response_enabled": False,
        "auto_enrollment_enabled": False,
        "escalation_enabled": False,
        "account_balances_distributions_enabled": False,
        "account_balances_deterministic_returns": True,
    }
    texts = _texts(off)
    assert texts["deferral-response"].startswith("Deferral response is off")
    assert texts["auto-enrollment"].startswith("Auto-enrollment is off") and "20%" in texts["auto-enrollment"]
    assert texts["escalation"].startswith("Auto-escalation is off")
    assert "does not respond" in texts["participation-response"]
    assert "exactly 6.4% (no draw)" in texts["investment-return"]
    assert texts["leavers"].startswith("Leavers keep their vested balance")
    # the rule-level switches: escalation opt-out and inertia need the deferral response
    partly = _texts({**DEFAULTS, "deferral_response_enabled": False})
    assert "nobody opts out of escalation" in partly["escalation"]
    assert "everyone who stays in keeps the default" in partly["auto-enrollment"]
    balances_off = _texts({**DEFAULTS, "account_balances_enabled": 0})
    assert balances_off["investment-return"].startswith("Account balances are off")


def test_parameters_a_run_did_not_record_are_said_to_be_missing() -> None:
    texts = _texts({"match_cap_rate": 0.04})
    assert all("not recorded" in text for text in texts.values())


def test_the_comparison_report_states_each_designs_behaviour(tmp_path: Path) -> None:
    document = comparison_document()
    for index, scenario in enumerate(document["sweep"]["scenarios"]):
        scenario["parameters"] = {
            **DEFAULTS,
            **scenario["parameters"],
            "escalation_opt_out_rate": 0.1 + index / 100,
        }
    sweep_dir = write_sweep_dir(tmp_path, copy.deepcopy(document))
    page = write_comparison_report(sweep_dir / "comparison.json", tmp_path / "c.html").read_text()
    for index, scenario in enumerate(document["sweep"]["scenarios"]):
        block = page.split(f'id="behaviour-{index}"')[1].split("</ul>")[0]
        assert f"each year {10 + index}% of those due an increase opt out" in block, scenario["name"]
        assert "Source: Vanguard 2021" in block
    assert 'id="limitations"' in page


def test_a_run_whose_database_is_gone_shows_a_note_not_numbers(sample_run: SampleRun) -> None:
    report = load_run(sample_run.run_dir)
    assets = load_plan_assets(report)
    assert not assets.years and assets.note is not None
    section = balances_section(report)
    assert 'id="balances-note"' in section and 'id="balances-table"' not in section
    assert "What the model leaves out" in section
