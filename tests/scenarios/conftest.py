"""Fixtures for the scenarios layer's tests: a baseline configuration on a small census, scenario files
written next to it, and a hand-built sweep database (the tables a sweep leaves, without running dbt)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def baseline_config(tmp_path: Path, small_census: Path) -> Path:
    """simulation_config.yaml for 2025-2026 on the 300-employee census, writing into tmp_path."""
    config = {
        "simulation": {
            "start_year": 2025,
            "end_year": 2026,
            "random_seed": 42,
            "census_path": str(small_census),
            "database_path": "simulation.duckdb",
        },
        "match": {
            "tiers": [{"employee_max": 0.03, "match_rate": 1.0}, {"employee_max": 0.05, "match_rate": 0.5}]
        },
        "dbt": {"project_dir": str(REPO / "dbt_project")},
        "run": {"runs_dir": "runs"},
    }
    path = tmp_path / "simulation_config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


ScenarioWriter = Callable[..., Path]


@pytest.fixture
def write_scenarios(tmp_path: Path, baseline_config: Path) -> ScenarioWriter:
    """Write a scenario file (YAML text, or a mapping dumped as YAML) beside the baseline configuration."""

    def write(content: str | dict[str, Any], name: str = "scenarios.yaml") -> Path:
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
        return path

    return write


def write_sweep_project(
    root: Path, employees: int, *, end_year: int = 2026, census: Path | None = None
) -> Path:
    """The files a real-dbt sweep test runs from: a census of `employees` (seed 5; or the given `census`
    file) and simulation_config.yaml for 2025-`end_year` writing `simulation.duckdb` and `runs/` under `root`.
    Shared by the module fixtures of the real sweep tests (test_sweep_end_to_end, test_sharding). Returns
    `root`."""
    from planalign.simulation.census import generate_census, write_census

    if census is None:
        census = write_census(generate_census(employees, seed=5), root / "census.parquet")
    config = {
        "simulation": {
            "start_year": 2025,
            "end_year": end_year,
            "census_path": str(census),
            "database_path": "simulation.duckdb",
        },
        "dbt": {"project_dir": str(REPO / "dbt_project")},
        "run": {"runs_dir": "runs"},
    }
    (root / "simulation_config.yaml").write_text(yaml.safe_dump(config))
    return root


def write_scenario_file(root: Path, stem: str, content: dict[str, Any]) -> Path:
    """`<root>/<stem>.yaml` holding `content` in its order (beside `write_sweep_project`'s config)."""
    path = root / f"{stem}.yaml"
    path.write_text(yaml.safe_dump(content, sort_keys=False))
    return path
