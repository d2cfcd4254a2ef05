"""The comparison of a sweep: per member and year the plan's headline metrics, read from the sweep
database; per design and year their mean and P5/P50/P95 across seeds and the paired deltas vs the
baseline; per design the cumulative employer cost and its present value. Written as `comparison.json`
(the comparison report reads it) and `metrics.csv` (every member's values, for a spreadsheet).

Where each metric comes from (per scenario_id and simulation_year): `rpt_yearly_summary` — actives (year
end), hires, terminations (every termination event: experienced and new-hire), participation (enrolled
actives / actives), employee contributions, employer match, employer core, employer cost (match + core −
forfeitures used), payroll (compensation paid in the year, `total_compensation_paid`); and
`fct_workforce_snapshot` — the average deferral rate of active participants deferring (as the calibration
tests measure it); `fct_account_balances`, where the database has it (issue #20) — plan assets at year end
(the closing balances), the year's investment return and the leavers' cash-outs, summed per member. Derived:
match as a share of payroll = employer match / payroll; cost per participant =
employer cost / enrolled actives at year end. A ratio with a zero denominator has no value (null).

The figures are read by `planalign.scenarios.member_figures` (one query over those tables); a sharded sweep
that kept only summaries (`--keep summaries`) has that query's rows, computed in each shard from its own
tables, instead of the tables, and the comparison reads them back (sweep.json's `keep`).

Sensitivities (the scenario file's `sensitivities:`): per assumption, side (low, high) and design, the
design's present-value employer cost under that value of the assumption and its paired difference to the
baseline under the same value — `sensitivities` in comparison.json, the tornado chart of the report.

Percentiles and deltas: `planalign.scenarios.stats` (linear interpolation; deltas paired by seed). The
present value discounts each year's employer cost to the first simulated year: cost_y / (1 + r)^(y − y0).
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from planalign.engine.results import write_json_atomic
from planalign.scenarios.database import SweepDatabaseError, completed_years, read_only, relation
from planalign.scenarios.member_figures import MemberYear as MemberYear
from planalign.scenarios.member_figures import read_member_metrics as read_member_metrics
from planalign.scenarios.scenario_file import SENSITIVITY_SIDES, sensitivity_member_name
from planalign.scenarios.spreadsheet import csv_text
from planalign.scenarios.stats import Band, paired_deltas, present_value
from planalign.scenarios.sweep import SweepDirectoryError, load_sweep
from planalign.scenarios.sweep_directory import kept_summaries
from planalign.simulation.year_plan import span

COMPARISON_SCHEMA_VERSION = 1
COMPARISON_FILE = "comparison.json"
METRICS_FILE = "metrics.csv"
METRICS_CSV_COLUMNS = ("scenario_name", "random_seed", "year", "metric", "value")

Unit = Literal["count", "usd", "rate", "usd_per_person"]


@dataclass(frozen=True)
class MetricSpec:
    key: str
    label: str
    unit: Unit


#: The per-year metrics, in the order the comparison lists them.
YEARLY_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("actives", "Active employees (year end)", "count"),
    MetricSpec("hires", "Hires", "count"),
    MetricSpec("terminations", "Terminations (experienced and new-hire)", "count"),
    MetricSpec("participation_rate", "Participation rate (active employees enrolled)", "rate"),
    MetricSpec("average_deferral_rate", "Average deferral rate of participants", "rate"),
    MetricSpec("employee_contributions", "Employee contributions", "usd"),
    MetricSpec("employer_match", "Employer match", "usd"),
    MetricSpec("employer_core", "Employer core contributions", "usd"),
    MetricSpec("employer_cost", "Employer cost (match + core − forfeitures used)", "usd"),
    MetricSpec("match_pct_of_payroll", "Employer match as a share of payroll", "rate"),
    MetricSpec("cost_per_participant", "Employer cost per participant", "usd_per_person"),
    MetricSpec("payroll", "Payroll (compensation paid)", "usd"),
    MetricSpec("closing_balance", "Plan assets at year end (account balances)", "usd"),
    MetricSpec("investment_return", "Investment return on the accounts", "usd"),
    MetricSpec("cash_outs", "Cash-outs by leavers (leakage)", "usd"),
)
#: The metrics read from `fct_account_balances` (issue #20), null in a database built without it.
BALANCE_METRICS: tuple[str, ...] = ("closing_balance", "investment_return", "cash_outs")


def metrics_present(members: Sequence[MemberYear]) -> tuple[MetricSpec, ...]:
    """The yearly metrics the database has: all, but the balance metrics only where it has balances (an
    older database, or one built without `fct_account_balances`, has none — left out, not shown as 0)."""
    return tuple(
        spec
        for spec in YEARLY_METRICS
        if spec.key not in BALANCE_METRICS or any(m.values.get(spec.key) is not None for m in members)
    )


#: The whole-horizon totals, per member, then across seeds.
TOTAL_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("cumulative_employer_cost", "Cumulative employer cost over the years", "usd"),
    MetricSpec("pv_employer_cost", "Present value of the employer cost", "usd"),
)


@dataclass(frozen=True)
class ComparisonFiles:
    comparison_json: Path
    metrics_csv: Path
    document: dict[str, Any]


# ----------------------------------------------------------------------------------------------------
# Reading the sweep database
# ----------------------------------------------------------------------------------------------------


def check_database_holds_sweep(database: Path, sweep: Mapping[str, Any]) -> None:
    """The database must still hold this sweep: every year complete under the sweep's digest, and exactly
    its members. Another sweep or simulation written to the same file since is refused, not compared."""
    with read_only(database) as con:
        years = completed_years(con)
        members = {
            str(r[0])
            for r in con.execute(
                f"select scenario_id from {relation(con, 'dim_scenarios', database)}"
            ).fetchall()
        }
    digest = sweep["config_digest"]
    wanted = [int(y) for y in sweep["years"]]
    missing = [y for y in wanted if y not in years]
    foreign = [y for y in wanted if y in years and years[y][0] != digest]
    expected = {str(m["scenario_id"]) for m in sweep["members"]}
    advice = f"Run the sweep again: `planalign scenarios run {sweep['scenarios_file']}`."
    if missing:
        raise SweepDatabaseError(
            f"the sweep database {database} does not hold {span(missing)} complete. {advice}"
        )
    if foreign or members != expected:
        raise SweepDatabaseError(
            f"the sweep database {database} no longer holds this sweep: another run has written it since. "
            f"{advice}"
        )


# ----------------------------------------------------------------------------------------------------
# The comparison (pure)
# ----------------------------------------------------------------------------------------------------


def build_comparison(sweep: Mapping[str, Any], members: Sequence[MemberYear]) -> dict[str, Any]:
    """comparison.json's document from sweep.json's and every member's per-year values."""
    names = [str(s["name"]) for s in sweep["scenarios"]]
    baseline = str(sweep["baseline"])
    years = [int(y) for y in sweep["years"]]
    seeds_of: dict[str, list[int]] = {}
    for m in sweep["members"]:
        seeds_of.setdefault(str(m["scenario_name"]), []).append(int(m["random_seed"]))
    rate = float(sweep["discount_rate"])

    values: dict[tuple[str, int, int], Mapping[str, float | None]] = {
        (m.scenario_name, m.random_seed, m.year): m.values for m in members
    }
    sensitivities = [str(x["name"]) for x in sweep.get("sensitivities") or []]
    variants = {
        (name, sens, side): sensitivity_member_name(name, sens, side)
        for sens in sensitivities
        for side in SENSITIVITY_SIDES
        for name in names
    }
    missing = [
        f"{name}__s{seed} {year}"
        for name in [*names, *variants.values()]
        for seed in seeds_of.get(name, [])
        for year in years
        if (name, seed, year) not in values
    ]
    if missing:
        raise SweepDatabaseError(
            f"the sweep database has no results for {len(missing)} member-years ({', '.join(missing[:5])}"
            f"{', ...' if len(missing) > 5 else ''}); run the sweep again"
        )

    def by_seed(name: str, year: int, metric: str) -> dict[int, float | None]:
        return {seed: values[(name, seed, year)].get(metric) for seed in seeds_of.get(name, [])}

    present = metrics_present(members)
    rows: list[dict[str, Any]] = []
    for name in names:
        for year in years:
            for spec in present:
                ours = by_seed(name, year, spec.key)
                rows.append(
                    _row(
                        {"scenario": name, "year": year, "metric": spec.key},
                        ours,
                        by_seed(baseline, year, spec.key),
                    )
                )

    def cost_by_year(name: str, seed: int) -> dict[int, float] | None:
        costs = {y: values[(name, seed, y)].get("employer_cost") for y in years}
        if any(c is None for c in costs.values()):
            return None
        return {y: float(c) for y, c in costs.items() if c is not None}

    def totals_of(name: str) -> dict[str, dict[int, float | None]]:
        cumulative: dict[int, float | None] = {}
        pv: dict[int, float | None] = {}
        for seed in seeds_of.get(name, []):
            costs = cost_by_year(name, seed)
            cumulative[seed] = None if costs is None else math.fsum(costs.values())
            pv[seed] = None if costs is None else present_value(costs, rate, years[0])
        return {"cumulative_employer_cost": cumulative, "pv_employer_cost": pv}

    base_totals = totals_of(baseline)
    totals: list[dict[str, Any]] = []
    for name in names:
        ours_totals = totals_of(name)
        for spec in TOTAL_METRICS:
            totals.append(
                _row({"scenario": name, "metric": spec.key}, ours_totals[spec.key], base_totals[spec.key])
            )

    # One assumption at a time: each design's present-value cost and its paired difference to the
    # baseline, both under the assumption's low (high) value.
    sensitivity_rows: list[dict[str, Any]] = []
    for sens in sensitivities:
        for side in SENSITIVITY_SIDES:
            base_pv = totals_of(variants[(baseline, sens, side)])["pv_employer_cost"]
            for name in names:
                ours_pv = totals_of(variants[(name, sens, side)])["pv_employer_cost"]
                head = {"sensitivity": sens, "side": side, "scenario": name, "metric": "pv_employer_cost"}
                sensitivity_rows.append(_row(head, ours_pv, base_pv))

    return {
        "schema_version": COMPARISON_SCHEMA_VERSION,
        "sweep": dict(sweep),
        "metrics": [{"key": s.key, "label": s.label, "unit": s.unit} for s in present],
        "rows": rows,
        "totals": totals,
        "sensitivities": sensitivity_rows,
    }


def _row(
    head: dict[str, Any], ours: Mapping[int, float | None], baseline: Mapping[int, float | None]
) -> dict[str, Any]:
    band = Band.of([v for v in ours.values() if v is not None])
    delta = Band.of(paired_deltas(ours, baseline))
    return {
        **head,
        "n": band.n,
        "mean": band.mean,
        "p5": band.p5,
        "p50": band.p50,
        "p95": band.p95,
        "delta_p5": delta.p5,
        "delta_p50": delta.p50,
        "delta_p95": delta.p95,
    }


def metrics_rows(members: Sequence[MemberYear]) -> list[tuple[str, int, int, str, float | None]]:
    """metrics.csv's rows: (scenario_name, random_seed, year, metric, value), ordered by member, year and
    metric."""
    ordered = sorted(members, key=lambda m: (m.scenario_name, m.random_seed, m.year))
    return [
        (m.scenario_name, m.random_seed, m.year, spec.key, m.values.get(spec.key))
        for m in ordered
        for spec in metrics_present(members)
    ]


# ----------------------------------------------------------------------------------------------------
# Writing a sweep's comparison
# ----------------------------------------------------------------------------------------------------


def write_comparison(directory: Path) -> ComparisonFiles:
    """comparison.json and metrics.csv of the complete sweep in `directory`, from its database."""
    sweep = load_sweep(directory)
    if sweep.get("status") != "complete":
        raise SweepDirectoryError(
            f"the sweep in {directory} is {sweep.get('status')!r}, not complete, so it has nothing to "
            f"compare; run it again: `planalign scenarios run {sweep.get('scenarios_file')}`"
        )
    database = Path(str(sweep["database"]))
    check_database_holds_sweep(database, sweep)
    members = read_member_metrics(database, summaries=kept_summaries(sweep))
    document = build_comparison(sweep, members)
    comparison = directory / COMPARISON_FILE
    metrics = directory / METRICS_FILE
    _write_csv_atomic(metrics, METRICS_CSV_COLUMNS, metrics_rows(members))
    write_json_atomic(comparison, document)
    return ComparisonFiles(comparison_json=comparison, metrics_csv=metrics, document=document)


def _write_csv_atomic(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            # Text cells a spreadsheet would run as a formula get a leading quote (OWASP; see spreadsheet).
            writer.writerows(["" if v is None else csv_text(v) for v in row] for row in rows)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
