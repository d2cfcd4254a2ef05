"""Reference runs shared by the reliability tests: one uninterrupted serial simulation per seed, computed once
per session, against which every faulted, interrupted, resumed, shuffled or concurrent run is compared."""

from __future__ import annotations

from pathlib import Path

import pytest

from planalign.simulation.orchestrator import create_orchestrator
from tests.product.simulation_helpers import make_config, output_checksums

#: Two simulated years: enough for a completed year to survive while the next one is interrupted or fails.
END_YEAR = 2026
SEED = 42
OTHER_SEED = 43

Checksums = dict[str, tuple[int, str]]


@pytest.fixture(scope="session")
def reliability_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reliability")


def _reference(workdir: Path, census: Path, seed: int) -> Checksums:
    config = make_config(
        workdir,
        census,
        f"reference_seed{seed}",
        workers=1,
        end_year=END_YEAR,
        **{"simulation.random_seed": seed},
    )
    summary = create_orchestrator(config).execute_multi_year_simulation()
    assert summary.success, summary.error
    return output_checksums(summary.database_path)


@pytest.fixture(scope="session")
def reference(reliability_dir: Path, small_census: Path) -> Checksums:
    """Checksums of every output table of a one-worker run with seed 42, 2025–2026."""
    return _reference(reliability_dir, small_census, SEED)


@pytest.fixture(scope="session")
def reference_other_seed(reliability_dir: Path, small_census: Path) -> Checksums:
    """The same with seed 43."""
    return _reference(reliability_dir, small_census, OTHER_SEED)


@pytest.fixture(scope="session")
def year_tables(reliability_dir: Path, small_census: Path) -> tuple[str, ...]:
    """The project's year-partitioned (incremental) relations, as the orchestrator finds them, as
    `schema.table` (the parsed relation names carry the database name, which differs per file)."""
    config = make_config(reliability_dir, small_census, "describe", workers=1, end_year=END_YEAR)
    relations = create_orchestrator(config).describe().year_partitioned_relations
    return tuple(".".join(r.split(".")[-2:]) for r in relations)
