"""`make bench-sharding` (part of `make bench`): the time and peak memory of ONE shard of a sharded sweep
against the members in it, and the merge's time per member — the inputs of the cluster model in
docs/scaling.md.

Each measurement is one shard as a Ray or Dask worker runs it (`planalign.scenarios.shard_task.run_shard`:
unpack the shipped project and census in a temporary directory, one sweep pass, export the tables as
Parquet), in a fresh `python` process so that its peak RSS is its own. The shard holds `--designs` designs ×
k seeds for each k of `--seeds-per-shard`. Then the driver's merge (`merge_shards`) of the largest shard's
result into one database is timed, and the merged file's size per member × employee × year measured (the
disk projection's figure, `planalign.scenarios.shards.DATABASE_BYTES_PER_MEMBER_EMPLOYEE_YEAR`). Last, what
the same shard sends in summary mode (`--keep summaries`): the comparison's figures query
(`planalign.scenarios.member_figures`) run on those members' tables, exported as a summary shard exports it
— its size per member and the time to merge it.

The model fitted (least squares): shard seconds = fixed + per_member × members; peak RSS likewise. The fixed
part is mostly the dbt parse, which every shard pays once (it depends on the members). A machine with 2
cores cannot show a cluster's speedup; the projection to N nodes assumes each node runs one shard at a time
at this machine's per-member speed and the driver merges serially (docs/scaling.md writes the formula).

Results: benchmarks/results/<date>-sharding-<employees>.json and .md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_benchmarks import PYTHON, REPO, machine_info

DESIGNS: dict[str, dict[str, Any]] = {
    "baseline": {},
    "match_4pct": {"match": {"tiers": [{"employee_max": 0.04, "match_rate": 1.0}], "cap_rate": 0.04}},
    "auto_enroll_3pct": {"enrollment": {"auto_enrollment": {"default_deferral_rate": 0.03}}},
    "escalate_2pct": {"escalation": {"increment": 0.02, "cap": 0.15}},
}

_CHILD = """
import json, pickle, sys, time
from planalign.scenarios.shard_task import run_shard
task, bundle = pickle.load(open(sys.argv[1], "rb"))
started = time.perf_counter()
result = run_shard(task, bundle)
wall = time.perf_counter() - started
pickle.dump(result, open(sys.argv[2], "wb"))
print(json.dumps({"status": result.status, "error": result.error, "wall_s": wall,
                  "peak_rss_bytes": result.peak_rss_bytes, "result_bytes": result.size}))
"""


def fit(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """(intercept, slope) of the least-squares line through `points`."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0
    return my - slope * mx, slope


def run(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="bench-sharding-", dir=args.workdir))
    try:
        return _measure(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _measure(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    from planalign.scenarios.expansion import expand
    from planalign.scenarios.scenario_file import load_scenario_file
    from planalign.scenarios.shard_merge import merge_shards
    from planalign.scenarios.shard_task import ShardResult, ShardTask, make_bundle
    from planalign.scenarios.sweep import plan_sweep
    from planalign.simulation.census import generate_census, write_census

    census = write_census(generate_census(args.employees, seed=42), root / "census.parquet")
    config = {
        "simulation": {
            "start_year": args.start_year,
            "end_year": args.end_year,
            "census_path": str(census),
            "database_path": "simulation.duckdb",
        },
        "dbt": {"project_dir": str(REPO / "dbt_project")},
        "run": {"runs_dir": "runs"},
    }
    (root / "simulation_config.yaml").write_text(yaml.safe_dump(config))
    designs = list(DESIGNS)[: args.designs]
    most = max(args.seeds_per_shard)
    scenarios = {
        "name": "bench-sharding",
        "scenarios": {name: {"overrides": DESIGNS[name]} for name in designs[1:]},
        "seeds": list(range(42, 42 + most)),
    }
    (root / "bench.yaml").write_text(yaml.safe_dump(scenarios, sort_keys=False))
    scenario_set = load_scenario_file(root / "bench.yaml")
    plan = plan_sweep(scenario_set)
    bundle = make_bundle(plan.config)
    members = expand(scenario_set)
    shards: list[dict[str, Any]] = []
    results: list[ShardResult] = []
    for index, seeds in enumerate(sorted(args.seeds_per_shard)):
        chosen = tuple(m for m in members if m.random_seed < 42 + seeds)
        task = ShardTask(index, 1, plan.config, chosen, plan.identity, "bench.duckdb")
        task_file, result_file = root / f"task-{index}.pkl", root / f"result-{index}.pkl"
        task_file.write_bytes(pickle.dumps((task, bundle)))
        load = os.getloadavg()[0]
        proc = subprocess.run(
            [PYTHON, "-c", _CHILD, str(task_file), str(result_file)],
            capture_output=True,
            text=True,
            check=False,
            cwd=root,
        )
        if proc.returncode != 0:
            raise SystemExit(f"shard of {len(chosen)} members failed:\n{proc.stderr[-3000:]}")
        measured = json.loads(proc.stdout.strip().splitlines()[-1])
        if measured["status"] != "complete":
            raise SystemExit(f"shard of {len(chosen)} members failed: {measured['error']}")
        measured |= {"members": len(chosen), "seeds": seeds, "load_before": round(load, 2)}
        shards.append(measured)
        print(
            f"{len(chosen):3d} members: {measured['wall_s']:7.1f} s, peak RSS "
            f"{measured['peak_rss_bytes'] / 2**20:6.0f} MB (load {load:.1f})",
            flush=True,
        )
        results.append(pickle.loads(result_file.read_bytes()))
    # The merge of the largest shard's result, as the driver does it (into an empty database).
    largest = max(results, key=lambda r: len(r.member_ids))
    target = root / "merged" / "bench.duckdb"
    target.parent.mkdir()
    started = time.perf_counter()
    merge_shards(
        target,
        [largest],
        years=list(plan.config.years),
        run_id="bench",
        config_hash="bench",
        identity=plan.identity,
        member_ids=largest.member_ids,
    )
    merge_s = time.perf_counter() - started
    database_bytes = target.stat().st_size
    summary = _summary(largest, target, root, plan)
    fixed, per_member = fit([(s["members"], s["wall_s"]) for s in shards])
    rss_fixed, rss_per_member = fit([(s["members"], s["peak_rss_bytes"] / 2**20) for s in shards])
    return {
        "date": dt.date.today().isoformat(),
        "machine": machine_info(),
        "employees": args.employees,
        "years": args.end_year - args.start_year + 1,
        "designs": len(designs),
        "shards": shards,
        "merge": {
            "members": len(largest.member_ids),
            "seconds": round(merge_s, 3),
            "bytes": largest.size,
            "database_bytes": database_bytes,
            "database_bytes_per_member_employee_year": round(
                database_bytes / (len(largest.member_ids) * args.employees * len(plan.config.years)), 1
            ),
        },
        "summary": summary,
        "model": {
            "fixed_s": round(fixed, 2),
            "per_member_s": round(per_member, 3),
            "rss_fixed_mb": round(rss_fixed, 1),
            "rss_per_member_mb": round(rss_per_member, 2),
            "merge_per_member_s": round(merge_s / len(largest.member_ids), 4),
        },
    }


def _summary(largest: Any, merged: Path, root: Path, plan: Any) -> dict[str, Any]:
    """What the largest shard would send with `--keep summaries`, and the time to merge it."""
    from planalign.scenarios.member_figures import store_member_figures
    from planalign.scenarios.shard_merge import merge_shards
    from planalign.scenarios.shard_task import SUMMARY_KEPT, ShardResult, export_tables

    store_member_figures(merged)  # the same query a summary shard runs on its own tables
    tables = export_tables(merged, root / "summary-export", SUMMARY_KEPT)
    result = ShardResult(largest.index, largest.member_ids, "complete", None, tables)
    target = root / "merged-summary" / "bench.duckdb"
    target.parent.mkdir()
    started = time.perf_counter()
    merge_shards(
        target,
        [result],
        years=list(plan.config.years),
        run_id="bench",
        config_hash="bench",
        identity=plan.identity,
        member_ids=largest.member_ids,
    )
    seconds = time.perf_counter() - started
    members = len(largest.member_ids)
    figures = next(t for t in tables if t.name == "scenario_member_figures")
    return {
        "members": members,
        "bytes": result.size,
        "figures_bytes": len(figures.parquet),
        "bytes_per_member": round(result.size / members, 1),
        "merge_seconds": round(seconds, 3),
        "database_bytes": target.stat().st_size,
    }


def render_markdown(document: dict[str, Any]) -> str:
    model = document["model"]
    lines = [
        f"Sharding: one shard against its members; census {document['employees']:,} employees × "
        f"{document['years']} years, {document['designs']} designs per seed; {document['date']}, "
        f"{document['machine'].get('cpu_count')} cores",
        "",
        "| members per shard | shard wall time | peak RSS | result (Parquet) | load average before |",
        "|---|---|---|---|---|",
    ]
    for s in document["shards"]:
        lines.append(
            f"| {s['members']} | {s['wall_s']:.1f} s | {s['peak_rss_bytes'] / 2**20:.0f} MB | "
            f"{s['result_bytes'] / 2**20:.1f} MB | {s['load_before']} |"
        )
    merge = document["merge"]
    lines += [
        "",
        f"Fit: shard seconds = {model['fixed_s']} + {model['per_member_s']} × members; peak RSS = "
        f"{model['rss_fixed_mb']} MB + {model['rss_per_member_mb']} MB × members. Merge of "
        f"{merge['members']} members ({merge['bytes'] / 2**20:.1f} MB of Parquet): {merge['seconds']} s.",
    ]
    if "database_bytes" in merge:
        lines.append(
            f"Merged database: {merge['database_bytes'] / 2**20:.1f} MB, "
            f"{merge['database_bytes_per_member_employee_year']} bytes per member × employee × year."
        )
    summary = document.get("summary")
    if summary:
        lines.append(
            f"Summary mode (--keep summaries), the same {summary['members']} members: "
            f"{summary['bytes'] / 1024:.1f} KB sent ({summary['figures_bytes'] / 1024:.1f} KB of figures, "
            f"the rest the seed tables and the scenario dimension), merged in {summary['merge_seconds']} s."
        )
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--employees", type=int, default=2_000)
    parser.add_argument("--start-year", type=int, default=2025)
    parser.add_argument("--end-year", type=int, default=2027)
    parser.add_argument("--designs", type=int, default=2, help="designs per seed (1–4)")
    parser.add_argument(
        "--seeds-per-shard", type=int, nargs="+", default=[1, 2, 4, 8], help="the shard sizes, in seeds"
    )
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--out-dir", type=Path, default=REPO / "benchmarks" / "results")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    document = run(args)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stem = args.out_dir / f"{document['date']}-sharding-{args.employees}"
    stem.with_suffix(".json").write_text(json.dumps(document, indent=2) + "\n")
    markdown = render_markdown(document)
    stem.with_suffix(".md").write_text(markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
