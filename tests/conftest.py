"""Shared fixtures. Real-dbt fixtures that several test packages use live here; the rest live beside their
tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def small_census(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300-employee generated census (seed 7), shared by the real-dbt simulation tests."""
    from planalign.simulation.census import generate_census, write_census

    path = tmp_path_factory.mktemp("census") / "census.parquet"
    write_census(generate_census(300, seed=7), path)
    return path
