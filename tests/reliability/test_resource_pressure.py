"""Memory pressure: the watchdog drops concurrency to 1, the results record it, and the numbers stay."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from planalign.engine.results import load_run_results
from planalign.engine.watchdog import MemorySample
from planalign.simulation.orchestrator import PipelineOrchestrator
from tests.product.simulation_helpers import make_config, output_checksums
from tests.reliability.conftest import END_YEAR, Checksums

pytestmark = pytest.mark.slow

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


def test_memory_pressure_drops_concurrency_to_one_and_results_are_identical(
    reliability_dir: Path, small_census: Path, reference: Checksums
) -> None:
    config = make_config(
        reliability_dir,
        small_census,
        "pressure",
        workers=4,
        end_year=END_YEAR,
        **{"orchestrator.threading.model_parallelization.memory_limit_mb": LIMIT_MB},
    )
    probe = PressureProbe(high_samples=12)
    summary = PipelineOrchestrator(config, memory_probe=probe).execute_multi_year_simulation()
    assert summary.success, summary.error
    assert probe.samples > probe.high_samples, "the watchdog never sampled past the pressure"

    runs = load_run_results(summary.run_dir / "engine_runs.json")
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

    assert output_checksums(summary.database_path) == reference
