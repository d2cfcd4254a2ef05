"""Issue #21 item 3's measure: the default `planalign simulate` (the worker rule of `planalign.dbt.workers`)
against `--no-parallel` and against an explicit `--workers 4` (the default before the rule), on this machine.

    .venv/bin/python benchmarks/bench_workers.py [--employees 1000] [--years 3] [--reps 1] [--out FILE]

The shipped `simulation_config.yaml` (parallelization on, `max_workers: 4`) on a generated census, each run a
whole process into a fresh DuckDB file, configurations interleaved within a repetition; after each run the
order-independent checksums of `fct_yearly_events` and `fct_workforce_snapshot` must equal the first run's.
Prints a JSON report with the workers the default chose, the cores, each run's wall and client CPU seconds
(`bench_timing`) and the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_timing import timed_run  # noqa: E402

from planalign.dbt.workers import available_cores, choose_workers  # noqa: E402
from planalign.simulation.census import generate_census, write_census  # noqa: E402
from planalign.simulation.checksum import table_checksum  # noqa: E402

CONFIGS: dict[str, list[str]] = {
    "simulate (default: the worker rule)": [],
    "simulate --no-parallel": ["--no-parallel"],
    "simulate --workers 4": ["--workers", "4"],
}


def _checksums(database: Path) -> dict[str, tuple[int, str]]:
    con = duckdb.connect(str(database), read_only=True)
    try:
        return {
            t: (c.rows, c.digest)
            for t in ("fct_yearly_events", "fct_workforce_snapshot")
            for c in [table_checksum(con, f"main.{t}")]
        }
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--employees", type=int, default=1000)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rule = choose_workers(4, adapter_type="duckdb")
    report: dict[str, Any] = {
        "employees": args.employees,
        "years": args.years,
        "cores": available_cores(),
        "default_workers": rule.describe(),
        "load_before": os.getloadavg(),
    }
    times: dict[str, list[float]] = {name: [] for name in CONFIGS}
    cpu: dict[str, list[float]] = {name: [] for name in CONFIGS}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        census = write_census(generate_census(args.employees, seed=11), work / "census.parquet")
        config = yaml.safe_load((ROOT / "simulation_config.yaml").read_text())
        config["simulation"]["census_path"] = str(census)
        config["simulation"]["end_year"] = config["simulation"]["start_year"] + args.years - 1
        config.setdefault("dbt", {})["project_dir"] = str(ROOT / "dbt_project")
        config["dbt"]["profiles_dir"] = str(ROOT / "dbt_project")
        reference: dict[str, tuple[int, str]] | None = None
        for rep in range(args.reps):
            for index, (name, flags) in enumerate(CONFIGS.items()):
                run = work / f"r{rep}_{index}"
                run.mkdir()
                config["simulation"]["database_path"] = str(run / "sim.duckdb")
                config.setdefault("run", {})["runs_dir"] = str(run / "runs")
                (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
                cmd = [
                    sys.executable,
                    "-m",
                    "planalign",
                    "simulate",
                    "--config",
                    str(run / "config.yaml"),
                    *flags,
                ]
                timed = timed_run(cmd, cwd=run).check(name)
                elapsed = timed.seconds
                sums = _checksums(run / "sim.duckdb")
                reference = reference or sums
                if sums != reference:
                    raise SystemExit(f"{name}: tables differ from the first run's")
                times[name].append(round(elapsed, 1))
                cpu[name].append(timed.cpu_seconds)
                print(f"{name}: {elapsed:.1f}s, {timed.cpu_seconds:.1f}s CPU", file=sys.stderr, flush=True)
    report["load_after"] = os.getloadavg()
    report["seconds"] = times
    report["cpu_seconds"] = cpu
    report["tables_identical"] = True
    base = sum(times["simulate --no-parallel"]) / len(times["simulate --no-parallel"])
    report["speed_vs_no_parallel"] = {n: round(base / (sum(t) / len(t)), 2) for n, t in times.items()}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
