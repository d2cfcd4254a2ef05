"""Which parameters the run report's assumptions table lists, and how it names where each value came from.

A parameter a switch has turned off is not in force: listing `escalation_increment = 1%` under
`escalation_enabled = no` reads as an escalation of 1% a year. So a switch that is off is listed with a note
naming the parameters it turns off, and those parameters are left out. The switches and what each governs
are the dbt project's (docs/methodology.md, docs/configuration.md): a switch here must turn its dependents
off in the SQL too, or the table would hide a value that is used.

The source of a value is said in words the user recognises: the configuration file, an environment variable,
a command-line flag, a scenario's override, planalign's default, or the dbt project's seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from planalign.simulation.assumptions import Parameter

SOURCE_WORDS: dict[str, str] = {
    "config": "config file",
    "environment": "environment variable",
    "flag": "command-line flag",
    "override": "override",
    "default": "planalign default",
    "seed": "dbt seed",
}


@dataclass(frozen=True)
class Switch:
    """A boolean parameter that turns other parameters off when it has the value `off`."""

    name: str
    dependents: tuple[str, ...]
    off: bool = False
    prefix: str | None = None
    """Every parameter starting with this (other than the switch itself) is a dependent too."""


SWITCHES: tuple[Switch, ...] = (
    Switch("auto_enrollment_enabled", (), prefix="auto_enrollment_"),
    Switch("escalation_enabled", (), prefix="escalation_"),
    Switch(
        "deferral_response_enabled",
        (
            "deferral_match_threshold_share",
            "deferral_below_match_share",
            "voluntary_enrollment_match_sensitivity",
            "voluntary_enrollment_match_reference",
            "auto_enrollment_default_departure_rate",
            "auto_enrollment_opt_out_default_slope",
            "escalation_opt_out_rate",
        ),
    ),
    Switch("core_contribution_graded", ("core_contribution_schedule",)),
    Switch("account_balances_enabled", (), prefix="account_balances_"),
    Switch(
        "account_balances_distributions_enabled",
        (
            "account_balances_cash_out_limit",
            "account_balances_involuntary_limit",
            "account_balances_small_cash_out_share",
            "account_balances_cash_out_share",
            "account_balances_rollover_share",
        ),
    ),
    Switch("account_balances_deterministic_returns", ("account_balances_return_volatility",), off=True),
)


@dataclass(frozen=True)
class ShownParameter:
    parameter: Parameter
    source: str
    note: str = ""


def parameters_in_force(parameters: Sequence[Parameter]) -> list[ShownParameter]:
    """The parameters to list, in order, each with its source in words; a switch that is off carries a note
    naming what it turns off, and those are left out."""
    by_name = {p.name: p for p in parameters}
    hidden: dict[str, list[str]] = {}
    for switch in SWITCHES:
        p = by_name.get(switch.name)
        if p is None or not isinstance(p.value, bool) or p.value != switch.off:
            continue
        turned_off = [
            n
            for n in by_name
            if n != switch.name
            and (n in switch.dependents or (switch.prefix is not None and n.startswith(switch.prefix)))
        ]
        hidden[switch.name] = turned_off
    gone = {n for names in hidden.values() for n in names}
    shown = []
    for p in parameters:
        if p.name in gone:
            continue
        note = ""
        if p.name in hidden:
            note = f"at this value it turns off (not listed): {', '.join(hidden[p.name]) or 'nothing else'}"
        shown.append(ShownParameter(p, SOURCE_WORDS.get(p.source, p.source), note))
    return shown
