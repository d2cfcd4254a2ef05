"""Issue #21's warehouse measures: `planalign run` on a private PostgreSQL server against `dbt run`.

    .venv/bin/python benchmarks/bench_postgres.py [--models 150] [--reps 2] [--sleep 0.5] [--out FILE]

A 150-model generated DAG (`tests.engine_real.postgres.generate_pg_project`) whose tables and incremental
models each wait `--sleep` seconds on the server (server-bound models: the work is the server's). Every run
starts from a fresh copy of one seeded database (`create database ... template`), so every tool does the same
first build. Compared: `dbt run --threads 4`, `planalign run --workers 4` (its defaults for a server: one
model per invocation), `--models-per-invocation 8`, `--models-per-invocation 64` (the embedded default) and
`--workers 1`; each run's tables must equal the first run's (md5 over each relation's sorted rows).
Prints a JSON report with the load average before and after (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.engine_real.postgres import PostgresServer, generate_pg_project, running_server  # noqa: E402

DBT = str(Path(sys.executable).parent / "dbt")
CONFIGS: dict[str, list[str]] = {
    "dbt run --threads 4": [DBT, "run", "--threads", "4"],
    "planalign run --workers 4": [sys.executable, "-m", "planalign", "run", "--workers", "4"],
    "planalign run --workers 4 --models-per-invocation 8": [
        *[sys.executable, "-m", "planalign", "run", "--workers", "4"],
        *["--models-per-invocation", "8"],
    ],
    "planalign run --workers 4 --models-per-invocation 64": [
        *[sys.executable, "-m", "planalign", "run", "--workers", "4"],
        *["--models-per-invocation", "64"],
    ],
    "planalign run --workers 1": [sys.executable, "-m", "planalign", "run", "--workers", "1"],
}


def _digests(server: PostgresServer, database: str, tables: list[str]) -> dict[str, str]:
    sql = "select md5(coalesce(string_agg(r::text, '|' order by r::text), '')) from {} r"
    return {t: str(server.query(sql.format(t), database)[0][0]) for t in tables}


def _cancel_latency(server: PostgresServer, work: Path) -> float:
    """Seconds from SIGINT to the exit of `planalign run` while a `pg_sleep(60)` model runs on the server;
    fails when the exit is not 130 or the query is still active afterwards."""
    database = f"cancel_{time.monotonic_ns()}"
    server.create_database(database)
    project = work / database
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(
        'name: pgcancel\nversion: "1.0.0"\nconfig-version: 2\nprofile: pgcancel\nmodel-paths: ["models"]\n'
        "models:\n  pgcancel:\n    +materialized: table\n"
    )
    (project / "profiles.yml").write_text(server.profiles_yml(database, profile="pgcancel"))
    (project / "models" / "slow.sql").write_text("select 1 as x from pg_sleep(60)\n")
    cmd = [sys.executable, "-m", "planalign", "run", "--project-dir", str(project)]
    proc = subprocess.Popen(cmd, cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not server.active_queries(database, "%pg_sleep(60)%"):
        if proc.poll() is not None:
            raise SystemExit("planalign run ended before its query started")
        time.sleep(0.05)
    start = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    code = proc.wait(timeout=120)
    elapsed = time.perf_counter() - start
    if code != 130 or server.active_queries(database, "%pg_sleep%"):
        raise SystemExit(f"cancel: exit {code}, queries left {server.active_queries(database, '%pg_sleep%')}")
    return round(elapsed, 2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=int, default=150)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--sleep", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--cancel-reps", type=int, default=3, help="Ctrl-C latency measurements")
    parser.add_argument("--skip", nargs="*", default=[], help="configurations (names as printed) not to run")
    args = parser.parse_args()
    report: dict[str, Any] = {"models": args.models, "sleep_s": args.sleep, "cores": os.cpu_count()}
    report["load_before"] = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp, running_server(Path(f"/tmp/pgbench-{os.getpid()}")) as server:
        work = Path(tmp)
        server.create_database("seeded")
        (work / "profiles.yml").write_text(
            server.profiles_yml("seeded").replace(
                "dbname: seeded", "dbname: \"{{ env_var('PG_BENCH_DB') }}\""
            )
        )
        project = generate_pg_project(
            work / "p", server, "seeded", n_models=args.models, seed=args.seed, sleep_s=args.sleep
        )
        (project.project_dir / "profiles.yml").write_text((work / "profiles.yml").read_text())
        env = {**os.environ, "PG_BENCH_DB": "seeded"}
        flags = ["--project-dir", str(project.project_dir), "--profiles-dir", str(project.project_dir)]
        subprocess.run([DBT, "seed", *flags], check=True, capture_output=True, env=env)
        configs = {name: cmd for name, cmd in CONFIGS.items() if name not in args.skip}
        times: dict[str, list[float]] = {name: [] for name in configs}
        reference: dict[str, str] | None = None
        for rep in range(args.reps):
            for index, (name, cmd) in enumerate(configs.items()):
                database = f"r{rep}_{index}"
                server.query(f"create database {database} template seeded")
                start = time.perf_counter()
                proc = subprocess.run(
                    [*cmd, *flags],
                    capture_output=True,
                    text=True,
                    cwd=project.project_dir,
                    env={**env, "PG_BENCH_DB": database},
                )
                elapsed = time.perf_counter() - start
                if proc.returncode != 0:
                    raise SystemExit(f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
                digests = _digests(server, database, project.model_names)
                reference = reference or digests
                if digests != reference:
                    raise SystemExit(f"{name}: tables differ from the first run's")
                times[name].append(round(elapsed, 2))
                print(f"{name}: {elapsed:.1f}s", file=sys.stderr, flush=True)
        report["ctrl_c_to_exit_s"] = [_cancel_latency(server, work) for _ in range(args.cancel_reps)]
        report["load_after"] = os.getloadavg()
        report["seconds"] = times
        medians = {n: statistics.median(t) for n, t in times.items() if t}
        for key, base_name in (
            ("median_vs_dbt_threads_4", "dbt run --threads 4"),
            ("median_vs_workers_1", "planalign run --workers 1"),
        ):
            if base_name in medians:
                report[key] = {n: round(m / medians[base_name], 2) for n, m in medians.items()}
        report["tables_identical"] = bool(medians)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
