"""The enrollment plans of test_deferral_response and test_calibration, built side by side in ONE build on a
1,500-employee census from the shipped census's generator and seed (`planalign census --seed 2024`), shared
by both files (the `enrollment_plans` fixture).

test_calibration's two runs (every parameter at its default; the same with auto-enrollment off, seed 42)
are exactly the sweep's `today` and `voluntary` members, so it reads those members' own databases; the
deferral-response tests read the sweep. 1,500 employees: calibration's tolerances are about three standard
errors of that sample; the deferral-response tolerances are computed from the counts they see (three
standard errors) or hold for any size above their stated minimums.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from planalign.simulation.census import generate_census, write_census

from .simulation_support import Scenario, ScenarioBuild, build_scenarios

YEARS = (2025, 2026, 2027)
EMPLOYEES = 1500
CENSUS_SEED = 2024
#: the project's default random_seed, every scenario's
SEED = 42
STRETCH = [{"employee_max": 0.06, "match_rate": 0.5}]
SCENARIOS: dict[str, dict[str, Any]] = {
    "today": {},
    "stretch": {"match_tiers": STRETCH},
    "off": {"deferral_response_enabled": False},
    "voluntary": {"auto_enrollment_enabled": False},
    "voluntary_stretch": {"auto_enrollment_enabled": False, "match_tiers": STRETCH},
}


def build_enrollment_plans(root: Path, *, built: bool) -> ScenarioBuild:
    """`dbt run` of the five plans for YEARS at `root` (unless `built`); `today` and `voluntary` also in
    databases of their own."""
    census = root / "census.parquet"
    if not built:
        write_census(generate_census(EMPLOYEES, seed=CENSUS_SEED), census)
    scenarios = [Scenario(name, SEED, plan) for name, plan in SCENARIOS.items()]
    return build_scenarios(
        root, census, YEARS, scenarios, split=["today", "voluntary"], command="run", built=built
    )
