"""The result document: the issue's JSON shape, the ratios and verdicts, the markdown, the docs block."""

from __future__ import annotations

import json
from pathlib import Path

from bench_checksum import TableChecksum
from bench_results import (
    DOCS_BEGIN,
    DOCS_END,
    RunRecord,
    compare_checksums,
    render_markdown,
    summarize,
    update_marked_block,
    write_results,
)

SAME = {"fct_yearly_events": TableChecksum("fct_yearly_events", 10, "ab", "cd")}
OTHER = {"fct_yearly_events": TableChecksum("fct_yearly_events", 10, "ab", "ce")}
MACHINE = {"cpu_count": 2, "memory_gb": 24.0, "python": "3.11", "dbt_core": "1.11", "duckdb": "2.0"}


def _records(
    times: dict[str, list[float]], checksums: dict[str, dict[str, TableChecksum]] | None = None
) -> list[RunRecord]:
    return [
        RunRecord(config, rep, wall, 100.0 + rep, (checksums or {}).get(config, SAME))
        for config, walls in times.items()
        for rep, wall in enumerate(walls, start=1)
    ]


def _summarize(
    records: list[RunRecord], census: int = 10_000, model_runs: int | None = 100
) -> dict[str, object]:
    return summarize(
        records,
        census=census,
        years=[2025, 2026],
        machine=MACHINE,
        descriptions={"A": "planalign", "E": "floor"},
        model_runs=model_runs,
        parallelism={"mean": 2.1, "max": 4.0},
    )


def test_document_has_the_issue_shape_and_medians() -> None:
    doc = _summarize(_records({"A": [3.0, 1.0, 2.0], "B": [4.0, 5.0, 6.0], "E": [1.0, 1.5, 0.5]}))
    assert {"configs", "identical_results", "census", "years", "machine"} <= doc.keys()
    configs = doc["configs"]
    assert isinstance(configs, dict)
    assert {k: configs["A"][k] for k in ("median_s", "min_s", "max_s", "peak_rss_mb")} == {
        "median_s": 2.0,
        "min_s": 1.0,
        "max_s": 3.0,
        "peak_rss_mb": 103.0,
    }
    assert doc["ratios"] == {"A/B": 0.4, "A/E": 2.0}
    assert doc["dbt_overhead_per_model_run_s"] == 0.01  # (2.0 - 1.0) / 100
    assert doc["identical_results"] is True
    assert "work_mismatch" not in doc
    assert json.loads(json.dumps(doc)) == doc


def test_a_running_other_models_than_e_is_flagged() -> None:
    records = _records({"A": [2.0], "E": [1.0]})
    doc = summarize(records, census=1000, years=[2025], machine=MACHINE, descriptions={}, model_runs=100,
                    parallelism={"mean": 2.0, "max": 4, "model_runs": 90})  # fmt: skip
    assert "A ran 90 models but E ran 100" in doc["work_mismatch"]
    assert "Warning" in render_markdown(doc)


def test_any_differing_or_failed_run_makes_results_not_identical() -> None:
    differing = _records({"A": [1.0], "C": [2.0]}, {"C": OTHER})
    verdict = compare_checksums(differing)
    assert not verdict.identical and "A#1" in verdict.message and "C#1" in verdict.message
    failed = [*_records({"A": [1.0]}), RunRecord("D", 1, 0.0, 0.0, None, error="dbt build exited 1")]
    assert not compare_checksums(failed).identical
    doc = _summarize(failed)
    assert doc["identical_results"] is False
    assert doc["configs"]["D"]["median_s"] is None  # type: ignore[index]


def test_targets_are_judged_at_the_sizes_the_issue_names() -> None:
    times = {"A": [10.0], "B": [13.0], "C": [45.0], "D": [14.0], "E": [8.0]}
    targets = _summarize(_records(times))["targets"]
    assert isinstance(targets, dict)
    verdicts = {label.split(" ")[0]: v["met"] for label, v in targets.items()}
    assert verdicts == {"C/A": True, "D/A": False, "B/A": True, "A/E": True, "RSS": True}
    big = _summarize(_records(times), census=100_000)["targets"]
    assert isinstance(big, dict)
    assert [label.split(" ")[0] for label in big] == ["A/E", "RSS"]
    assert next(iter(big.values()))["met"] is False  # 10 / 8 = 1.25 > 1.2


def test_markdown_and_files(tmp_path: Path) -> None:
    doc = _summarize(_records({"A": [2.0], "E": [1.0]}))
    markdown = render_markdown(doc)
    assert "| A | planalign | 2.00 |" in markdown and "| E | floor | 1.00 |" in markdown
    assert "10 ms" in markdown and "identical" in markdown.lower()
    json_path, md_path = write_results(doc, tmp_path / "results", stem="2026-01-01-10000")
    assert json.loads(json_path.read_text())["census"] == 10_000
    assert md_path.read_text() == markdown


def test_marked_block_is_replaced_and_other_text_kept(tmp_path: Path) -> None:
    doc = tmp_path / "README.md"
    doc.write_text(f"# Title\n\n{DOCS_BEGIN}\nold table\n{DOCS_END}\n\nafter\n")
    assert update_marked_block(doc, "new table\n")
    assert doc.read_text() == f"# Title\n\n{DOCS_BEGIN}\nnew table\n{DOCS_END}\n\nafter\n"
    plain = tmp_path / "other.md"
    plain.write_text("no markers\n")
    assert not update_marked_block(plain, "x")
    assert plain.read_text() == "no markers\n"


def test_parallelism_is_read_from_the_run_directory(tmp_path: Path) -> None:
    from run_benchmarks import read_parallelism

    run = tmp_path / "20260101T000000Z-abc"
    run.mkdir()
    stages = [
        {"year": 2025, "stage": "foundation", "wall_time_s": 2.0, "models": 6, "parallelism_mean": 3.0,
         "parallelism_max": 4},
        {"year": 2025, "stage": "event_generation", "wall_time_s": 6.0, "models": 8, "parallelism_mean": 1.0,
         "parallelism_max": 2},
        {"year": 2025, "stage": "validation_tests", "wall_time_s": 5.0, "models": 0, "parallelism_mean": 1.0,
         "parallelism_max": 1},
    ]  # fmt: skip
    (run / "summary.json").write_text(json.dumps({"stages": stages}))
    (run / "engine_runs.json").write_text(
        json.dumps({"summary": {"wall_time_s": 10.0, "summed_model_time_s": 15.0}})
    )
    parallelism = read_parallelism(tmp_path)
    assert parallelism is not None
    assert (parallelism["mean"], parallelism["max"], parallelism["model_runs"]) == (1.5, 4, 14)
    assert parallelism["busy_ratio"] == 1.5
    assert read_parallelism(tmp_path / "missing") is None


def test_docs_block_shows_the_newest_full_result_per_size(tmp_path: Path) -> None:
    from run_benchmarks import latest_results_markdown

    for stem, median in (
        ("2026-01-01-10000", 9.0),
        ("2026-02-01-10000", 5.0),
        ("2026-03-01-10000-quick", 1.0),
    ):
        write_results(_summarize(_records({"A": [median]})), tmp_path, stem=stem)
    write_results(_summarize(_records({"A": [7.0]}), census=1000), tmp_path, stem="2026-01-15-1000")
    (tmp_path / "engine_vs_dbt.json").write_text(json.dumps({"something": "else"}))
    block = latest_results_markdown(tmp_path)
    assert "| A | planalign | 5.00 |" in block
    assert "| A | planalign | 9.00 |" not in block and "| A | planalign | 1.00 |" not in block
    assert block.index("Census 1,000") < block.index("Census 10,000")
