"""The behavioural assumptions of a run or of a sweep's design, in sentences with their sources.

A parameter table tells an analyst that `escalation_opt_out_rate` is 0.13; a sponsor needs "each year 13%
of those being escalated opt out of escalation for good (Vanguard 2021)". `behaviour_statements` turns the
parameters in force — `Assumptions.parameter_values()` of a run, the `parameters` a sweep records per
design, both keyed by dbt var name — into those sentences, reading the values actually in force and saying
when a switch is off. The sources are those of docs/methodology.md; the run report (`balances`) and the
comparison report (`comparison`) show the same sentences.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from planalign.report.panels import percent


@dataclass(frozen=True)
class Statement:
    """One behavioural assumption: `key` names the rule (a stable id for the page and tests), `text` the
    sentence with the values in force, `source` where the figure comes from (empty when a switch is off)."""

    key: str
    text: str
    source: str = ""


def _flag(values: Mapping[str, Any], name: str) -> bool | None:
    value = values.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes"}
    return bool(value)


def _number(values: Mapping[str, Any], name: str) -> float | None:
    value = values.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _pct(values: Mapping[str, Any], name: str) -> str:
    value = _number(values, name)
    return "?" if value is None else percent(value)


def _plain(values: Mapping[str, Any], name: str) -> str:
    value = _number(values, name)
    return "?" if value is None else f"{value:g}"


def _usd(values: Mapping[str, Any], name: str) -> str:
    value = _number(values, name)
    return "?" if value is None else f"${value:,.0f}"


def _not_recorded(key: str, what: str) -> Statement:
    return Statement(key, f"{what}: not recorded for this run (it predates the behavioural rules).")


def behaviour_statements(values: Mapping[str, Any]) -> list[Statement]:
    """The behavioural assumptions in force, one sentence each: deferral response, auto-enrollment inertia
    and opt-out, escalation and its opt-out, participation response to the match, investment return, and
    what leavers do with their money."""
    response = _flag(values, "deferral_response_enabled")
    return [
        _deferral(values, response),
        _auto_enrollment(values, response),
        _escalation(values, response),
        _participation(values, response),
        _returns(values),
        _leavers(values),
    ]


def _deferral(values: Mapping[str, Any], response: bool | None) -> Statement:
    if response is None:
        return _not_recorded("deferral-response", "Deferral response")
    if not response:
        return Statement(
            "deferral-response",
            "Deferral response is off (deferral_response_enabled = false): voluntary participants draw their "
            "rate from a fixed 3%–15% distribution that ignores the match formula.",
        )
    return Statement(
        "deferral-response",
        f"Voluntary participants respond to the match: {_pct(values, 'deferral_match_threshold_share')} "
        "elect exactly the rate that earns the full match, "
        f"{_pct(values, 'deferral_below_match_share')} a whole percent below it, and the rest a round rate "
        "above it.",
        "Vanguard, Stretching the match (Young and Young, 2019): 20% at the match-maximizing rate, 50% above",
    )


def _auto_enrollment(values: Mapping[str, Any], response: bool | None) -> Statement:
    enabled = _flag(values, "auto_enrollment_enabled")
    if enabled is None:
        return _not_recorded("auto-enrollment", "Auto-enrollment")
    if not enabled:
        return Statement(
            "auto-enrollment",
            "Auto-enrollment is off: eligible employees enroll on their own, each year with probability "
            f"{_pct(values, 'voluntary_enrollment_rate')} (before the match response below).",
            "calibrated to How America Saves 2025's 64% participation in voluntary plans",
        )
    text = (
        f"New hires are enrolled at {_pct(values, 'auto_enrollment_default_deferral_rate')} unless they opt "
        f"out; {_pct(values, 'auto_enrollment_opt_out_rate')} opt out"
    )
    slope = _number(values, "auto_enrollment_opt_out_default_slope") or 0.0
    if response and slope:
        text += f" (plus {slope:g} × the default's excess over 6%)"
    if response:
        text += (
            f". Inertia: of those who stay in, {_pct(values, 'auto_enrollment_default_departure_rate')} "
            "choose their own rate, the rest keep the default."
        )
        source = (
            "How America Saves 2025 (94% participate under auto-enrollment); Beshears et al. 2023 (about "
            "half remain at a modest default after 12 months); Clark, Utkus and Young 2015 (opt-outs do not "
            "vary with the default)"
        )
    else:
        text += "; everyone who stays in keeps the default (deferral response off)."
        source = "How America Saves 2025 (94% participate under auto-enrollment)"
    return Statement("auto-enrollment", text, source)


def _escalation(values: Mapping[str, Any], response: bool | None) -> Statement:
    enabled = _flag(values, "escalation_enabled")
    if enabled is None:
        return _not_recorded("escalation", "Auto-escalation")
    if not enabled:
        return Statement(
            "escalation", "Auto-escalation is off: deferral rates stay where participants set them."
        )
    delay = _number(values, "escalation_delay_years")
    text = (
        f"Deferral rates rise by {_pct(values, 'escalation_increment')} every January 1 up to "
        f"{_pct(values, 'escalation_cap')}, after {delay:g} full plan year(s) enrolled"
        if delay is not None
        else f"Deferral rates rise by {_pct(values, 'escalation_increment')} every January 1 up to "
        f"{_pct(values, 'escalation_cap')}"
    )
    opt_out = _number(values, "escalation_opt_out_rate")
    if response and opt_out:
        return Statement(
            "escalation",
            f"{text}; each year {percent(opt_out)} of those due an increase opt out of escalation for good.",
            "Vanguard 2021, Automatic enrollment: the power of the default (two-thirds still escalate after "
            "three years)",
        )
    return Statement("escalation", f"{text}; nobody opts out of escalation (escalation opt-out off).")


def _participation(values: Mapping[str, Any], response: bool | None) -> Statement:
    sensitivity = _number(values, "voluntary_enrollment_match_sensitivity")
    if response is None or sensitivity is None:
        return _not_recorded("participation-response", "Participation response to the match")
    if not response or sensitivity == 0:
        why = "deferral response off" if not response else "sensitivity 0"
        return Statement(
            "participation-response",
            f"Voluntary enrollment does not respond to the match formula ({why}).",
        )
    return Statement(
        "participation-response",
        f"Voluntary enrollment responds to match generosity: the yearly probability "
        f"({_pct(values, 'voluntary_enrollment_rate')}) is multiplied by 1 + {sensitivity:g} × (match per "
        f"dollar at the match-maximizing rate − {_plain(values, 'voluntary_enrollment_match_reference')}).",
        "Engelhardt and Kumar 2007: +25 cents of match per dollar raises participation by 5 points",
    )


def _returns(values: Mapping[str, Any]) -> Statement:
    enabled = _flag(values, "account_balances_enabled")
    if enabled is None:
        return _not_recorded("investment-return", "Account balances")
    if not enabled:
        return Statement(
            "investment-return",
            "Account balances are off (account_balances_enabled = false): no balances, returns or "
            "distributions are simulated.",
        )
    expected = _pct(values, "account_balances_expected_return")
    volatility = _number(values, "account_balances_return_volatility")
    source = "J.P. Morgan Long-Term Capital Market Assumptions 2025/2026, USD 60/40 portfolio"
    if _flag(values, "account_balances_deterministic_returns") or volatility == 0:
        return Statement(
            "investment-return",
            f"Every year the plan's investments earn exactly {expected} (no draw).",
            source,
        )
    return Statement(
        "investment-return",
        f"The plan's investments earn one return per seed and year, lognormal with mean {expected} and "
        f"volatility {_pct(values, 'account_balances_return_volatility')}: the same market for every design "
        "with the same seed.",
        source,
    )


def _leavers(values: Mapping[str, Any]) -> Statement:
    enabled = _flag(values, "account_balances_enabled")
    distributions = _flag(values, "account_balances_distributions_enabled")
    if enabled is None or distributions is None:
        return _not_recorded("leavers", "What leavers do with their money")
    if not enabled or not distributions:
        return Statement(
            "leavers",
            "Leavers keep their vested balance in the plan (distributions off).",
        )
    cash = _number(values, "account_balances_cash_out_share")
    rollover = _number(values, "account_balances_rollover_share")
    stay = "?" if cash is None or rollover is None else percent(max(0.0, 1 - cash - rollover))
    return Statement(
        "leavers",
        f"Leavers: a vested balance up to {_usd(values, 'account_balances_cash_out_limit')} is paid in "
        f"cash; up to {_usd(values, 'account_balances_involuntary_limit')} it leaves the plan without "
        f"consent ({_pct(values, 'account_balances_small_cash_out_share')} in cash, the rest rolled over); "
        "above it "
        f"{_pct(values, 'account_balances_cash_out_share')} take cash, "
        f"{_pct(values, 'account_balances_rollover_share')} roll over and {stay} stay. The unvested employer "
        "money is forfeited.",
        "IRC 401(a)(31)(B) and 411(a)(11) as amended by SECURE 2.0 §304 ($7,000); How America Saves 2025: "
        "roughly a third of leavers cash out",
    )


def statements_html(values: Mapping[str, Any], *, list_id: str) -> str:
    """The statements as a list, each with its source in a quieter line."""
    items = []
    for statement in behaviour_statements(values):
        source = (
            f' <span class="source">Source: {html.escape(statement.source)}.</span>'
            if statement.source
            else ""
        )
        items.append(
            f'<li data-behaviour="{html.escape(statement.key)}">{html.escape(statement.text)}{source}</li>'
        )
    return f'<ul class="behaviour" id="{html.escape(list_id)}">{"".join(items)}</ul>'
