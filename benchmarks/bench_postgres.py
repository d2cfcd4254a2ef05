"""Issue #21's warehouse measures: `planalign run` on a private PostgreSQL server against `dbt run`.

    .venv/bin/python benchmarks/bench_postgres.py [--models 150] [--rounds 3] [--short 0.3] [--long 2.0]
        [--chains 3] [--chain-length 8] [--variant skewed|server-bound] [--batches 2 4] [--out FILE]

The DAG: genproject's random 150-model DAG (`tests.engine_real.postgres.generate_pg_project`) with a
realistic skew — `--chains` long chains of `--chain-length` models (each a walk down the DAG from an early
model, as a project's few big fact pipelines) whose tables wait `--long` seconds on the server, and every
other table or incremental model `--short` seconds (views never wait). Server-bound models: the work is the
server's. Chain models are wherever the random DAG puts them — not named to sort first or last — so dbt's
queue (depth first, then unique_id) meets them as it would in a real project.

`--variant server-bound`: every table and incremental model waits on the server for a skewed random time
(`server_bound_sleeps`: 70% 0.5 s, 25% 1.5 s, 5% 4.0 s, seeded; views nothing) — 133 s of server time in
all, against ~16 s of client CPU per run. It emulates a remote warehouse, where the SQL runs on other
machines: on this 2-core machine a CPU-heavy query would compete with the client for the same cores, so
"server-bound" can only be shown by waiting (`pg_sleep`), not by computing.

`--batches N ...` adds `planalign run --workers 4 --models-per-invocation N` for each N (the server default
is 1).

Every run starts from a fresh copy of one seeded database (`create database ... template`), so every tool
does the same first build. Rounds alternate the configurations (dbt `--threads 4`; planalign `--workers 4`
with the durations its previous run recorded; planalign `--workers 4` cold — its recorded durations deleted
first, so it plans by model counts; planalign `--workers 1`), so load drifts hit each alike; one untimed
planalign run first records the durations the warm runs use. Each run's tables must equal the first run's
(md5 over each relation's sorted rows). Reported per configuration: wall seconds and client CPU seconds
(user + system of the process: load-independent) of every round and their medians, the load average
around every run, the Ctrl-C latency (`--cancel-reps`), and — load-free — what the dispatch order alone is
worth on this DAG (`order_makespans`: planalign's order against dbt's queue, simulated from the durations
the last run recorded).
"""

from __future__ import annotations

import argparse
import json
import os
import random
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_timing import timed_run  # noqa: E402

from planalign.engine.results import RUN_RESULTS_FILENAME, load_durations  # noqa: E402
from tests.engine_real.postgres import PostgresServer, generate_pg_project, running_server  # noqa: E402
from tests.fixtures.genproject import GeneratedProject  # noqa: E402

DBT = str(Path(sys.executable).parent / "dbt")
PLANALIGN = [sys.executable, "-m", "planalign", "run"]
DBT_4 = "dbt run --threads 4"
WARM_4 = "planalign run --workers 4"
COLD_4 = "planalign run --workers 4 (no recorded durations)"
ONE = "planalign run --workers 1"
CONFIGS: dict[str, list[str]] = {
    DBT_4: [DBT, "run", "--threads", "4"],
    WARM_4: [*PLANALIGN, "--workers", "4"],
    COLD_4: [*PLANALIGN, "--workers", "4"],
    ONE: [*PLANALIGN, "--workers", "1"],
}


def skewed_sleeps(chains: int, length: int, long_s: float, short_s: float, seed: int) -> Any:
    """The `sleeps` of `generate_pg_project`: `chains` walks of up to `length` models, each from a random
    model of the DAG's first third to a random child (a later model), wait `long_s`; all others `short_s`."""

    def choose(project: GeneratedProject) -> dict[str, float]:
        rng = random.Random(seed)
        children: dict[str, list[str]] = {m.name: [] for m in project.models}
        for model in project.models:
            for parent in model.parents:
                children[parent].append(model.name)
        sleeps = {m.name: short_s for m in project.models}
        starts = [m.name for m in project.models[: len(project.models) // 3]]
        for _ in range(chains):
            name: str | None = rng.choice(starts)
            for _ in range(length):
                if name is None:
                    break
                sleeps[name] = long_s
                name = rng.choice(children[name]) if children[name] else None
        return sleeps

    return choose


#: The server-bound variant's waits: (seconds, share of the tables and incremental models).
SERVER_BOUND_WAITS = ((0.5, 0.70), (1.5, 0.25), (4.0, 0.05))


def server_bound_sleeps(seed: int) -> Any:
    """The `sleeps` of `generate_pg_project` for `--variant server-bound`: each model a seeded draw from
    `SERVER_BOUND_WAITS` (views are never made to wait by `generate_pg_project`)."""

    def choose(project: GeneratedProject) -> dict[str, float]:
        rng = random.Random(seed)
        seconds = [s for s, _ in SERVER_BOUND_WAITS]
        shares = [w for _, w in SERVER_BOUND_WAITS]
        return {m.name: rng.choices(seconds, shares)[0] for m in project.models}

    return choose


def order_makespans(
    project: GeneratedProject, seconds: dict[str, float], workers: int = 4
) -> dict[str, float]:
    """What the dispatch order alone is worth on this DAG, load-free: the makespan (s) of `workers` slots
    given each model's recorded seconds (`seconds`, by unique_id), for planalign's order (longest remaining
    path in recorded seconds), the same order by model counts (a first run), and dbt's queue (graph depth
    level, then unique_id — dbt-core's `GraphQueue._get_scores`), simulated by planalign.engine.scheduler."""
    from planalign.engine.scheduler import Scheduler, remaining_paths, simulate

    order = [project.unique_id(m.name) for m in project.models]  # generated in dependency order
    deps = {project.unique_id(m.name): [project.unique_id(p) for p in m.parents] for m in project.models}
    weights = {uid: max(seconds.get(uid, 0.0), 1e-3) for uid in order}
    level: dict[str, int] = {}
    for uid in order:
        level[uid] = 1 + max((level[d] for d in deps[uid]), default=-1)
    priorities = {
        "planalign: critical path in recorded seconds": remaining_paths(order, deps, weights),
        "planalign: critical path in model counts": remaining_paths(order, deps, dict.fromkeys(order, 1.0)),
        "dbt's queue: depth level, then name": {uid: -float(level[uid]) for uid in order},
    }
    alone = dict.fromkeys(order, False)
    return {
        name: round(
            simulate(Scheduler(order, deps, priority=p, runs_alone=alone), weights, workers=workers).makespan,
            1,
        )
        for name, p in priorities.items()
    }


def invocation_overheads(path: Path, workers: int = 4) -> dict[str, float]:
    """Where a `planalign run`'s lanes stood idle, from its recorded results (`planalign_run_results.json`,
    whose per-model spans are dbt's own node spans: compile + execute, the server's wait inside):
    `lane_idle_s` = workers x makespan - the spans' sum, i.e. the time a lane held no running dbt node —
    waits for dependencies (the DAG's shape) plus each invocation's work outside its node (dbt's preflight:
    flags, profile, project, adapter, selection, hooks, connections) and the dispatch between them."""
    results = [r for r in json.loads(path.read_text())["results"] if r.get("start_offset_s") is not None]
    makespan = max(r["end_offset_s"] for r in results) - min(r["start_offset_s"] for r in results)
    busy = sum(r["duration_s"] for r in results)
    idle = workers * makespan - busy
    return {
        "models": len(results),
        "dbt_node_mean_s": round(busy / len(results), 3),
        "makespan_s": round(makespan, 1),
        "lane_idle_s": round(idle, 1),
        "lane_idle_per_model_s": round(idle / len(results), 3),
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
    cmd = [*PLANALIGN, "--project-dir", str(project)]
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


def _medians(values: dict[str, list[float]]) -> dict[str, float]:
    return {n: round(statistics.median(v), 2) for n, v in values.items() if v}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--short", type=float, default=0.3, help="seconds each ordinary model waits")
    parser.add_argument("--long", type=float, default=2.0, help="seconds each chain model waits")
    parser.add_argument("--chains", type=int, default=3)
    parser.add_argument("--chain-length", type=int, default=8)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--cancel-reps", type=int, default=3, help="Ctrl-C latency measurements")
    parser.add_argument("--skip", nargs="*", default=[], help="configurations (names as printed) not to run")
    parser.add_argument("--variant", choices=("skewed", "server-bound"), default="skewed")
    parser.add_argument("--batches", type=int, nargs="*", default=[], help="also --models-per-invocation N")
    parser.add_argument(
        "--before",
        type=Path,
        help="also `planalign run --workers 4` from another checkout of planalign (PYTHONPATH=BEFORE, e.g. "
        "a `git worktree` of an older commit), in the same rounds: before/after in one load window",
    )
    args = parser.parse_args()
    all_configs = dict(CONFIGS)
    if args.before is not None:
        all_configs[f"{WARM_4} (before: {args.before})"] = CONFIGS[WARM_4]
    for n in args.batches:
        all_configs[f"{WARM_4} --models-per-invocation {n}"] = [
            *CONFIGS[WARM_4],
            "--models-per-invocation",
            str(n),
        ]
    report: dict[str, Any] = {
        "models": args.models,
        "dag": {
            "variant": args.variant,
            "short_s": args.short,
            "long_s": args.long,
            "chains": args.chains,
            "chain_length": args.chain_length,
        },
        "cores": os.cpu_count(),
        "load_before": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory() as tmp, running_server(Path(f"/tmp/pgbench-{os.getpid()}")) as server:
        work = Path(tmp)
        server.create_database("seeded")
        if args.variant == "server-bound":
            sleeps = server_bound_sleeps(args.seed)
            report["dag"] = {"variant": args.variant, "waits_s_share": SERVER_BOUND_WAITS}
        else:
            sleeps = skewed_sleeps(args.chains, args.chain_length, args.long, args.short, args.seed)
        project = generate_pg_project(
            work / "p", server, "seeded", n_models=args.models, seed=args.seed, sleeps=sleeps
        )
        chosen = sleeps(project)
        waits = [chosen[m.name] for m in project.models if m.materialized != "view"]
        if args.variant == "skewed":
            report["dag"]["long_models"] = sum(
                1 for m in project.models if chosen[m.name] == args.long and m.materialized != "view"
            )
        report["dag"]["server_seconds_serial"] = round(sum(waits), 1)
        (project.project_dir / "profiles.yml").write_text(
            server.profiles_yml("seeded").replace(
                "dbname: seeded", "dbname: \"{{ env_var('PG_BENCH_DB') }}\""
            )
        )
        env = {**os.environ, "PG_BENCH_DB": "seeded"}
        flags = ["--project-dir", str(project.project_dir), "--profiles-dir", str(project.project_dir)]
        subprocess.run([DBT, "seed", *flags], check=True, capture_output=True, env=env)
        recorded = project.project_dir / "target" / RUN_RESULTS_FILENAME
        configs = {name: cmd for name, cmd in all_configs.items() if name not in args.skip}
        wall: dict[str, list[float]] = {name: [] for name in configs}
        cpu: dict[str, list[float]] = {name: [] for name in configs}
        loads: dict[str, list[float]] = {name: [] for name in configs}
        reference: dict[str, str] | None = None
        runs = [("record durations", CONFIGS[WARM_4])] + [
            (name, cmd) for _ in range(args.rounds) for name, cmd in configs.items()
        ]
        for index, (name, cmd) in enumerate(runs):
            database = f"r{index}"
            server.query(f"create database {database} template seeded")
            if name == COLD_4:
                recorded.unlink(missing_ok=True)
            load = os.getloadavg()[0]
            run_env = {**env, "PG_BENCH_DB": database}
            if "(before: " in name:
                run_env["PYTHONPATH"] = str(args.before)
            timed = timed_run([*cmd, *flags], cwd=project.project_dir, env=run_env)
            timed.check(name)
            digests = _digests(server, database, project.model_names)
            reference = reference or digests
            if digests != reference:
                raise SystemExit(f"{name}: tables differ from the first run's")
            print(
                f"{name}: {timed.seconds:.1f}s wall, {timed.cpu_seconds:.1f}s CPU, load {load:.1f}",
                file=sys.stderr,
                flush=True,
            )
            server.query(f"drop database {database}")
            if name in wall:
                wall[name].append(timed.seconds)
                cpu[name].append(timed.cpu_seconds)
                loads[name].append(round((load + os.getloadavg()[0]) / 2, 1))
        # What the order alone is worth here, from the durations the last planalign run recorded.
        report["order_makespans_simulated_s"] = order_makespans(project, load_durations(recorded))
        report["last_planalign_run_overheads"] = invocation_overheads(recorded)
        report["ctrl_c_to_exit_s"] = [_cancel_latency(server, work) for _ in range(args.cancel_reps)]
        report["load_after"] = os.getloadavg()
        report["wall_s"] = wall
        report["cpu_s"] = cpu
        report["load_1min_per_run"] = loads
        report["median_wall_s"] = _medians(wall)
        report["median_cpu_s"] = _medians(cpu)
        medians = report["median_wall_s"]
        for key, base_name in (("median_wall_vs_dbt_threads_4", DBT_4), ("median_wall_vs_workers_1", ONE)):
            if base_name in medians:
                report[key] = {n: round(m / medians[base_name], 2) for n, m in medians.items()}
        report["tables_identical"] = True
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
