"""A run directory as an analyst gets it from planalign today (summary schema 2): the sample run's engine
detail, with per-year results shaped like the real writer's (`terminations` counts every termination event,
new hires who left included — `planalign.simulation.metrics.year_metrics`), the assumptions in force of a
real configuration and census, and each year's nondiscrimination results."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

from planalign.simulation.census import generate_census, write_census
from planalign.simulation.config_loading import load_simulation_config
from planalign.simulation.run_directory import NondiscriminationResults, YearMetrics
from tests.fixtures.sample_run import build_sample_run
from tests.seed_assumptions import resolve_assumptions

REPO = Path(__file__).resolve().parents[2]

#: (experienced terminations, new-hire terminations) per year: 2025 is the issue's 818 + 241 = 1,059.
LEAVERS = {2025: (818, 241), 2026: (850, 260), 2027: (871, 255)}
CENSUS_ROWS = 61
SEED = 1234


def nondiscrimination(year: int) -> NondiscriminationResults:
    """2026 fails the ADP test (with refunds); 2027 is top-heavy."""
    failing = year == 2026
    return NondiscriminationResults(
        hce_compensation_limit=160_000.0,
        hces=40 + year - 2025,
        eligible_hces=38,
        eligible_nhces=900,
        nhce_adp=0.0412,
        hce_adp=0.0731 if failing else 0.0598,
        adp_hce_limit=0.0612,
        adp_passed=not failing,
        adp_refunds=48_210.55 if failing else 0.0,
        adp_refunded_hces=12 if failing else 0,
        nhce_acp=0.031,
        hce_acp=0.035,
        acp_hce_limit=0.051,
        acp_passed=True,
        acp_refunds=0.0,
        acp_refunded_hces=0,
        key_employees=9,
        key_employee_share=0.64 if year == 2027 else 0.41,
        is_top_heavy=year == 2027,
    )


def build_analyst_run(parent: Path, *, schema_version: int = 2) -> Path:
    """Write the run directory under `parent` and return it. `schema_version=1` writes it as planalign did
    before assumptions and nondiscrimination were recorded (those parts absent)."""
    sample = build_sample_run(parent / "sample", run_id="20261201T090000000000Z-5a5a5a5a")
    census = write_census(generate_census(CENSUS_ROWS, seed=3), parent / "census.parquet")
    config = load_simulation_config(
        REPO / "simulation_config.yaml",
        overrides={
            "simulation.census_path": str(census),
            "simulation.random_seed": SEED,
            "simulation.end_year": 2027,
            "escalation.cap": 0.12,
        },
    )
    run_dir = parent / sample.run_dir.name
    shutil.copytree(sample.run_dir, run_dir)
    shutil.rmtree(parent / "sample")
    summary: dict[str, Any] = json.loads((run_dir / "summary.json").read_text())
    for key, year in list(summary["years"].items()):
        experienced, new_hire = LEAVERS[int(key)]
        metrics = YearMetrics(
            **{
                **{f.name: year[f.name] for f in dataclasses.fields(YearMetrics) if f.name in year},
                "terminations": experienced + new_hire,
                "new_hire_terminations": new_hire,
                "nondiscrimination": nondiscrimination(int(key)),
            }
        )
        summary["years"][key] = dataclasses.asdict(metrics)
    summary["assumptions"] = resolve_assumptions(config).to_dict()
    summary["config_digest"] = config.digest()
    if schema_version < 2:
        for key in ("kind", "stage", "config_digest", "results_digest", "assumptions", "assumptions_error"):
            summary.pop(key, None)
        for year in summary["years"].values():
            year.pop("nondiscrimination")
    summary["schema_version"] = schema_version
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return run_dir
