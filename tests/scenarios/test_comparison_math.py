"""The comparison's arithmetic on hand-made member values: percentiles (linear interpolation), paired
deltas, cumulative cost and its present value, and what comparison.json and metrics.csv hold."""

from __future__ import annotations

import math
from typing import Any

import pytest

from planalign.scenarios.comparison import (
    TOTAL_METRICS,
    YEARLY_METRICS,
    MemberYear,
    build_comparison,
    metrics_rows,
)
from planalign.scenarios.database import SweepDatabaseError
from planalign.scenarios.stats import Band, paired_deltas, percentile, present_value


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([1.0, 2.0, 3.0, 4.0], 0.05, 1.15),  # h = 3 × 0.05 = 0.15: 1 + 0.15 × (2 − 1)
        ([1.0, 2.0, 3.0, 4.0], 0.50, 2.5),
        ([1.0, 2.0, 3.0, 4.0], 0.95, 3.85),  # h = 2.85: 3 + 0.85 × (4 − 3)
        ([4.0, 1.0, 3.0, 2.0], 0.95, 3.85),  # order of the input does not matter
        ([10.0, 20.0, 30.0], 0.5, 20.0),
        ([10.0, 20.0, 30.0], 0.0, 10.0),
        ([10.0, 20.0, 30.0], 1.0, 30.0),
        ([5.0], 0.05, 5.0),
        ([5.0], 0.95, 5.0),
        ([float(i) for i in range(1, 21)], 0.05, 1.95),  # 20 seeds: h = 0.95
        ([float(i) for i in range(1, 21)], 0.95, 19.05),  # h = 18.05
    ],
)
def test_percentiles_interpolate_linearly_between_closest_ranks(
    values: list[float], p: float, expected: float
) -> None:
    assert percentile(values, p) == pytest.approx(expected)


def test_percentile_refuses_nothing_and_out_of_range() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        percentile([1.0], 95)


def test_band_of_no_values_has_none() -> None:
    assert Band.of([]) == Band(0, None, None, None, None)
    assert Band.of([2.0, 4.0]) == Band(2, 3.0, 2.1, 3.0, 3.9)


def test_deltas_are_paired_by_seed() -> None:
    assert paired_deltas({1: 10.0, 2: 20.0, 3: None}, {1: 9.0, 2: 25.0, 3: 1.0}) == [1.0, -5.0]


def test_present_value_discounts_to_the_first_year() -> None:
    assert present_value({2025: 100.0, 2026: 105.0, 2027: 110.25}, 0.05, 2025) == pytest.approx(300.0)
    assert present_value({2025: 100.0, 2026: 100.0}, 0.0, 2025) == 200.0


# ----------------------------------------------------------------------------------------------------


def _sweep(seeds: list[int], years: list[int], rate: float = 0.10) -> dict[str, Any]:
    names = ["baseline", "richer"]
    return {
        "name": "t",
        "baseline": "baseline",
        "years": years,
        "seeds": seeds,
        "discount_rate": rate,
        "members": [
            {"scenario_id": f"{n}__s{s}", "scenario_name": n, "random_seed": s} for n in names for s in seeds
        ],
        "scenarios": [{"name": n} for n in names],
    }


def _member(name: str, seed: int, year: int, **values: float | None) -> MemberYear:
    full: dict[str, float | None] = {spec.key: 0.0 for spec in YEARLY_METRICS}
    full.update(values)
    return MemberYear(f"{name}__s{seed}", name, seed, year, full)


def _rows(document: dict[str, Any], metric: str) -> dict[tuple[str, int], dict[str, Any]]:
    return {(r["scenario"], r["year"]): r for r in document["rows"] if r["metric"] == metric}


def test_bands_across_seeds_and_deltas_of_the_paired_differences() -> None:
    """Seed noise dominates the values but not the paired differences: the scenario is always exactly
    100 above the baseline of the same seed, while the baseline's values spread from 1,000 to 3,000."""
    seeds = [1, 2, 3]
    base = {1: 1000.0, 2: 3000.0, 3: 2000.0}
    members = [_member("baseline", s, 2025, employer_match=base[s]) for s in seeds] + [
        _member("richer", s, 2025, employer_match=base[s] + 100.0) for s in seeds
    ]
    document = build_comparison(_sweep(seeds, [2025]), members)
    rows = _rows(document, "employer_match")
    richer = rows[("richer", 2025)]
    assert richer["n"] == 3
    assert richer["mean"] == pytest.approx(2100.0)
    assert richer["p50"] == 2100.0
    assert richer["p5"] == pytest.approx(1200.0)  # h = 0.1: 1100 + 0.1 × 1000
    assert richer["p95"] == pytest.approx(3000.0)  # h = 1.9: 2100 + 0.9 × 1000
    # Paired: every difference is 100, so the band is a point — not p95 − p95 of unpaired values.
    assert (richer["delta_p5"], richer["delta_p50"], richer["delta_p95"]) == (100.0, 100.0, 100.0)
    baseline = rows[("baseline", 2025)]
    assert (baseline["delta_p5"], baseline["delta_p50"], baseline["delta_p95"]) == (0.0, 0.0, 0.0)
    assert [m["key"] for m in document["metrics"]] == [s.key for s in YEARLY_METRICS]
    assert len(document["rows"]) == 2 * 1 * len(YEARLY_METRICS)
    assert document["schema_version"] == 1 and document["sweep"]["name"] == "t"


def test_cumulative_cost_and_its_present_value_per_seed_then_across_seeds() -> None:
    seeds = [5, 6]
    years = [2025, 2026]
    cost = {  # (name, seed, year) -> employer cost
        ("baseline", 5, 2025): 100.0, ("baseline", 5, 2026): 110.0,
        ("baseline", 6, 2025): 200.0, ("baseline", 6, 2026): 220.0,
        ("richer", 5, 2025): 150.0, ("richer", 5, 2026): 165.0,
        ("richer", 6, 2025): 260.0, ("richer", 6, 2026): 286.0,
    }  # fmt: skip
    members = [_member(n, s, y, employer_cost=c) for (n, s, y), c in cost.items()]
    document = build_comparison(_sweep(seeds, years, rate=0.10), members)
    totals = {(t["scenario"], t["metric"]): t for t in document["totals"]}
    assert {t["metric"] for t in document["totals"]} == {s.key for s in TOTAL_METRICS}
    cumulative = totals[("richer", "cumulative_employer_cost")]
    assert (cumulative["p5"], cumulative["p95"]) == (
        pytest.approx(315.0 + 0.05 * 231.0),
        pytest.approx(546.0 - 0.05 * 231.0),
    )
    assert cumulative["mean"] == pytest.approx((315.0 + 546.0) / 2)
    # Paired deltas: seed 5: 315 − 210 = 105; seed 6: 546 − 420 = 126.
    assert cumulative["delta_p50"] == pytest.approx((105.0 + 126.0) / 2)
    pv = totals[("baseline", "pv_employer_cost")]
    # Seed 5: 100 + 110 / 1.1 = 200; seed 6: 200 + 220 / 1.1 = 400.
    assert pv["p50"] == pytest.approx(300.0) and pv["n"] == 2
    assert pv["delta_p50"] == 0.0
    richer_pv = totals[("richer", "pv_employer_cost")]
    expected_deltas = sorted([150.0 + 165.0 / 1.1 - 200.0, 260.0 + 286.0 / 1.1 - 400.0])
    assert richer_pv["delta_p50"] == pytest.approx(sum(expected_deltas) / 2)
    assert richer_pv["delta_p5"] == pytest.approx(
        expected_deltas[0] + 0.05 * (expected_deltas[1] - expected_deltas[0])
    )


def test_one_seed_gives_a_point() -> None:
    members = [_member("baseline", 1, 2025, actives=10.0), _member("richer", 1, 2025, actives=12.0)]
    row = _rows(build_comparison(_sweep([1], [2025]), members), "actives")[("richer", 2025)]
    assert row["p5"] == row["p50"] == row["p95"] == row["mean"] == 12.0
    assert row["delta_p5"] == row["delta_p50"] == row["delta_p95"] == 2.0


def test_a_metric_without_a_value_is_left_out_not_counted_as_zero() -> None:
    members = [
        _member("baseline", 1, 2025, cost_per_participant=None),
        _member("baseline", 2, 2025, cost_per_participant=50.0),
        _member("richer", 1, 2025, cost_per_participant=60.0),
        _member("richer", 2, 2025, cost_per_participant=70.0),
    ]
    rows = _rows(build_comparison(_sweep([1, 2], [2025]), members), "cost_per_participant")
    assert rows[("baseline", 2025)]["n"] == 1 and rows[("baseline", 2025)]["p50"] == 50.0
    assert rows[("richer", 2025)]["delta_p50"] == 20.0  # only seed 2 pairs


def test_a_missing_member_year_is_refused() -> None:
    members = [_member("baseline", 1, 2025), _member("richer", 1, 2025)]
    with pytest.raises(SweepDatabaseError, match="no results for 2 member-years"):
        build_comparison(_sweep([1], [2025, 2026]), members)


def test_metrics_csv_rows_are_every_members_values() -> None:
    members = [_member("richer", 2, 2025, actives=3.0), _member("baseline", 1, 2025, actives=4.0)]
    rows = metrics_rows(members)
    assert len(rows) == 2 * len(YEARLY_METRICS)
    assert rows[0] == ("baseline", 1, 2025, "actives", 4.0)
    assert ("richer", 2, 2025, "actives", 3.0) in rows
    assert not any(isinstance(r[4], float) and math.isnan(r[4]) for r in rows)
