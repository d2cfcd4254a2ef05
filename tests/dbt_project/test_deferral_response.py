"""Deferral elections respond to the plan (issue #20 item 1; docs/methodology.md "Deferral behaviour").

One real-dbt build (three years, five scenarios with the same seed, so every draw is shared) on a generated
1,500-employee census (shared with test_calibration: tests/dbt_project/enrollment_plans.py): the shipped
plan with the rules on (`today`), the stretch match 50% of the first 6% (`stretch`), the shipped plan with
`deferral_response_enabled: false` (`off`), and both matches without auto-enrollment (`voluntary`,
`voluntary_stretch`). Every rule is recomputed here in Python from the project's
hash draws and the plan; the calibration checks compare the run with the published figures the defaults
come from (How America Saves 2025; Vanguard, Stretching the match, 2019), with tolerances of about three
standard errors for the sample sizes stated in each test.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import pytest

from .enrollment_plans import SCENARIOS, SEED, YEARS
from .simulation_support import ScenarioBuild, SimulationRun
from .test_dbt_simulation import PLAN, seed_rows
from .test_plan_rules import first_full_plan_year, uniform

pytestmark = pytest.mark.slow

#: the round rates of macro planalign_round_deferral_rates
ROUND_RATES = (0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.10, 0.12, 0.15)
#: today's fixed voluntary distribution (deferral_response_enabled false)
FIXED_RATES = (0.03, 0.04, 0.05, 0.06, 0.06, 0.08, 0.10, 0.15)
FOUR_PLACES = Decimal("0.0001")


@pytest.fixture(scope="module")
def sweep(enrollment_plans: ScenarioBuild) -> Iterator[SimulationRun]:
    """The five scenarios side by side, 2025-2027 (conftest's build, shared with test_calibration)."""
    yield enrollment_plans.sweep


# --------------------------------------------------------------------------------------- the rules in Python


def param(scenario: str, name: str) -> float:
    """A plan parameter of a scenario: its var, else the seed's value (booleans as 1/0)."""
    value = SCENARIOS[scenario].get(name)
    return float(PLAN[name]) if value is None else float(value)


def tiers(scenario: str) -> list[tuple[float, float]]:
    """The scenario's match tiers as (employee_max, match_rate), ascending."""
    rows = SCENARIOS[scenario].get("match_tiers") or [
        {"employee_max": r["employee_max"], "match_rate": r["match_rate"]}
        for r in seed_rows("config_match_tiers")
    ]
    return [(float(r["employee_max"]), float(r["match_rate"])) for r in rows]


def match_anchor(scenario: str) -> tuple[float | None, float]:
    """The match-maximizing rate (smallest deferral that earns the largest match the tiers and
    match_cap_rate allow, 4 decimals; None without a match) and the match per dollar deferred there."""
    positive, previous = [], 0.0
    for employee_max, rate in tiers(scenario):
        if rate > 0 and employee_max > previous:
            positive.append((previous, employee_max, rate))
        previous = employee_max
    total = sum(rate * (high - low) for low, high, rate in positive)
    max_match = min(total, param(scenario, "match_cap_rate"))
    if not positive or max_match <= 0:
        return None, 0.0
    cumulative, reach = 0.0, []
    for low, high, rate in positive:
        cumulative += rate * (high - low)
        if cumulative >= max_match:
            reach.append(low + (max_match - (cumulative - rate * (high - low))) / rate)
    anchor = round(min(reach), 4)
    return anchor, max_match / anchor


def election(u: float, anchor: float | None, at_share: float, below_share: float) -> float:
    """Macro planalign_voluntary_deferral_rate: the anchor with probability at_share, a round rate below it
    with probability below_share, a round rate above it otherwise (uniform within each side)."""
    n = len(ROUND_RATES)
    n_lt = 0 if anchor is None else sum(anchor > r for r in ROUND_RATES)
    n_le = 0 if anchor is None else sum(anchor >= r for r in ROUND_RATES)
    at = 0.0 if anchor is None else at_share
    below = 0.0 if anchor is None or n_lt == 0 else (1.0 - at if n_le == n else below_share)
    if u < at:
        assert anchor is not None
        return anchor
    if u < at + below:
        return ROUND_RATES[min(max(math.floor((u - at) / below * n_lt), 0), n_lt - 1)]
    index = n_le + math.floor((u - at - below) / max(1.0 - at - below, 1e-12) * (n - n_le))
    return ROUND_RATES[min(max(index, n_le), n - 1)]


def on(scenario: str) -> bool:
    return param(scenario, "deferral_response_enabled") > 0


def voluntary_threshold(scenario: str) -> float:
    rate = param(scenario, "voluntary_enrollment_rate")
    if not on(scenario):
        return rate
    _, per_dollar = match_anchor(scenario)
    sensitivity = param(scenario, "voluntary_enrollment_match_sensitivity")
    reference = param(scenario, "voluntary_enrollment_match_reference")
    return rate * max(0.0, 1.0 + sensitivity * (per_dollar - reference))


def opt_out_threshold(scenario: str) -> float:
    base = param(scenario, "auto_enrollment_opt_out_rate")
    if not on(scenario):
        return base
    slope = param(scenario, "auto_enrollment_opt_out_default_slope")
    return max(
        0.0, min(1.0, base + slope * (param(scenario, "auto_enrollment_default_deferral_rate") - 0.06))
    )


def expected_rate(scenario: str, employee_id: str, year: int, source: str) -> float:
    """The deferral rate of an enrollment decided in `year` (the draws of that year)."""
    anchor, _ = match_anchor(scenario)

    def elect() -> float:
        u = uniform(SEED, employee_id, year, "deferral_election")
        return election(
            u,
            anchor,
            param(scenario, "deferral_match_threshold_share"),
            param(scenario, "deferral_below_match_share"),
        )

    if source == "auto":
        departs = uniform(SEED, employee_id, year, "default_departure") < param(
            scenario, "auto_enrollment_default_departure_rate"
        )
        return (
            elect() if on(scenario) and departs else param(scenario, "auto_enrollment_default_deferral_rate")
        )
    if on(scenario):
        return elect()
    return FIXED_RATES[math.floor(uniform(SEED, employee_id, year, "enrollment_rate") * 8)]


def escalation_opted_out(scenario: str, employee_id: str, first_due: int, year: int) -> bool:
    """Opted out of escalation for good at some January 1 from the first one due (and start_year) to
    `year`."""
    rate = param(scenario, "escalation_opt_out_rate")
    return on(scenario) and any(
        uniform(SEED, employee_id, y, "escalation_opt_out") < rate
        for y in range(max(first_due, YEARS[0]), year + 1)
    )


# -------------------------------------------------------------------------------------- reading the run


def decisions(run: SimulationRun) -> list[tuple[Any, ...]]:
    return run.query(
        "select scenario_id, employee_id, simulation_year, event_type, enrollment_source, "
        "deferral_rate_after from fct_yearly_events where event_type in ('enrollment', 'enrollment_opt_out')"
    )


def actives(run: SimulationRun, scenario: str, year: int) -> list[tuple[Any, ...]]:
    """(employee_id, is_enrolled, deferral_rate) of the year's actives at December 31."""
    return run.query(
        "select employee_id, is_enrolled, deferral_rate from fct_workforce_snapshot "
        "where scenario_id = ? and simulation_year = ? and employment_status = 'active'",
        [scenario, year],
    )


def participant_rates(run: SimulationRun, scenario: str, year: int) -> list[float]:
    return [float(r[2]) for r in actives(run, scenario, year) if r[1] and r[2] > 0]


# ----------------------------------------------------------------------------- (1) independent recomputation


def test_every_enrollment_decision_recomputes(sweep: SimulationRun) -> None:
    """Every enrollment and opt-out of every scenario and year: the opt-out draw against the (default-rate
    dependent) opt-out rate, the voluntary draw under the match-scaled enrollment rate, and the rate from the
    election mapping (a departure from the default for auto-enrolled participants) or, off, today's fixed
    distribution and the default. Zero mismatches."""
    mismatches: list[tuple[Any, ...]] = []
    at_anchor, departures = 0, 0
    for scenario, employee_id, year, kind, source, rate in decisions(sweep):
        u_enroll = uniform(SEED, employee_id, year, "enrollment")
        if source == "auto":
            opted_out = u_enroll < opt_out_threshold(scenario)
            if opted_out != (kind == "enrollment_opt_out"):
                mismatches.append((scenario, employee_id, year, kind, "opt-out draw"))
            if opted_out:
                continue
        elif u_enroll >= voluntary_threshold(scenario):
            mismatches.append((scenario, employee_id, year, kind, "voluntary draw above the rate"))
        want = Decimal(str(expected_rate(scenario, employee_id, year, source))).quantize(FOUR_PLACES)
        if rate != want:
            mismatches.append((scenario, employee_id, year, source, rate, want))
        anchor, _ = match_anchor(scenario)
        at_anchor += (
            on(scenario) and anchor is not None and rate == Decimal(str(anchor)).quantize(FOUR_PLACES)
        )
        departures += on(scenario) and source == "auto" and rate != Decimal("0.0600")
    assert mismatches == []
    assert at_anchor > 50 and departures > 20, "the rules are exercised"


def test_voluntary_enrollment_in_the_first_year_is_the_match_scaled_draw(sweep: SimulationRun) -> None:
    """Census non-participants who stay through 2025 enroll exactly when their draw is under
    voluntary_enrollment_rate x (1 + sensitivity x (match per dollar - reference)): the stretch match
    (0.50 per dollar against 0.80) enrolls fewer, the same people as the shipped match when off."""
    enrolled_by_scenario = {}
    for scenario in SCENARIOS:
        rows = sweep.query(
            "select s.employee_id, s.enrollment_source from int_enrollment_state_accumulator as s "
            "where s.scenario_id = ? and s.simulation_year = 2025 "
            "and (s.enrollment_source is null or s.enrollment_source = 'voluntary') "
            "and s.employee_id not in (select employee_id from fct_yearly_events "
            "    where scenario_id = ? and simulation_year = 2025 and event_type in ('hire', 'termination'))",
            [scenario, scenario],
        )
        threshold = voluntary_threshold(scenario)
        expected = {e for e, _ in rows if uniform(SEED, e, 2025, "enrollment") < threshold}
        actual = {e for e, source in rows if source == "voluntary"}
        assert actual == expected, scenario
        assert len(rows) > 200
        enrolled_by_scenario[scenario] = actual
    assert enrolled_by_scenario["voluntary_stretch"] < enrolled_by_scenario["voluntary"]
    assert enrolled_by_scenario["today"] == enrolled_by_scenario["off"]  # the reference formula: factor 1


def test_escalation_opt_out_recomputes(sweep: SimulationRun) -> None:
    """Who escalates each January 1 (2026, 2027), per scenario: enrolled for escalation_delay_years full plan
    years, below the cap, never opted out of the plan, staying the year, and (rules on) not opted out of
    escalation at any January 1 due so far."""
    cap, delay = float(PLAN["escalation_cap"]), int(PLAN["escalation_delay_years"])
    opted_out_total = 0
    for scenario in SCENARIOS:
        for year in YEARS[1:]:
            start = sweep.query(
                "select w.employee_id, w.deferral_rate, s.enrollment_date, s.ever_opted_out "
                "from fct_workforce_snapshot as w join int_enrollment_state_accumulator as s "
                "using (scenario_id, employee_id, simulation_year) "
                "where w.scenario_id = ? and w.simulation_year = ? and w.employment_status = 'active' "
                "and s.is_enrolled",
                [scenario, year - 1],
            )
            leaving = {
                r[0]
                for r in sweep.query(
                    "select employee_id from fct_yearly_events where scenario_id = ? and simulation_year = ? "
                    "and event_type = 'termination'",
                    [scenario, year],
                )
            }
            expected = set()
            for employee_id, rate, enrolled_on, ever_opted_out in start:
                first_due = first_full_plan_year(enrolled_on) + delay
                if ever_opted_out or float(rate) >= cap or employee_id in leaving or first_due > year:
                    continue
                if escalation_opted_out(scenario, employee_id, first_due, year):
                    opted_out_total += 1
                    continue
                expected.add(employee_id)
            actual = {
                r[0]
                for r in sweep.query(
                    "select employee_id from fct_yearly_events where scenario_id = ? and simulation_year = ? "
                    "and event_type = 'deferral_escalation'",
                    [scenario, year],
                )
            }
            assert actual == expected, (scenario, year)
    assert opted_out_total > 20, "escalation opt-outs are exercised"


def test_the_match_maximizing_rate_of_the_shipped_and_stretch_formulas() -> None:
    """100% of 3% + 50% of the next 2% (cap 4%): 5%, 0.80 per dollar; 50% of 6%: 6%, 0.50 per dollar."""
    today, stretch = match_anchor("today"), match_anchor("stretch")
    assert today[0] == 0.05 and today[1] == pytest.approx(0.8)
    assert stretch[0] == 0.06 and stretch[1] == pytest.approx(0.5)
    assert election(0.0, None, 0.2, 0.3) == 0.01 and election(0.999, None, 0.2, 0.3) == 0.15
    assert election(0.1, 0.16, 0.2, 0.3) == 0.16 and election(0.99, 0.16, 0.2, 0.3) == 0.15


# ------------------------------------------------------------------------------------------- (2) calibration

#: Vanguard, Stretching the match (Young and Young, 2019; 2016 data): 20% of participants defer exactly at the
#: rate that earns the full match. Tolerance: 3 standard errors of a share of 0.20 over the elections counted.
MATCH_THRESHOLD_SHARE = 0.20
#: How America Saves 2025: 64% participation in voluntary-enrollment plans, 7.7% average deferral.
VOLUNTARY_PARTICIPATION, VOLUNTARY_TOLERANCE = 0.64, 0.05
AVERAGE_DEFERRAL, DEFERRAL_TOLERANCE = 0.077, 0.010


def test_the_share_of_voluntary_elections_at_the_match_maximizing_rate(sweep: SimulationRun) -> None:
    """Voluntary elections of the voluntary plans (both formulas, three years): 20% +- 3 SE at exactly the
    match-maximizing rate."""
    at, total = 0, 0
    for scenario in ("voluntary", "voluntary_stretch"):
        anchor = Decimal(str(match_anchor(scenario)[0])).quantize(FOUR_PLACES)
        rates = [
            r[0]
            for r in sweep.query(
                "select deferral_rate_after from fct_yearly_events where scenario_id = ? "
                "and event_type = 'enrollment' and enrollment_source = 'voluntary'",
                [scenario],
            )
        ]
        at += sum(rate == anchor for rate in rates)
        total += len(rates)
    tolerance = 3 * math.sqrt(MATCH_THRESHOLD_SHARE * (1 - MATCH_THRESHOLD_SHARE) / total)
    assert total > 300
    assert abs(at / total - MATCH_THRESHOLD_SHARE) <= tolerance, (at, total)


def test_the_match_threshold_share_rises_when_the_formula_stretches(sweep: SimulationRun) -> None:
    """Share of participating actives at exactly the match-maximizing rate, every year: higher with the 6%
    stretch (the default of 6% coincides with it; Madrian 2012: about half at a 6% default that is the match
    threshold, against 24% at the threshold with a 3% default) than with the shipped 5%."""
    for year in YEARS:
        shares = {}
        for scenario in ("today", "stretch"):
            anchor = Decimal(str(match_anchor(scenario)[0])).quantize(FOUR_PLACES)
            rates = [r[2] for r in actives(sweep, scenario, year) if r[1] and r[2] > 0]
            shares[scenario] = sum(rate == anchor for rate in rates) / len(rates)
        assert shares["stretch"] > shares["today"], (year, shares)


@pytest.mark.parametrize("year", YEARS)
def test_voluntary_participation_and_average_deferral_stay_calibrated(
    sweep: SimulationRun, year: int
) -> None:
    """With the rules on and the shipped match (factor 1): a plan without auto-enrollment keeps 64% +- 5
    points participation; participants of the shipped plan defer 7.7% +- 1 point on average."""
    rows = actives(sweep, "voluntary", year)
    participation = sum(1 for r in rows if r[1]) / len(rows)
    assert abs(participation - VOLUNTARY_PARTICIPATION) <= VOLUNTARY_TOLERANCE, participation
    rates = participant_rates(sweep, "today", year)
    assert abs(sum(rates) / len(rates) - AVERAGE_DEFERRAL) <= DEFERRAL_TOLERANCE


# ----------------------------------------------------------------------------------- (3) the two-design sweep


@pytest.mark.parametrize("year", YEARS)
def test_the_stretch_match_raises_deferrals(sweep: SimulationRun, year: int) -> None:
    """Same seeds, same census: the 50%-of-6% design has a higher average deferral and more participants at
    6% or more than today's match, every year; with the rules off the two designs would defer alike."""
    today, stretch = participant_rates(sweep, "today", year), participant_rates(sweep, "stretch", year)
    assert sum(stretch) / len(stretch) > sum(today) / len(today)
    assert sum(r >= 0.06 for r in stretch) > sum(r >= 0.06 for r in today)


def scenario_means(run: SimulationRun) -> Mapping[str, float]:
    rows = run.query(
        "select scenario_id, avg(deferral_rate) from fct_workforce_snapshot "
        "where employment_status = 'active' and is_enrolled and deferral_rate > 0 group by scenario_id"
    )
    return {r[0]: float(r[1]) for r in rows}


def test_scenarios_of_one_build_differ_only_where_the_rules_say(sweep: SimulationRun) -> None:
    """The `off` scenario's enrollments use today's draws: the same people enroll on the same days as in
    `today` (the voluntary factor is 1 for the shipped formula); only the rates differ."""
    keys = {
        scenario: {
            (r[0], r[1], r[2])
            for r in sweep.query(
                "select employee_id, simulation_year, effective_date from fct_yearly_events "
                "where scenario_id = ? and event_type in ('enrollment', 'enrollment_opt_out') "
                "and simulation_year = 2025",
                [scenario],
            )
        }
        for scenario in ("today", "off")
    }
    assert keys["today"] == keys["off"]
    means = scenario_means(sweep)
    assert means["today"] != means["off"]
