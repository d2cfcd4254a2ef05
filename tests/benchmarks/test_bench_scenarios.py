"""The scenario benchmark's bookkeeping: which single runs it executes and how it reports an estimate."""

from __future__ import annotations

from typing import Any

import pytest
from bench_scenarios import DESIGNS, Member, _deep_merge, _spread, render_markdown


def test_spread_takes_evenly_spaced_members_and_all_when_asked_for_as_many() -> None:
    members = [Member("baseline", seed) for seed in range(50)]
    chosen = _spread(members, 10)
    assert [m.seed for m in chosen] == list(range(0, 50, 5))
    assert _spread(members, 50) == members
    assert _spread(members, 80) == members


def test_single_run_configs_replace_lists_and_merge_sections() -> None:
    base: dict[str, Any] = {
        "match": {"tiers": [{"employee_max": 0.03}, {"employee_max": 0.05}], "cap_rate": 0.04},
        "x": 1,
    }
    merged = _deep_merge(base, DESIGNS["match_4pct"])
    assert merged["match"]["tiers"] == [{"employee_max": 0.04, "match_rate": 1.0}]
    assert merged["match"]["cap_rate"] == 0.04 and merged["x"] == 1
    assert base["match"]["tiers"][0] == {"employee_max": 0.03}  # the base is not changed


def test_member_ids_follow_the_sweep_naming() -> None:
    assert Member("match_4pct", 7).scenario_id == "match_4pct__s7"


def _comparison(estimated: bool, speedup: float, identical: bool = True) -> dict[str, Any]:
    return {
        "name": "ensemble",
        "members": 50,
        "one_pass": {"wall_s": 100.0, "peak_rss_mb": 900.0},
        "sequential_runs": 10 if estimated else 50,
        "sequential_measured_s": 300.0,
        "sequential_s": 1500.0,
        "sequential_estimated": estimated,
        "sequential_peak_rss_mb": 500.0,
        "speedup": speedup,
        "target": 10.0,
        "identical": identical,
        "met": identical and speedup >= 10.0,
        "mismatches": [] if identical else ["baseline__s3: fct_yearly_events: same row count (9) but ..."],
    }


@pytest.mark.parametrize(
    ("estimated", "speedup", "identical", "expected"),
    [
        (True, 15.0, True, ["est.: 10 of 50 run", "(met)", "| yes |"]),
        (False, 15.0, True, ["| 1500.0 s |", "(met)"]),
        (False, 5.0, True, ["(**missed**)"]),
        (False, 15.0, False, ["**NO**", "MISMATCH ensemble: baseline__s3"]),
    ],
)
def test_the_table_says_when_the_sequential_time_is_an_estimate_and_when_a_target_is_missed(
    estimated: bool, speedup: float, identical: bool, expected: list[str]
) -> None:
    document = {
        "employees": 10_000,
        "years": [2025, 2029],
        "date": "2026-12-02",
        "machine": {"cpu_count": 2, "cpu_model": "test"},
        "comparisons": [_comparison(estimated, speedup, identical)],
    }
    text = render_markdown(document)
    for fragment in expected:
        assert fragment in text
    if not estimated:
        assert "est.:" not in text


def test_design_b_is_reported_against_the_sequential_runs_and_the_one_pass() -> None:
    comparison = {
        **_comparison(False, 15.0),
        "name": "sweep",
        "members": 10,
        "processes": 2,
        "processes_s": 750.0,
        "processes_peak_rss_mb": 1000,
    }
    document = {
        "employees": 10_000,
        "years": [2025, 2029],
        "date": "2026-12-02",
        "machine": {"cpu_count": 2, "cpu_model": "test"},
        "comparisons": [comparison, _comparison(False, 15.0)],
    }
    text = render_markdown(document)
    assert "2 at a time, one DuckDB file each: 750.0 s (2.00× the sequential runs, 7.50× the one pass" in text
    assert text.count("design (b)") == 1
