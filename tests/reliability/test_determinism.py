"""Same seed, same numbers — whatever the worker count, however often it runs, in whatever order ready models
are dispatched, batched into invocations or not; a different seed gives different numbers. Compared by
order-independent table checksums."""

from __future__ import annotations

from pathlib import Path

import pytest

from planalign.engine.results import load_run_results
from planalign.simulation.orchestrator import PipelineOrchestrator, create_orchestrator
from tests.product.simulation_helpers import MP, make_config, output_checksums, peak_parallelism
from tests.reliability.conftest import END_YEAR, Checksums

pytestmark = pytest.mark.slow


# 4 workers: the same run as tests/product/test_simulation.py's parallel run (seed 42, 2025–2026, the small
# census), which asserts the same facts of it (max_workers, configured_max_workers, peak parallelism > 1, and
# checksums equal to this reference in test_serial_run_gives_identical_tables); it is not run twice.
@pytest.mark.parametrize("workers", [2, 8])
def test_every_worker_count_gives_the_one_worker_tables(
    reliability_dir: Path, small_census: Path, reference: Checksums, workers: int
) -> None:
    config = make_config(
        reliability_dir, small_census, f"workers{workers}", workers=workers, end_year=END_YEAR
    )
    summary = create_orchestrator(config).execute_multi_year_simulation()
    assert summary.success, summary.error
    assert summary.parallelization["max_workers"] == workers
    assert summary.parallelization["configured_max_workers"] == workers  # worker_rule: fixed (the helper)
    if workers > 1:
        assert peak_parallelism(summary) > 1, "nothing ran in parallel"
    assert output_checksums(summary.database_path) == reference


def test_unbatched_shuffled_dispatch_with_conditional_parallelism_gives_the_batched_tables(
    reliability_dir: Path, small_census: Path, reference: Checksums
) -> None:
    """The reference runs with batches (the default) in the scheduler's order; here every model is its own
    dbt invocation, ready models are dispatched in a shuffled order (seed 1) and conditional parallelism is
    on. One run checks the three (they were two runs of two years each: unbatched; shuffled with
    conditional parallelism): each changes only how the same models are dispatched, so any of them going
    wrong changes the tables, and the invocation count shows the models really ran one per invocation."""
    config = make_config(
        reliability_dir,
        small_census,
        "unbatched_shuffled",
        workers=4,
        end_year=END_YEAR,
        **{MP + "models_per_invocation": 1, MP + "enable_conditional_parallelization": True},
    )
    summary = PipelineOrchestrator(config, shuffle_dispatch_seed=1).execute_multi_year_simulation()
    assert summary.success, summary.error
    assert output_checksums(summary.database_path) == reference
    runs = load_run_results(summary.run_dir / "engine_runs.json")
    attempts = sum(m.attempts for run in runs for m in run.results)
    assert sum(run.invocations for run in runs) == attempts  # each attempt its own invocation


def test_a_different_seed_gives_different_tables(
    reference: Checksums, reference_other_seed: Checksums
) -> None:
    assert set(reference) == set(reference_other_seed)
    events = next(t for t in reference if t.endswith("fct_yearly_events"))
    assert reference[events] != reference_other_seed[events]
    differing = [t for t in reference if reference[t] != reference_other_seed[t]]
    assert len(differing) >= len(reference) // 2, differing
