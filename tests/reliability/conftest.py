"""Reference runs shared by the reliability tests: one uninterrupted serial simulation per seed, computed once
per test run (once for every xdist worker: `tests.shared_builds`, its checksums kept as JSON), against which
every faulted, interrupted, resumed, shuffled or concurrent run is compared."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from planalign.simulation.orchestrator import create_orchestrator
from tests.product.simulation_helpers import REFERENCE_END_YEAR, Checksums, make_config, serial_reference
from tests.shared_builds import built_once

#: Two simulated years: enough for a completed year to survive while the next one is interrupted or fails.
END_YEAR = REFERENCE_END_YEAR
SEED = 42
OTHER_SEED = 43

__all__ = ["END_YEAR", "OTHER_SEED", "SEED", "Checksums"]


def _once(tmp_path_factory: pytest.TempPathFactory, name: str, compute: Callable[[Path], Any]) -> Any:
    """`compute(workdir)`'s JSON-able result, computed by the first worker of the run and read by the rest."""
    with built_once(tmp_path_factory, name) as (directory, done):
        result_file = directory / "result.json"
        if not done:
            result_file.write_text(json.dumps(compute(directory)))
        return json.loads(result_file.read_text())


@pytest.fixture(scope="session")
def reliability_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reliability")


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory, small_census: Path) -> Checksums:
    """Checksums of every output table of a one-worker run with seed 42, 2025–2026 (shared with
    tests/product/test_simulation.py: `serial_reference`)."""
    return serial_reference(tmp_path_factory, small_census, SEED)[0]


@pytest.fixture(scope="session")
def reference_other_seed(tmp_path_factory: pytest.TempPathFactory, small_census: Path) -> Checksums:
    """The same with seed 43."""
    return serial_reference(tmp_path_factory, small_census, OTHER_SEED)[0]


def _year_tables(workdir: Path, census: Path) -> list[str]:
    config = make_config(workdir, census, "describe", workers=1, end_year=END_YEAR)
    relations = create_orchestrator(config).describe().year_partitioned_relations
    return [".".join(r.split(".")[-2:]) for r in relations]


@pytest.fixture(scope="session")
def year_tables(tmp_path_factory: pytest.TempPathFactory, small_census: Path) -> tuple[str, ...]:
    """The project's year-partitioned (incremental) relations, as the orchestrator finds them, as
    `schema.table` (the parsed relation names carry the database name, which differs per file)."""
    return tuple(_once(tmp_path_factory, "year_tables", lambda d: _year_tables(d, small_census)))
