"""A scenario set into members — every design × every seed — and the dbt var `scenarios` that builds them
all in one database (docs/scenarios.md describes the var).

The sweep's top-level vars are the baseline's (`SimulationConfig.dbt_vars`), so a member's `vars` hold only
the parameters its design sets differently from the baseline: a lookup takes the member's entry, else the
top-level var. Every member carries its own seed; two members with the same seed draw the same random
numbers (common random numbers), so their difference is the designs' difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from planalign.scenarios.scenario_file import SCENARIO_ID_PATTERN, ScenarioSet, scenario_id
from planalign.simulation.config import SimulationConfig

#: Parameter vars that are the census's, not a design's (the dbt project refuses them in a scenario).
SHARED_PARAMETER_VARS: frozenset[str] = frozenset({"census_max_reject_share"})


@dataclass(frozen=True)
class Member:
    """One simulation of a sweep: a design with one seed."""

    scenario_id: str
    scenario_name: str
    random_seed: int
    vars: Mapping[str, Any] = field(default_factory=dict)
    sensitivity: tuple[str, str, str] | None = None
    """(design, sensitivity, side) of a sensitivity member; None for a design's own member."""

    def __post_init__(self) -> None:
        if not SCENARIO_ID_PATTERN.fullmatch(self.scenario_id):
            raise ValueError(f"scenario id {self.scenario_id!r} does not match {SCENARIO_ID_PATTERN.pattern}")

    def var_entry(self) -> dict[str, Any]:
        """The member's item of the `scenarios` var."""
        return {
            "scenario_id": self.scenario_id,
            "scenario_name": self.scenario_name,
            "random_seed": self.random_seed,
            "vars": dict(self.vars),
        }


def differing_vars(design: SimulationConfig, top: SimulationConfig) -> dict[str, Any]:
    """The parameter vars `design` sets to other values than `top` (the sweep's top-level vars)."""
    ours = design.parameter_vars()
    theirs = top.parameter_vars()
    return {
        name: value
        for name, value in ours.items()
        if name not in SHARED_PARAMETER_VARS and (name not in theirs or theirs[name] != value)
    }


def expand(scenario_set: ScenarioSet) -> tuple[Member, ...]:
    """Every design × every seed, the baseline first, designs in the file's order, seeds in order; then
    every sensitivity variant (design × sensitivity × side) × every seed, with the same seeds."""
    top = scenario_set.baseline.config
    entries: list[tuple[str, SimulationConfig, tuple[str, str, str] | None]] = [
        (design.name, design.config, None) for design in scenario_set.designs
    ]
    entries += [(v.name, v.config, (v.design, v.sensitivity, v.side)) for v in scenario_set.variants]
    members: list[Member] = []
    for name, config, sensitivity in entries:
        vars_ = differing_vars(config, top)
        members += [
            Member(scenario_id(name, seed), name, seed, vars_, sensitivity) for seed in scenario_set.seeds
        ]
    return tuple(members)


def scenarios_var(members: tuple[Member, ...]) -> list[dict[str, Any]]:
    """The dbt var `scenarios`: one item per member, in the members' order."""
    ids = [m.scenario_id for m in members]
    if len(set(ids)) != len(ids):
        raise ValueError(f"scenario ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
    return [m.var_entry() for m in members]
