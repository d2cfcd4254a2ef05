"""Same seed, same numbers — whatever the worker count, however often it runs, in whatever order ready models
are dispatched, batched into invocations or not, under memory pressure or not; a different seed gives
different numbers. Compared by order-independent table checksums.

Which runs prove it (each a real two-year simulation, ~30 s of CPU, so each is made to carry as much as it
can; every property keeps its own test, failing on its own):

- 1 worker, batched, the scheduler's order: the serial reference (`reference`, shared with the other
  reliability and product tests);
- 2 workers, batched: a half of tests/reliability/test_concurrent_simulations.py's side-by-side run, which
  asserts the worker count, the parallelism and the reference's tables of it;
- 4 workers, batched: tests/product/test_simulation.py's parallel run, compared with the same reference;
- 8 workers, unbatched, shuffled, conditional parallelism, memory pressure: `dispatch_run` below. Each of
  these only changes how the same models are dispatched, so any of them going wrong changes the tables;
  the run's own records show each was in play (8 workers, peak parallelism > 1, one invocation per attempt,
  the watchdog's drop to one worker and the relief).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from planalign.engine.results import EngineRunResult, load_run_results
from planalign.engine.watchdog import MemorySample
from planalign.simulation.orchestrator import PipelineOrchestrator
from planalign.simulation.run_directory import SimulationSummary
from tests.product.simulation_helpers import MP, make_config, output_checksums, peak_parallelism
from tests.reliability.conftest import END_YEAR, Checksums

pytestmark = pytest.mark.slow

WORKERS = 8
LIMIT_MB = 1000.0


class PressureProbe:
    """Reports RSS at twice the limit for its first `high_samples` samples, then a tenth of it: the run's
    natural peak sits above the limit at the start, as on a laptop with a too-small budget."""

    def __init__(self, high_samples: int) -> None:
        self.high_samples = high_samples
        self.samples = 0
        self._lock = threading.Lock()

    def sample(self) -> MemorySample:
        with self._lock:
            self.samples += 1
            high = self.samples <= self.high_samples
        return MemorySample(rss_mb=LIMIT_MB * (2.0 if high else 0.1), available_mb=100_000.0)


@dataclass(frozen=True)
class DispatchRun:
    summary: SimulationSummary
    probe: PressureProbe
    runs: list[EngineRunResult]


@pytest.fixture(scope="module")
def dispatch_run(reliability_dir: Path, small_census: Path) -> DispatchRun:
    """Seed 42, 2025–2026, on 8 workers; every model its own dbt invocation; ready models dispatched in a
    shuffled order (seed 1); conditional parallelism on; a memory probe that reports pressure at first."""
    config = make_config(
        reliability_dir,
        small_census,
        "dispatch",
        workers=WORKERS,
        end_year=END_YEAR,
        **{
            MP + "models_per_invocation": 1,
            MP + "enable_conditional_parallelization": True,
            MP + "memory_limit_mb": LIMIT_MB,
        },
    )
    probe = PressureProbe(high_samples=12)
    orchestrator = PipelineOrchestrator(config, shuffle_dispatch_seed=1, memory_probe=probe)
    summary = orchestrator.execute_multi_year_simulation()
    assert summary.success, summary.error
    return DispatchRun(summary, probe, load_run_results(summary.run_dir / "engine_runs.json"))


def test_every_worker_count_gives_the_one_worker_tables(
    dispatch_run: DispatchRun, reference: Checksums
) -> None:
    summary = dispatch_run.summary
    assert summary.parallelization["max_workers"] == WORKERS
    assert summary.parallelization["configured_max_workers"] == WORKERS  # worker_rule: fixed (the helper)
    assert peak_parallelism(summary) > 1, "nothing ran in parallel"
    assert output_checksums(summary.database_path) == reference


def test_unbatched_shuffled_dispatch_with_conditional_parallelism_gives_the_batched_tables(
    dispatch_run: DispatchRun, reference: Checksums
) -> None:
    """The reference runs with batches (the default) in the scheduler's order; here every model is its own
    dbt invocation, ready models are dispatched in a shuffled order and conditional parallelism is on; the
    invocation count shows the models really ran one per invocation."""
    assert output_checksums(dispatch_run.summary.database_path) == reference
    attempts = sum(m.attempts for run in dispatch_run.runs for m in run.results)
    assert sum(run.invocations for run in dispatch_run.runs) == attempts  # each attempt its own invocation


def test_memory_pressure_drops_concurrency_to_one_and_results_are_identical(
    dispatch_run: DispatchRun, reference: Checksums
) -> None:
    """The watchdog drops concurrency to 1, the results record it, and the numbers stay."""
    probe, runs = dispatch_run.probe, dispatch_run.runs
    assert probe.samples > probe.high_samples, "the watchdog never sampled past the pressure"
    pressured = [
        r for r in runs if any(e.kind == "pressure" and e.limit_after == 1 for e in r.pressure_events)
    ]
    assert pressured, "no engine run recorded the drop to one worker"
    first = pressured[0]
    assert any(c.limit == 1 and c.reason == "pressure" for c in first.limit_changes)
    assert any("memory pressure" in f for f in first.fallbacks)
    assert first.pressure_events[0].rss_mb > LIMIT_MB
    # Once relieved, later stages run in parallel again.
    assert any(r.parallelism_max > 1 for r in runs[runs.index(first) + 1 :])

    assert output_checksums(dispatch_run.summary.database_path) == reference


def test_a_different_seed_gives_different_tables(
    reference: Checksums, reference_other_seed: Checksums
) -> None:
    assert set(reference) == set(reference_other_seed)
    events = next(t for t in reference if t.endswith("fct_yearly_events"))
    assert reference[events] != reference_other_seed[events]
    differing = [t for t in reference if reference[t] != reference_other_seed[t]]
    assert len(differing) >= len(reference) // 2, differing
