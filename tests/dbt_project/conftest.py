"""Real-dbt fixtures for the simulation project: plain `dbt` subprocesses on a small generated census.

The five-year run is built once per session (it is the expensive part) in a temporary directory with its own
database, target and log paths, so it never collides with other runs in the shared `dbt_project/`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator

import pytest

from planalign.simulation.census import generate_census, write_census

from .simulation_support import CENSUS_EMPLOYEES, CENSUS_SEED, RANDOM_SEED, YEARS, DbtWorkspace, SimulationRun


@pytest.fixture(scope="session")
def simulation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulationRun]:
    """`dbt seed` + `dbt build` for 2025..2029 on a 400-employee census (tests included in the build)."""
    root = tmp_path_factory.mktemp("dbt_sim")
    census_path = write_census(generate_census(CENSUS_EMPLOYEES, CENSUS_SEED), root / "census.parquet")
    vars = {"census_path": str(census_path), "random_seed": RANDOM_SEED}
    workspace = DbtWorkspace(root)
    workspace.dbt("seed", vars=vars)
    for year in YEARS:
        workspace.dbt("build", vars={**vars, "simulation_year": year})
        if year == YEARS[0]:
            # keep the graph as parsed for the first year (census branch) to compare with later years
            shutil.copy(root / "target" / "manifest.json", root / "manifest_first_year.json")
    yield SimulationRun(workspace, census_path, vars)


@pytest.fixture
def workspace_factory(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], DbtWorkspace]:
    """Make a fresh, empty DbtWorkspace (for extra runs: determinism, re-runs, bad censuses)."""

    def make(name: str) -> DbtWorkspace:
        return DbtWorkspace(tmp_path_factory.mktemp(name))

    return make
