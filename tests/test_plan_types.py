"""Issue #23, automatic-enrollment plan types: a QACA (`safe_harbor.qaca`, IRC 401(k)(13)), an EACA
(`enrollment.auto_enrollment.eaca`, IRC 414(w)) and SECURE 2.0 section 101
(`enrollment.auto_enrollment.secure_2_0_mandatory`, IRC 414A). A schedule outside the law is refused by
`planalign validate` (exit 2, the key, the limit and its source named, nothing written, before dbt's parse);
the law's own bounds are accepted; a QACA fixes its match and a 2-year cliff. Fast: no dbt. The schedule
the model applies is recomputed here year by year (`model_rates`), independently of plan_types."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import yaml

from planalign import cli
from planalign.simulation import plan_types
from planalign.simulation.config import SimulationConfig
from tests.refusals import refused_by_validate

pytestmark = pytest.mark.usefixtures("clean_planalign_env")

SEEDS = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds"
QACA = {"safe_harbor": {"type": "basic_match", "qaca": True}}
MANDATORY = {"enrollment": {"auto_enrollment": {"secure_2_0_mandatory": True}}}


def plan(
    *sections: dict[str, Any], default: float, increment: float, cap: float, delay: int
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "enrollment": {"auto_enrollment": {"enabled": True, "default_deferral_rate": default}},
        "escalation": {"enabled": True, "increment": increment, "cap": cap, "delay_years": delay},
    }
    for section in sections:
        for key, value in section.items():
            out[key] = {**out.get(key, {}), **value}
            if key == "enrollment":
                out[key]["auto_enrollment"] = {
                    "enabled": True,
                    "default_deferral_rate": default,
                    **value["auto_enrollment"],
                }
    return out


REFUSED: dict[str, tuple[dict[str, Any], list[str]]] = {
    "QACA default 2%": (
        plan(QACA, default=0.02, increment=0.01, cap=0.10, delay=1),
        [
            "enrollment.auto_enrollment.default_deferral_rate",
            "IRC 401(k)(13)(C)(iii)",
            "below the QACA minimum",
        ],
    ),
    "QACA 3% without escalation": (
        plan(QACA, default=0.03, increment=0.0, cap=0.10, delay=1),
        ["escalation.increment", "below the QACA minimum of 4%"],
    ),
    "QACA 3% escalating too late": (
        plan(QACA, default=0.03, increment=0.01, cap=0.10, delay=2),
        ["escalation.increment", "Treas. Reg. 1.401(k)-3(j)(2)"],
    ),
    "QACA 11% default": (
        plan(QACA, default=0.11, increment=0.01, cap=0.12, delay=1),
        ["enrollment.auto_enrollment.default_deferral_rate", "above the QACA maximum of 10%"],
    ),
    "QACA 10% escalating to 11% in the initial period": (
        plan(QACA, default=0.10, increment=0.01, cap=0.12, delay=0),
        ["in the initial period", "above the QACA maximum of 10%"],
    ),
    "QACA cap 16%": (
        plan(QACA, default=0.06, increment=0.01, cap=0.16, delay=1),
        ["escalation.cap", "above the QACA maximum of 15%"],
    ),
    "QACA without auto-enrollment": (
        {**QACA, "enrollment": {"auto_enrollment": {"enabled": False}}},
        ["enrollment.auto_enrollment.enabled", "IRC 401(k)(13)(C)"],
    ),
    "QACA without a design": (
        {"safe_harbor": {"qaca": True}},
        ["safe_harbor", "IRC 401(k)(13)(D)"],
    ),
    "section 101 default 2%": (
        plan(MANDATORY, default=0.02, increment=0.01, cap=0.10, delay=1),
        ["enrollment.auto_enrollment.default_deferral_rate", "IRC 414A(b)", "3% to 10%"],
    ),
    "section 101 default 11%": (
        plan(MANDATORY, default=0.11, increment=0.01, cap=0.12, delay=1),
        ["enrollment.auto_enrollment.default_deferral_rate", "IRC 414A(b)"],
    ),
    "section 101 2 points a year": (
        plan(MANDATORY, default=0.04, increment=0.02, cap=0.12, delay=1),
        ["escalation.increment", "by 1 point each plan year"],
    ),
    "section 101 cap 8%": (
        plan(MANDATORY, default=0.04, increment=0.01, cap=0.08, delay=1),
        ["escalation.cap", "at least 10%"],
    ),
    "section 101 cap 16%": (
        plan(MANDATORY, default=0.04, increment=0.01, cap=0.16, delay=1),
        ["escalation.cap", "never above 15%"],
    ),
    "section 101 late first increase": (
        plan(MANDATORY, default=0.04, increment=0.01, cap=0.10, delay=2),
        ["escalation.delay_years", "IRC 414A(b)"],
    ),
    "section 101 without escalation": (
        {**MANDATORY, "escalation": {"enabled": False}},
        ["escalation.enabled", "IRC 414A(b)"],
    ),
    "EACA without auto-enrollment": (
        {"enrollment": {"auto_enrollment": {"enabled": False, "eaca": True}}},
        ["enrollment.auto_enrollment.enabled", "IRC 414(w)(3)"],
    ),
}


def write(root: Path, settings: dict[str, Any]) -> None:
    text = yaml.safe_dump({"simulation": {"census_path": "census.parquet"}, **settings})
    (root / "plan.yaml").write_text(text)


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_validate_refuses_an_automatic_enrollment_outside_the_law(
    config_project: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, expected = REFUSED[case]
    write(config_project, settings)
    err = refused_by_validate(config_project, capsys)
    for fragment in expected:
        assert fragment in err, (case, err)


def test_the_environment_selects_and_is_checked_too(
    config_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(config_project, {})
    monkeypatch.setenv("PLANALIGN_ENROLLMENT__AUTO_ENROLLMENT__SECURE_2_0_MANDATORY", "true")
    monkeypatch.setenv("PLANALIGN_ESCALATION__CAP", "0.09")
    assert cli.main(["validate", "--config", "plan.yaml"]) == cli.ExitStatus.USAGE
    err = capsys.readouterr().err
    assert "environment" in err and "escalation.cap" in err and "IRC 414A(b)" in err


def model_rates(default: float, increment: float, cap: float, delay: int, *, jan1: bool) -> list[float]:
    """The default's rate in the year of auto-enrollment and the next 5, as int_deferral_escalation_events
    applies it: an increase every January 1 once `delay` full plan years have passed (the first full plan
    year is the next one, or the enrollment year for a January 1 enrollment; escalation reads the previous
    December's state, so never in the enrollment year itself)."""
    rates, rate = [], default
    first_full = 0 if jan1 else 1
    for year in range(6):
        if year >= 1 and year >= first_full + delay and rate < cap:
            rate = min(cap, rate + increment)
        rates.append(rate)
    return rates


ACCEPTED: dict[str, tuple[dict[str, Any], float, float, float, int]] = {
    "QACA 3%, +1 point, cap 6%": (QACA, 0.03, 0.01, 0.06, 1),
    "QACA 10% flat": (QACA, 0.10, 0.0, 0.10, 1),
    "QACA 4%, +1 point after 2 years": (QACA, 0.04, 0.01, 0.15, 2),
    "QACA shipped schedule (6%, +1 to 10%)": (QACA, 0.06, 0.01, 0.10, 1),
    "section 101 3%, +1 point to 10%": (MANDATORY, 0.03, 0.01, 0.10, 1),
    "section 101 10%, cap 15%": (MANDATORY, 0.10, 0.01, 0.15, 0),
    "QACA and section 101 together": ({**QACA, **MANDATORY}, 0.04, 0.01, 0.12, 1),
}


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_the_law_s_own_bounds_are_accepted(case: str) -> None:
    section, default, increment, cap, delay = ACCEPTED[case]
    config = SimulationConfig.model_validate(
        plan(section, default=default, increment=increment, cap=cap, delay=delay)
    )
    assert config.plan_type_problems() == []
    if "safe_harbor" in section:
        # the recomputed schedule meets 401(k)(13)(C)(iii) whatever the enrollment day
        late = model_rates(default, increment, cap, delay, jan1=False)
        early = model_rates(default, increment, cap, delay, jan1=True)
        assert all(r >= m - 1e-9 for r, m in zip(late, (0.03, 0.03, 0.04, 0.05, 0.06, 0.06), strict=True))
        assert max(early[:2]) <= 0.10 + 1e-9 and max(early) <= 0.15 + 1e-9


@pytest.mark.parametrize("delay", [0, 1, 2, 3])
@pytest.mark.parametrize("jan1", [False, True])
def test_plan_types_schedule_is_the_model_s(delay: int, jan1: bool) -> None:
    """plan_types judges the schedule the dbt project applies (latest: an enrollment after January 1)."""
    schedule = plan_types.AutoSchedule(True, 0.03, True, 0.01, 0.09, delay)
    expected = model_rates(0.03, 0.01, 0.09, delay, jan1=jan1)
    assert [schedule.rate(n, earliest=jan1) for n in range(6)] == pytest.approx(expected)


def test_a_qaca_fixes_its_match_and_a_two_year_cliff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANALIGN_SAFE_HARBOR__TYPE", "basic_match")
    monkeypatch.setenv("PLANALIGN_SAFE_HARBOR__QACA", "true")
    values = SimulationConfig().parameter_vars()
    assert values["safe_harbor_qaca"] is True and values["safe_harbor_type"] == 1
    assert values["match_tiers"] == [
        {"employee_max": 0.01, "match_rate": 1.0},
        {"employee_max": 0.06, "match_rate": 0.5},
    ]
    assert values["match_cap_rate"] == 0.035
    assert values["vesting_schedule"] == [
        {"years_of_service": 0, "vested_share": 0.0},
        {"years_of_service": 2, "vested_share": 1.0},
    ]
    monkeypatch.setenv("PLANALIGN_SAFE_HARBOR__TYPE", "nonelective")
    values = SimulationConfig().parameter_vars()
    assert values["core_contribution_rate"] == 0.03 and values["safe_harbor_type"] == 3


def test_the_seed_defaults_plan_types_judges_are_the_seed_s() -> None:
    with (SEEDS / "config_plan_parameters.csv").open() as handle:
        seed = {row["parameter_name"]: float(row["parameter_value"]) for row in csv.DictReader(handle)}
    for name, value in plan_types.SEED_AUTO_ENROLLMENT.items():
        assert float(value) == seed[name], name
    for name in ("safe_harbor_qaca", "auto_enrollment_eaca", "auto_enrollment_secure_2_0_mandatory"):
        assert seed[name] == 0, f"{name} is off by default: existing results do not change"
    assert seed["auto_enrollment_permissive_withdrawal_share"] == 0.02


SHIPPED = Path(__file__).resolve().parents[1] / "simulation_config.yaml"


def test_validate_warns_of_what_a_safe_harbor_design_replaces(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped file spells out the match and the vesting; a design chosen in the environment replaces
    them, and `planalign validate` says so (config_review.safe_harbor_findings)."""
    from planalign.simulation.config_loading import load_simulation_config
    from planalign.simulation.config_review import safe_harbor_findings

    assert safe_harbor_findings(load_simulation_config(SHIPPED, check_files=False)) == []
    monkeypatch.setenv("PLANALIGN_SAFE_HARBOR__TYPE", "basic_match")
    monkeypatch.setenv("PLANALIGN_SAFE_HARBOR__QACA", "true")
    found = safe_harbor_findings(load_simulation_config(SHIPPED, check_files=False))
    assert {f.key for f in found} == {"match.tiers", "match.cap_rate", "vesting.schedule"}
    named = "QACA safe-harbor design 'basic_match'"
    assert all(f.severity == "warning" and named in f.message for f in found)


@pytest.mark.parametrize(
    ("tiers", "reason"),
    [
        ([{"employee_max": 0.08, "match_rate": 1.0}], "above 6% of pay"),
        ([{"employee_max": 0.02, "match_rate": 0.5}, {"employee_max": 0.04, "match_rate": 1.0}], "rises"),
        ([{"employee_max": 0.06, "match_rate": 0.5}], None),
    ],
)
def test_a_non_elective_design_s_match_is_checked_against_401m11(
    tiers: list[dict[str, float]], reason: str | None
) -> None:
    from planalign.simulation.config_review import safe_harbor_findings

    config = SimulationConfig.model_validate(
        {"safe_harbor": {"type": "nonelective"}, "match": {"tiers": tiers}}
    )
    found = [f for f in safe_harbor_findings(config) if f.key == "match.tiers"]
    if reason is None:
        assert found == []
    else:
        (finding,) = found
        assert "IRC 401(m)(11)(B)" in finding.message and reason in finding.message
