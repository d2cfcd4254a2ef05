"""Real-dbt fixtures for the simulation project, built on a small generated census through the shared
in-process parse (`simulation_support`).

The three-year run is built once per test run for every xdist worker (it is the expensive part), in a
temporary directory with its own database, target and log paths, so it never collides with other runs in
the shared `dbt_project/`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from planalign.simulation.census import generate_census, write_census
from tests.shared_builds import built_once

from .enrollment_plans import build_enrollment_plans
from .simulation_support import (
    CENSUS_EMPLOYEES,
    CENSUS_SEED,
    RANDOM_SEED,
    YEARS,
    DbtWorkspace,
    ScenarioBuild,
    SimulationRun,
    build_simulation,
)
from .skewed_plans import build_skewed_plans


@pytest.fixture(scope="session")
def simulation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulationRun]:
    """`dbt seed` + `dbt build` for 2025..2027 on a 400-employee census (tests included in the build),
    built once for every xdist worker (`tests.shared_builds`): the tests only read it."""
    with built_once(tmp_path_factory, "dbt_sim") as (root, done):
        census_path = root / "census.parquet"
        vars = {"random_seed": RANDOM_SEED}
        if not done:
            write_census(generate_census(CENSUS_EMPLOYEES, CENSUS_SEED), census_path)
            build_simulation(root, census_path, YEARS, vars)
    yield SimulationRun(DbtWorkspace(root), census_path, {"census_path": str(census_path), **vars})


@pytest.fixture(scope="session")
def skewed_plans(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScenarioBuild]:
    """The census built to fail the ADP and ACP tests and its five plans, one build (`skewed_plans`) for
    every xdist worker: the tests only read it (a test that re-runs a model copies a database first)."""
    with built_once(tmp_path_factory, "dbt_skewed_plans") as (root, done):
        built = build_skewed_plans(root, built=done)
    yield built


@pytest.fixture(scope="session")
def enrollment_plans(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScenarioBuild]:
    """test_deferral_response's five plans on calibration's census, one build (`enrollment_plans`) for every
    xdist worker: the tests only read it."""
    with built_once(tmp_path_factory, "dbt_enrollment_plans") as (root, done):
        built = build_enrollment_plans(root, built=done)
    yield built


@pytest.fixture
def workspace_factory(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], DbtWorkspace]:
    """Make a fresh, empty DbtWorkspace (for extra runs: determinism, re-runs, bad censuses)."""

    def make(name: str) -> DbtWorkspace:
        return DbtWorkspace(tmp_path_factory.mktemp(name))

    return make
