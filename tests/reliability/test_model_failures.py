"""Model failures on real dbt, through the CLI entry point: a transient failure is retried up to
`max_retries_per_model` and the year succeeds; a permanent failure stops only its descendants, independent
models finish, `simulate` exits 1 naming the model and its error, the year is not marked complete, and
`simulate --resume` continues from it once the cause is gone, giving the tables of an uninterrupted run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from planalign import cli
from planalign.engine.results import ModelStatus, load_run_results
from planalign.simulation import orchestrator
from planalign.simulation.build import default_invoker_factory
from planalign.simulation.state import SimulationState
from tests.fixtures.faults import Fault, FaultyInvoker
from tests.product.simulation_helpers import output_checksums
from tests.reliability.conftest import END_YEAR, Checksums
from tests.reliability.helpers import base_settings, write_config

pytestmark = pytest.mark.slow

FAILING = "int_effective_parameters"
FLAKY = "int_hazard_termination"
MAX_RETRIES = 2


def test_permanent_failure_stops_only_descendants_and_resume_completes_identically(
    tmp_path: Path,
    small_census: Path,
    reference: Checksums,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    database = tmp_path / "simulation.duckdb"
    settings = base_settings(small_census, database, end_year=END_YEAR)
    settings["orchestrator"] = {
        "threading": {
            "model_parallelization": {
                "enabled": True,
                "max_workers": 4,
                "safety": {"max_retries_per_model": MAX_RETRIES},
            }
        }
    }
    config = write_config(tmp_path / "simulation_config.yaml", settings)
    flaky = Fault(FLAKY, year=2025, failures=MAX_RETRIES, message="transient: connection reset")
    broken = Fault(FAILING, year=2026, failures=None, message="permanent: disk quota exceeded")
    real_factory = default_invoker_factory  # what the orchestrator calls, until patched below

    def faulty(manifest: Any, config: Any) -> FaultyInvoker:
        return FaultyInvoker(real_factory(manifest, config), [flaky, broken])

    monkeypatch.setattr(orchestrator, "default_invoker_factory", faulty)
    assert cli.main(["simulate", "--config", str(config)]) == cli.ExitStatus.FAILURE
    out = capsys.readouterr()
    assert f"{FAILING}: permanent: disk quota exceeded" in out.out + out.err

    run_dir = next((tmp_path / "runs").iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["completed_years"] == [2025]
    assert any(FAILING in line for line in summary["failed_models"])
    assert [c.simulation_year for c in SimulationState(database).completed_years()] == [2025]

    runs = {str(r.label): r for r in load_run_results(run_dir / "engine_runs.json")}
    retried = {m.name: m for m in runs["2025:foundation"].results}[FLAKY]
    assert retried.status is ModelStatus.SUCCESS and retried.attempts == MAX_RETRIES + 1
    assert flaky.seen == MAX_RETRIES + 1

    failed_stage = runs["2026:foundation"]
    by_id = {m.unique_id: m for m in failed_stage.results}
    failed_id = next(uid for uid, m in by_id.items() if m.name == FAILING)
    assert by_id[failed_id].status is ModelStatus.ERROR
    assert by_id[failed_id].attempts == MAX_RETRIES + 1
    analyzer = orchestrator.create_orchestrator(_config(config)).describe().analyzer
    descendants = analyzer.dependents(failed_id, transitive=True) & set(by_id)
    independent = set(by_id) - descendants - {failed_id}
    assert descendants, "the failing model should have descendants in its stage"
    assert independent, "the stage should hold models independent of the failing one"
    assert all(by_id[uid].status is ModelStatus.SKIPPED for uid in descendants)
    assert all(by_id[uid].status is ModelStatus.SUCCESS for uid in independent)
    assert not any(label.startswith("2026:event_generation") for label in runs), "later stages ran"

    monkeypatch.setattr(orchestrator, "default_invoker_factory", real_factory)
    assert cli.main(["simulate", "--config", str(config), "--resume"]) == cli.ExitStatus.OK
    assert [c.simulation_year for c in SimulationState(database).completed_years()] == [2025, 2026]
    assert output_checksums(database) == reference


def _config(path: Path) -> Any:
    from planalign.simulation.config_loading import load_simulation_config

    return load_simulation_config(path)
