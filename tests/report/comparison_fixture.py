"""A hand-made sweep directory for the comparison report: three plan designs (the baseline, a 4% match, 6%
auto-enrollment) over three years, each statistic computed here from 20 seeds' per-member values, exactly as
the contract (docs: scenario contract §3) defines them — percentiles over the seeds, and deltas as
percentiles of the paired per-seed differences from the baseline."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

YEARS = (2025, 2026, 2027)
SEEDS = tuple(range(1, 21))
BASELINE = "baseline"
SCENARIOS = ("baseline", "match_4pct", "auto_6pct")
DISCOUNT_RATE = 0.05

METRICS: tuple[tuple[str, str, str], ...] = (
    ("actives", "Active employees (year end)", "count"),
    ("hires", "Hires", "count"),
    ("terminations", "Terminations (experienced + new-hire)", "count"),
    ("participation_rate", "Participation rate", "rate"),
    ("average_deferral_rate", "Average deferral rate", "rate"),
    ("employee_contributions", "Employee contributions", "usd"),
    ("employer_match", "Employer match", "usd"),
    ("employer_core", "Employer core contributions", "usd"),
    ("employer_cost", "Employer cost", "usd"),
    ("match_pct_of_payroll", "Match as % of payroll", "rate"),
    ("cost_per_participant", "Employer cost per participant", "usd_per_person"),
    ("payroll", "Payroll", "usd"),
)

#: Each design's effect on a metric, as a multiplier of the baseline value.
EFFECTS: dict[str, dict[str, float]] = {
    "baseline": {},
    "match_4pct": {"employer_match": 1.12, "employer_cost": 1.12, "match_pct_of_payroll": 1.12,
                   "cost_per_participant": 1.11},
    "auto_6pct": {"participation_rate": 1.05, "average_deferral_rate": 1.04, "employee_contributions": 1.09,
                  "employer_match": 1.06, "employer_cost": 1.06, "match_pct_of_payroll": 1.06},
}  # fmt: skip

BASE: dict[str, float] = {
    "actives": 1000, "hires": 160, "terminations": 150, "participation_rate": 0.78,
    "average_deferral_rate": 0.066, "employee_contributions": 4.1e6, "employer_match": 2.2e6,
    "employer_core": 0.0, "employer_cost": 2.2e6, "match_pct_of_payroll": 0.028,
    "cost_per_participant": 2820.0,
    "payroll": 78e6,
}  # fmt: skip

OVERRIDES: dict[str, dict[str, Any]] = {
    "baseline": {},
    "match_4pct": {"match_tiers": [{"employee_max": 0.04, "match_rate": 1.0}], "match_cap_rate": 0.04},
    "auto_6pct": {"auto_enrollment_default_deferral_rate": 0.06},
}
FORMULAS = {
    "baseline": "100% of the first 3% of pay, then 50% of the next 2% (up to 4% of pay)",
    "match_4pct": "100% of the first 4% of pay (up to 4% of pay)",
    "auto_6pct": "100% of the first 3% of pay, then 50% of the next 2% (up to 4% of pay)",
}


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def member_values(seeds: Sequence[int]) -> dict[tuple[str, str, int, int], float]:
    """(scenario, metric, year, seed) -> value. The seed's noise is shared by every scenario (common random
    numbers), so the paired differences are tighter than the spreads."""
    values: dict[tuple[str, str, int, int], float] = {}
    for seed in seeds:
        rng = random.Random(seed)
        for metric, base in BASE.items():
            for offset, year in enumerate(YEARS):
                noise = 1 + rng.gauss(0, 0.02)
                growth = 1.03**offset
                for scenario in SCENARIOS:
                    effect = EFFECTS[scenario].get(metric, 1.0)
                    own = 1 + 0.002 * ((seed * 7 + offset + len(scenario)) % 5 - 2) if effect != 1.0 else 1.0
                    values[(scenario, metric, year, seed)] = base * growth * noise * effect * own
    return values


def _stat(values: Sequence[float], deltas: Sequence[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "mean": sum(values) / len(values),
        "p5": percentile(values, 0.05),
        "p50": percentile(values, 0.50),
        "p95": percentile(values, 0.95),
        "delta_p5": percentile(deltas, 0.05),
        "delta_p50": percentile(deltas, 0.50),
        "delta_p95": percentile(deltas, 0.95),
    }


def comparison_document(seeds: Sequence[int] = SEEDS, scenarios: Sequence[str] = SCENARIOS) -> dict[str, Any]:
    values = member_values(seeds)
    rows = []
    for scenario in scenarios:
        for year in YEARS:
            for metric, _, _ in METRICS:
                own = [values[(scenario, metric, year, s)] for s in seeds]
                deltas = [
                    values[(scenario, metric, year, s)] - values[(BASELINE, metric, year, s)] for s in seeds
                ]
                rows.append({"scenario": scenario, "year": year, "metric": metric, **_stat(own, deltas)})
    totals = []
    for scenario in scenarios:
        for metric, discount in (("cumulative_employer_cost", 0.0), ("pv_employer_cost", DISCOUNT_RATE)):

            def total(name: str, seed: int, rate: float = discount) -> float:
                return sum(
                    values[(name, "employer_cost", year, seed)] / (1 + rate) ** (year - YEARS[0] + 1)
                    for year in YEARS
                )

            own = [total(scenario, s) for s in seeds]
            deltas = [total(scenario, s) - total(BASELINE, s) for s in seeds]
            totals.append({"scenario": scenario, "metric": metric, **_stat(own, deltas)})
    sweep = {
        "schema_version": 1,
        "kind": "sweep",
        "status": "complete",
        "name": "plan_designs",
        "scenarios_file": "/work/scenarios/plan_designs.yaml",
        "database": "/work/runs/20261202T100000Z-sweep-plan_designs/sweep.duckdb",
        "config_digest": "0123abcd",
        "census": {"path": "/work/dbt_project/data/census.parquet", "employees": 5000},
        "years": list(YEARS),
        "seeds": list(seeds),
        "baseline": BASELINE,
        "discount_rate": DISCOUNT_RATE,
        "started_at": "2026-12-02T10:00:00Z",
        "finished_at": "2026-12-02T10:03:10Z",
        "elapsed_seconds": 190.2,
        "members": [
            {"scenario_id": f"{name}__s{seed}", "scenario_name": name, "random_seed": seed}
            for name in scenarios
            for seed in seeds
        ],
        "scenarios": [
            {
                "name": name,
                "description": {"baseline": "Today's plan", "match_4pct": "Simpler, richer match",
                                "auto_6pct": "Auto-enroll at 6%"}[name],
                "overrides": OVERRIDES[name],
                "parameters": {
                    "match_cap_rate": 0.04,
                    "auto_enrollment_default_deferral_rate": 0.03,
                    "escalation_cap": 0.10,
                    "match_tiers": [{"employee_min": 0.0, "employee_max": 0.03, "match_rate": 1.0},
                                    {"employee_min": 0.03, "employee_max": 0.05, "match_rate": 0.5}],
                    **OVERRIDES[name],
                },
                "match_formula": FORMULAS[name],
            }
            for name in scenarios
        ],
    }  # fmt: skip
    return {
        "schema_version": 1,
        "sweep": sweep,
        "metrics": [{"key": k, "label": label, "unit": unit} for k, label, unit in METRICS],
        "rows": rows,
        "totals": totals,
    }


def write_sweep_dir(parent: Path, document: dict[str, Any] | None = None) -> Path:
    """`<parent>/20261202T100000Z-sweep-plan_designs/` with sweep.json and comparison.json."""
    document = document if document is not None else comparison_document()
    sweep_dir = parent / "20261202T100000Z-sweep-plan_designs"
    sweep_dir.mkdir(parents=True)
    (sweep_dir / "sweep.json").write_text(json.dumps(document.get("sweep", {}), indent=2))
    (sweep_dir / "comparison.json").write_text(json.dumps(document, indent=2))
    return sweep_dir
