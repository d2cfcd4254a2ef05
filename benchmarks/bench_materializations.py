"""What a model run's materialization costs, dbt-duckdb's against the project's lean ones (issue #25).

`python benchmarks/bench_materializations.py [--rounds 3]`: a generated project of 40 small tables and 20
delete+insert incremental models is built once and then rebuilt (the rebuild is what every simulation year
does) with dbt-duckdb's materializations and with `dbt_project/macros/lean_materializations.sql`, in
alternating rounds, each rebuild in a fresh process (`dbtRunner`, one thread). Printed: the rebuild's wall
time and CPU time (user + system of the process, DuckDB's threads included), per round and as medians.
CPU time is the figure to read on a shared machine: wall time there is mostly waiting for a core.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LEAN_MACROS = Path(__file__).resolve().parent.parent / "dbt_project" / "macros" / "lean_materializations.sql"
TABLE = "{{ config(materialized='table') }} select r as n, r * 2 as m from range(1000) t(r)"
INCREMENTAL = (
    "{{ config(materialized='incremental', incremental_strategy='delete+insert', "
    "unique_key='scenario_id, simulation_year', on_schema_change='fail') }} "
    "select 'a' as scenario_id, {{ var('year') }} as simulation_year, r as n from range(1000) t(r)"
)


def write_project(root: Path, *, lean: bool, tables: int = 40, incrementals: int = 20) -> None:
    (root / "models").mkdir(parents=True)
    (root / "macros").mkdir()
    if lean:
        shutil.copy(LEAN_MACROS, root / "macros" / LEAN_MACROS.name)
    (root / "dbt_project.yml").write_text(
        "name: micro\nversion: '1.0'\nconfig-version: 2\nprofile: micro\n"
        "model-paths: ['models']\nmacro-paths: ['macros']\n"
    )
    (root / "profiles.yml").write_text(
        f"micro:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: '{root / 'micro.duckdb'}'\n      threads: 1\n"
    )
    for i in range(tables):
        (root / "models" / f"t{i}.sql").write_text(TABLE)
    for i in range(incrementals):
        (root / "models" / f"i{i}.sql").write_text(INCREMENTAL)


def rebuild(root: Path) -> dict[str, float]:
    """In this process: build for 2025, then time the rebuild for 2026."""
    from dbt.cli.main import dbtRunner

    def run(year: int) -> tuple[float, float]:
        args = ["run", "--project-dir", str(root), "--profiles-dir", str(root), "--vars", f"{{year: {year}}}"]
        args += ["--log-level", "none", "--log-level-file", "none"]
        before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        result = dbtRunner().invoke(args)
        after = resource.getrusage(resource.RUSAGE_SELF)
        if not result.success:
            raise SystemExit(f"dbt run failed in {root}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return time.perf_counter() - started, cpu

    run(2025)
    wall, cpu = run(2026)
    return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(rebuild(Path(args.child[0]))))
        return 0
    results: dict[str, list[dict[str, float]]] = {"dbt-duckdb": [], "lean": []}
    with tempfile.TemporaryDirectory() as tmp:
        for round_no in range(1, args.rounds + 1):
            for name in results:
                root = Path(tmp) / f"{name}-{round_no}"
                write_project(root, lean=name == "lean")
                out = subprocess.run(
                    [sys.executable, __file__, "--child", str(root)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                results[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(f"round {round_no} {name:10s} {results[name][-1]}", flush=True)
    for name, runs in results.items():
        wall = statistics.median(r["wall_s"] for r in runs)
        cpu = statistics.median(r["cpu_s"] for r in runs)
        per_model = cpu / 60 * 1000
        print(f"{name:10s} rebuild of 60 models, median: wall {wall:.2f} s, CPU {cpu:.2f} s", end="")
        print(f" ({per_model:.0f} ms a model)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
