"""One plan function (issue #24 item 1): `planalign plan` prints the estimate `simulate` records for the same
configuration, and preparing a project (`plan`, `info`, `validate`) installs no dbt patch (item 5).

Both on the real project in this process: the commands run through `planalign.cli.main`, the simulation
through the orchestrator `simulate` uses, one year with a small census. The runs directory holds an earlier
whole-years run whose recorded per-model times (planted: unequal, so that they change the estimates) both
must plan with — before issue #24 the views planned without them and the printed estimate was another."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from planalign.cli import main
from planalign.dbt.isolation import gate
from planalign.dbt.isolation._base import current_installation
from planalign.simulation.config_loading import load_simulation_config
from planalign.simulation.orchestrator import create_orchestrator

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, census: Path) -> dict[str, Any]:
    return {
        "simulation": {
            "start_year": 2025,
            "end_year": 2025,
            "census_path": str(census),
            "database_path": str(tmp_path / "sim.duckdb"),
        },
        "run": {"runs_dir": str(tmp_path / "runs")},
        "dbt": {"project_dir": str(REPO / "dbt_project")},
        "orchestrator": {
            "threading": {
                "model_parallelization": {"enabled": True, "max_workers": 2, "worker_rule": "fixed"}
            }
        },
    }


def _plant_history(runs: Path, models: list[str]) -> None:
    """An earlier whole-years run whose engine_runs.json gives each model a different time."""
    from planalign.engine.results import EngineRunResult, ModelResult, ModelStatus, write_run_results

    path = runs / "20200101T000000Z-00000000"
    path.mkdir(parents=True)
    summary = {
        "schema_version": 2,
        "kind": "years",
        "status": "success",
        "start_year": 2025,
        "end_year": 2025,
    }
    (path / "summary.json").write_text(json.dumps(summary))
    results = tuple(
        ModelResult(
            uid, uid.rsplit(".", 1)[-1], ModelStatus.SUCCESS, "parallel_safe", 1, duration_s=1.0 + i % 7
        )
        for i, uid in enumerate(models)
    )
    write_run_results(path / "engine_runs.json", [EngineRunResult(results, 1.0, 1.0, 1.0, 1, 1.0, 1)])


def test_plan_prints_the_estimates_simulate_records_and_no_view_patches_dbt(
    tmp_path: Path, small_census: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "simulation_config.yaml"
    path.write_text(yaml.safe_dump(_config(tmp_path, small_census)))
    gate.uninstall()  # whatever an earlier test in this process installed
    for command in (["plan", "--json"], ["info"], ["validate"]):
        capsys.readouterr()
        assert main([*command, "--config", str(path)]) == 0, capsys.readouterr()
        assert current_installation() is None, f"`planalign {command[0]}` installed dbt patches"
        if command[0] == "plan":
            plans = json.loads(capsys.readouterr().out)
    models = sorted({m["unique_id"] for plan in plans.values() for m in plan["models"]})
    _plant_history(tmp_path / "runs", models)
    capsys.readouterr()
    assert main(["plan", "--json", "--config", str(path)]) == 0
    with_history = json.loads(capsys.readouterr().out)
    assert with_history != plans  # the recorded times weigh the plans
    plans = with_history
    config = load_simulation_config(path)
    summary = create_orchestrator(config).execute_multi_year_simulation()
    assert summary.success, summary.error
    stages = json.loads((summary.run_dir / "summary.json").read_text())["stages"]
    recorded = [row for row in stages if row["estimated_speedup"] is not None]  # not the dbt tests' row
    assert len(recorded) >= 5, stages
    for row in recorded:
        scope = "once per simulation" if row["year"] is None else "every year"
        shown = plans[f"{scope}: {row['stage']}"]
        # summary.json keeps three decimals
        assert round(shown["estimated_speedup"], 3) == row["estimated_speedup"], (
            row,
            shown["estimated_speedup"],
        )
