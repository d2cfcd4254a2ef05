"""The assumptions a simulation ran under, as frozen data: the record, its read-back and its words.

A result means nothing to an analyst without what produced it: which census (and how many rows), which seed,
which years, and the value of every simulation parameter — including the ones nobody set, which the dbt
project takes from its seeds. The values are the dbt project's own resolution (`macros/parameters.sql`,
`planalign_param`, and the `int_effective_*` models): `planalign.simulation.assumptions_resolve` reads them
from what dbt built, per scenario (a run summary's record, a sweep's sweep.json per design). Where nothing
was built, the record says so instead of computing the values a second way.

The result is what the run report's assumptions panel shows and what a sweep records per scenario
(`Assumptions.to_dict`, `Assumptions.parameter_values`). `match_formula_words` states the match formula in
words ("100% of the first 3% of pay, then 50% of the next 2% (up to 4% of pay)").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from planalign.errors import PlanalignUsageError
from planalign.simulation.config import MatchTier


class AssumptionsError(PlanalignUsageError):
    """The assumptions cannot be resolved: a seed file is missing or malformed, the census cannot be read,
    or a parameter has neither a config value nor a seed value. The message names the file or parameter."""


ParameterSource = Literal["config", "seed", "environment", "flag", "override", "default"]
"""Where a value came from: "config" the configuration file, "environment" a `PLANALIGN_*` variable, "flag"
a command-line flag, "override" a scenario's design or an API caller, "default" planalign's code default,
"seed" the dbt project's seed (the configuration leaves it unset). Summaries written before the finer labels
say "config" for the first five."""

#: `SimulationConfig.origin_of`'s words as a parameter's source.
ORIGIN_SOURCE: dict[str, ParameterSource] = {
    "file": "config",
    "environment": "environment",
    "flag": "flag",
    "override": "override",
    "default": "default",
}
ParameterKind = Literal[
    "bool", "int", "float", "match_tiers", "vesting_schedule", "core_contribution_schedule"
]
#: A JSON-able parameter value: a number or boolean, or a table as a tuple of rows (mappings).
ParameterValue = bool | int | float | tuple[Mapping[str, float], ...]

#: The config sections that hold parameters, in `simulation_config.yaml`'s order; "simulation" holds the two
#: parameters of that section (target_growth_rate, census_max_reject_share).
PARAMETER_SECTIONS = (
    "workforce",
    "compensation",
    "enrollment",
    "escalation",
    "match",
    "vesting",
    "contributions",
    "account_balances",
    "safe_harbor",
    "nondiscrimination",
)
#: issue #23: the plan design is a var only (no seed row); unset it is 0, no safe-harbor design
SAFE_HARBOR_DESCRIPTION = (
    "Plan design (issue #23): 0 = none (the ADP/ACP tests run), 1 = safe-harbor basic match, 2 = enhanced "
    "match, 3 = 3% non-elective; a design fixes the match or core, vests all employer money immediately and "
    "is deemed to pass the ADP test (and the ACP test for 1 and 2); with safe_harbor_qaca the design is a "
    "QACA (the QACA match or 3% core, a 2-year cliff, automatic enrollment within IRC 401(k)(13))"
)
SIMULATION_PARAMETERS = ("target_growth_rate", "census_max_reject_share")
SCALAR_SEEDS = ("config_workforce_parameters", "config_plan_parameters", "config_account_balance_parameters")


@dataclass(frozen=True)
class MatchTierTerm:
    """One match tier in force: `match_rate` of each deferred dollar between `employee_min` and
    `employee_max` of pay."""

    employee_min: float
    employee_max: float
    match_rate: float


@dataclass(frozen=True)
class Parameter:
    """One simulation parameter in force, under its dbt var name. `section` is the config section it is set
    in (`simulation_config.yaml`), `source` says whether the config set it or the seed supplied it."""

    name: str
    section: str
    kind: ParameterKind
    value: ParameterValue
    source: ParameterSource
    description: str

    def json_value(self) -> Any:
        """The value as JSON data (tables as lists of dicts)."""
        if isinstance(self.value, tuple):
            return [dict(row) for row in self.value]
        return self.value

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "section": self.section,
            "kind": self.kind,
            "value": self.json_value(),
            "source": self.source,
            "description": self.description,
        }


@dataclass(frozen=True)
class Assumptions:
    """Everything a simulation's results depend on, as the analyst reads it."""

    census_path: str
    census_employees: int
    random_seed: int
    start_year: int
    end_year: int
    effective_date: str
    parameters: tuple[Parameter, ...]
    match_tiers: tuple[MatchTierTerm, ...]
    match_cap_rate: float
    #: census rows with the optional prior_year_compensation (issue #23 item 6); None: not recorded
    census_prior_year_pay_rows: int | None = None

    @property
    def hce_lookback(self) -> str:
        """What the first simulated year's HCE determination takes as pay received in the look-back year."""
        if self.census_prior_year_pay_rows is None:
            return "not recorded"
        if self.census_prior_year_pay_rows == 0:
            return "the census pay rate (the census has no prior_year_compensation)"
        return (
            f"the census prior_year_compensation ({self.census_prior_year_pay_rows:,} rows), "
            "the pay rate where it is blank"
        )

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(range(self.start_year, self.end_year + 1))

    @property
    def match_formula(self) -> str:
        return match_formula_words(self.match_tiers, self.match_cap_rate)

    def parameter(self, name: str) -> Parameter:
        """The parameter called `name` (its dbt var name); KeyError naming the known ones otherwise."""
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(f"no parameter {name!r}; known: {', '.join(p.name for p in self.parameters)}")

    def parameter_values(self) -> dict[str, Any]:
        """Every parameter in force as {dbt var name: JSON value} — sweep.json's `parameters`."""
        return {p.name: p.json_value() for p in self.parameters}

    def to_dict(self) -> dict[str, Any]:
        """JSON data; `assumptions_from_dict` reads it back."""
        return {
            "census": {
                "path": self.census_path,
                "employees": self.census_employees,
                "prior_year_compensation_rows": self.census_prior_year_pay_rows,
            },
            "hce_lookback": self.hce_lookback,
            "random_seed": self.random_seed,
            "start_year": self.start_year,
            "end_year": self.end_year,
            "years": list(self.years),
            "effective_date": self.effective_date,
            "parameters": [p.to_dict() for p in self.parameters],
            "match_tiers": [
                {"employee_min": t.employee_min, "employee_max": t.employee_max, "match_rate": t.match_rate}
                for t in self.match_tiers
            ],
            "match_cap_rate": self.match_cap_rate,
            "match_formula": self.match_formula,
        }


def normalise_match_tiers(
    tiers: Iterable[MatchTierTerm | MatchTier | Mapping[str, Any]],
) -> tuple[MatchTierTerm, ...]:
    """Tiers as `MatchTierTerm`s, from config `MatchTier`s, mappings (the dbt var form, with or without
    `employee_min`) or terms. A tier without `employee_min` starts where the previous one ends (the first at
    0), exactly as `int_effective_match_tiers` builds them from the var."""
    out: list[MatchTierTerm] = []
    previous = 0.0
    for tier in tiers:
        if isinstance(tier, MatchTierTerm):
            term = tier
        elif isinstance(tier, Mapping):
            try:
                term = MatchTierTerm(
                    float(tier.get("employee_min", previous)),
                    float(tier["employee_max"]),
                    float(tier["match_rate"]),
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise AssumptionsError(
                    f"match tier {dict(tier)!r}: needs numbers employee_max and match_rate ({exc})"
                ) from exc
        else:
            term = MatchTierTerm(previous, float(tier.employee_max), float(tier.match_rate))
        out.append(term)
        previous = term.employee_max
    return tuple(out)


# ----------------------------------------------------------------------------------------------------
# The match formula in words
# ----------------------------------------------------------------------------------------------------


def _pct(share: float) -> str:
    """0.035 -> "3.5%", 1.0 -> "100%" (at most 4 decimals of a percent)."""
    text = f"{round(share * 100, 4):.4f}".rstrip("0").rstrip(".")
    return f"{'0' if text in ('', '-0') else text}%"


def match_formula_words(
    tiers: Iterable[MatchTierTerm | MatchTier | Mapping[str, Any]], cap_rate: float
) -> str:
    """The employer match formula as an analyst says it, e.g. "100% of the first 3% of pay, then 50% of the
    next 2% (up to 4% of pay)". A tier that does not start where the previous one ended is said with its
    bounds ("50% of deferrals from 4% to 6% of pay"). The parenthesis is the most the match can be: "up to"
    the tiers' total, or "capped at" `cap_rate` when the cap is below it."""
    terms = sorted(normalise_match_tiers(tiers), key=lambda t: t.employee_min)
    tier_total = sum(max(0.0, t.employee_max - t.employee_min) * t.match_rate for t in terms)
    maximum = min(tier_total, cap_rate)
    if not terms or tier_total <= 0:
        return "no employer match"
    if maximum <= 0:
        return f"no employer match (the match cap is {_pct(cap_rate)} of pay)"
    parts: list[str] = []
    previous_max: float | None = None
    for term in terms:
        rate = _pct(term.match_rate)
        if previous_max is None and math.isclose(term.employee_min, 0.0, abs_tol=1e-12):
            parts.append(f"{rate} of the first {_pct(term.employee_max)} of pay")
        elif previous_max is not None and math.isclose(term.employee_min, previous_max, abs_tol=1e-12):
            parts.append(f"then {rate} of the next {_pct(term.employee_max - term.employee_min)}")
        else:
            lead = "then " if parts else ""
            bounds = f"from {_pct(term.employee_min)} to {_pct(term.employee_max)} of pay"
            parts.append(f"{lead}{rate} of deferrals {bounds}")
        previous_max = term.employee_max
    binding = cap_rate < tier_total and not math.isclose(cap_rate, tier_total, abs_tol=1e-12)
    limit = f"capped at {_pct(cap_rate)}" if binding else f"up to {_pct(maximum)}"
    return f"{', '.join(parts)} ({limit} of pay)"


# ----------------------------------------------------------------------------------------------------
# Reading back
# ----------------------------------------------------------------------------------------------------


def assumptions_from_dict(data: Mapping[str, Any]) -> Assumptions:
    """Read `Assumptions.to_dict`'s output back (e.g. from summary.json); AssumptionsError naming the key that
    is wrong."""
    try:
        census = data["census"]
        parameters = tuple(
            Parameter(
                name=str(p["name"]),
                section=str(p["section"]),
                kind=p["kind"],
                value=tuple(dict(r) for r in p["value"]) if isinstance(p["value"], list) else p["value"],
                source=p["source"],
                description=str(p.get("description", "")),
            )
            for p in data["parameters"]
        )
        return Assumptions(
            census_path=str(census["path"]),
            census_employees=int(census["employees"]),
            random_seed=int(data["random_seed"]),
            start_year=int(data["start_year"]),
            end_year=int(data["end_year"]),
            effective_date=str(data["effective_date"]),
            parameters=parameters,
            match_tiers=normalise_match_tiers(data["match_tiers"]),
            match_cap_rate=float(data["match_cap_rate"]),
            census_prior_year_pay_rows=None
            if census.get("prior_year_compensation_rows") is None
            else int(census["prior_year_compensation_rows"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise AssumptionsError(
            f"assumptions: missing or malformed entry ({type(exc).__name__}: {exc})"
        ) from exc
