"""The harness end to end on a six-model stand-in project (tests/benchmarks/tiny_project): real dbt for D,
the SQL floor for E, and the checksum comparison between them. A and B need the simulation itself and are
exercised by `make bench-quick`, not here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import run_benchmarks
from bench_project import load_manifest, project_models

TINY = Path(__file__).resolve().parent / "tiny_project"


def _argv(work: Path, out: Path, configs: str) -> list[str]:
    return [
        "--configs", configs, "--employees", "6", "--census-file", str(TINY / "seeds" / "people.csv"),
        "--plain-vars", "--project-dir", str(TINY), "--start-year", "2025", "--end-year", "2026",
        "--repetitions", "1", "--workdir", str(work), "--out-dir", str(out), "--no-update-docs",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def harness_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], Path]:
    root = tmp_path_factory.mktemp("bench")
    status = run_benchmarks.main(_argv(root / "work", root / "results", "D,E"))
    [result] = sorted((root / "results").glob("*-6.json"))
    return status, json.loads(result.read_text()), root


@pytest.mark.slow
def test_dbt_build_and_sql_floor_agree(harness_run: tuple[int, dict[str, Any], Path]) -> None:
    status, document, _ = harness_run
    assert status == 0, document.get("identical_results_detail")
    assert document["identical_results"] is True
    assert set(document["configs"]) == {"D", "E"}
    runs = {r["config"]: r for r in document["runs"]}
    assert runs["D"]["checksums"]["fct_workforce_snapshot"]["rows"] > 0
    # year 1 builds all 6 models, year 2 the 5 year-scoped ones; the tiny project's 4 tests run every year
    assert runs["E"]["details"]["model_runs"] == 11 and runs["E"]["details"]["test_runs"] == 8
    assert document["model_runs"] == 11
    assert all(document["configs"][c]["peak_rss_mb"] > 0 for c in ("D", "E"))


@pytest.mark.slow
def test_predecessor_runs_one_dbt_run_per_stage_and_year(
    harness_run: tuple[int, dict[str, Any], Path],
) -> None:
    _, _, root = harness_run
    args = run_benchmarks.parse_args(_argv(root / "work", root / "results", "C"))
    bench = run_benchmarks.Bench(args, 6, root / "work" / "6")
    bench.manifest = load_manifest(root / "work" / "6" / "parse" / "target" / "manifest.json")
    bench.models = project_models(bench.manifest)
    commands = bench.predecessor_commands(root / "c.duckdb")
    summary = [
        (c[1], json.loads(c[c.index("--vars") + 1])["simulation_year"], c[c.index("--select") + 1 :])
        if "--select" in c
        else (c[1], json.loads(c[c.index("--vars") + 1])["simulation_year"], [])
        for c in commands
    ]
    assert summary == [
        ("seed", 2025, []),
        ("run", 2025, ["int_prev", "stg_people"]),
        ("run", 2025, ["int_params"]),
        ("run", 2025, ["fct_yearly_events"]),
        ("run", 2025, ["fct_workforce_snapshot"]),
        ("run", 2025, ["dq_negative_pay"]),
        ("test", 2025, []),
        ("run", 2026, ["int_prev"]),
        ("run", 2026, ["int_params"]),
        ("run", 2026, ["fct_yearly_events"]),
        ("run", 2026, ["fct_workforce_snapshot"]),
        ("run", 2026, ["dq_negative_pay"]),
        ("test", 2026, []),
    ]
    assert all("--threads" in c and c[c.index("--threads") + 1] == "1" for c in commands[1:])
