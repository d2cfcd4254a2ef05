"""Two simulations of two databases in one process at the same time (a service running two plans): both
succeed and each matches its own serial reference, so neither sees the other's dbt state.

Each runs on 2 workers: the seed-42 one is also the determinism tests' 2-worker case (the 1-worker
reference's tables on 2 workers, in parallel; tests/reliability/test_determinism.py), asserted here instead
of a run of its own (two simulated years, ~30 s of CPU)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from planalign.simulation.orchestrator import create_orchestrator
from planalign.simulation.run_directory import SimulationSummary
from tests.product.simulation_helpers import make_config, output_checksums, peak_parallelism
from tests.reliability.conftest import END_YEAR, OTHER_SEED, SEED, Checksums

WORKERS = 2

pytestmark = pytest.mark.slow


async def test_two_simulations_side_by_side_each_match_their_reference(
    reliability_dir: Path, small_census: Path, reference: Checksums, reference_other_seed: Checksums
) -> None:
    configs = {
        seed: make_config(
            reliability_dir,
            small_census,
            f"side_by_side_seed{seed}",
            workers=WORKERS,
            end_year=END_YEAR,
            **{"simulation.random_seed": seed},
        )
        for seed in (SEED, OTHER_SEED)
    }
    summaries: dict[int, SimulationSummary] = {}
    started: list[int] = []

    async def simulate(seed: int) -> None:
        def on_progress(event: object) -> None:
            if seed not in started:
                started.append(seed)

        orchestrator = create_orchestrator(configs[seed])
        summaries[seed] = await orchestrator.execute_multi_year_simulation_async(on_progress=on_progress)

    async with anyio.create_task_group() as tg:
        for seed in configs:
            tg.start_soon(simulate, seed)

    assert sorted(started) == [SEED, OTHER_SEED]
    for seed, expected in ((SEED, reference), (OTHER_SEED, reference_other_seed)):
        assert summaries[seed].success, summaries[seed].error
        assert output_checksums(summaries[seed].database_path) == expected

    # The determinism tests' 2-worker case: the given worker count, really in parallel, the one-worker tables
    # (checked above against `reference`, the serial run).
    parallel = summaries[SEED]
    assert parallel.parallelization["max_workers"] == WORKERS
    assert parallel.parallelization["configured_max_workers"] == WORKERS  # worker_rule: fixed (the helper)
    assert peak_parallelism(parallel) > 1, "nothing ran in parallel"
