"""sweep.json's `scenarios`: each design of a sweep and the parameters in force under it, read from what dbt
built in the sweep database (one home for the parameter rule: dbt's `int_effective_*` models, read by
`planalign.simulation.assumptions_resolve.read_assumptions`), or why they are absent (the sweep is running,
failed before its database was saved, or kept only its members' yearly figures).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from planalign.scenarios.expansion import Member
from planalign.scenarios.scenario_file import ScenarioSet
from planalign.simulation.assumptions import AssumptionsError
from planalign.simulation.assumptions_resolve import read_assumptions

#: sweep.json's reason while the sweep runs: the parameters are read from its database once it is built.
NOT_READ_YET = "not read yet: each design's parameters are read from the sweep's database when its build ends"


def designs_in_force(scenario_set: ScenarioSet, unread: str) -> list[dict[str, Any]]:
    """sweep.json's `scenarios` before the build is read: per design its name, description and overrides;
    no parameters, and `assumptions_error` saying why (`unread`)."""
    return [
        {
            "name": design.name,
            "description": design.description,
            "overrides": json.loads(json.dumps(design.overrides, default=str)),
            "parameters": None,
            "match_formula": None,
            "assumptions_error": unread,
        }
        for design in scenario_set.designs
    ]


def designs_built(
    scenario_set: ScenarioSet, members: tuple[Member, ...], database: Path, census_employees: int
) -> list[dict[str, Any]]:
    """sweep.json's `scenarios` once the sweep database is built: per design every parameter in force and
    the match formula in words, read from what dbt built for the design's first member
    (`planalign.simulation.assumptions_resolve.read_assumptions`; the seeds change no parameter); a design
    that cannot be read records why in `assumptions_error`."""
    out = designs_in_force(scenario_set, "")
    for entry, design in zip(out, scenario_set.designs, strict=True):
        member = next(m for m in members if m.scenario_name == design.name and m.sensitivity is None)
        try:
            built = read_assumptions(
                design.config, database, member.scenario_id, census_employees=census_employees
            )
        except AssumptionsError as exc:
            entry["assumptions_error"] = str(exc)
            continue
        entry.update(
            parameters=built.parameter_values(), match_formula=built.match_formula, assumptions_error=None
        )
    return out
