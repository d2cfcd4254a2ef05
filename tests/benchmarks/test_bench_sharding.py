"""bench_sharding's arithmetic: the least-squares fit of shard time against members, and its table."""

from __future__ import annotations

import pytest
from bench_sharding import fit, render_markdown


def test_the_fit_recovers_a_line_and_its_intercept() -> None:
    assert fit([(2, 34.0), (4, 38.0), (8, 46.0)]) == pytest.approx((30.0, 2.0))
    assert fit([(4, 10.0), (4, 12.0)]) == pytest.approx((11.0, 0.0))  # one size: no slope to fit


def test_the_table_names_every_shard_and_the_load() -> None:
    document = {
        "date": "2026-12-07",
        "machine": {"cpu_count": 2},
        "employees": 2000,
        "years": 3,
        "designs": 2,
        "shards": [
            {
                "members": 2,
                "wall_s": 35.0,
                "peak_rss_bytes": 300 * 2**20,
                "result_bytes": 2**20,
                "load_before": 1.5,
            }
        ],
        "merge": {"members": 2, "seconds": 0.5, "bytes": 2**20},
        "model": {
            "fixed_s": 31.0,
            "per_member_s": 2.0,
            "rss_fixed_mb": 290.0,
            "rss_per_member_mb": 5.0,
            "merge_per_member_s": 0.25,
        },
    }
    text = render_markdown(document)
    assert "| 2 | 35.0 s | 300 MB | 1.0 MB | 1.5 |" in text
    assert "shard seconds = 31.0 + 2.0 × members" in text
