"""Issue #3's done-when, measured: `planalign run --workers 4` against `dbt run --threads 4` and
`--threads 1` on a generated ~150-model project, as whole processes, with every table compared.

    .venv/bin/python benchmarks/engine_vs_dbt.py [--models 150] [--reps 20] [--seed 3] [--out FILE]
    .venv/bin/python benchmarks/engine_vs_dbt.py --overhead    # per-invocation cost of each trick

Each measured run starts from its own copy of one seeded database, so every tool does the same work (a
first build of every model). A run counts only if its tables match the `dbt run --threads 1` reference.
Prints a JSON report (and writes it with --out).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planalign.simulation.checksum import table_checksum  # noqa: E402
from tests.fixtures.genproject import GeneratedProject, generate_project  # noqa: E402

PY = sys.executable
DBT = str(Path(sys.executable).parent / "dbt")


def _vars(db: Path, salt: int = 1) -> str:
    return json.dumps({"database_path": str(db), "salt": salt})


def _timed(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    return time.perf_counter() - start, proc


def _checksums(db: Path, tables: list[str]) -> dict[str, tuple[int, str]]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: (c.rows, c.digest) for t in tables for c in [table_checksum(con, f"main.{t}")]}
    finally:
        con.close()


def _fresh_db(work: Path, seeded: Path, name: str) -> Path:
    folder = work / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir()
    db = folder / seeded.name
    shutil.copy(seeded, db)
    return db


def bench(models: int, reps: int, seed: int, work: Path) -> dict[str, Any]:
    project: GeneratedProject = generate_project(work / "proj", n_models=models, seed=seed)
    pdir = project.project_dir
    seeded = work / "seeded" / "bench.duckdb"
    seeded.parent.mkdir()
    base = ["--project-dir", str(pdir), "--profiles-dir", str(pdir)]
    proc = subprocess.run([DBT, "seed", *base, "--vars", _vars(seeded)], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"dbt seed failed:\n{proc.stdout}")
    # Warm dbt's partial-parse state so neither tool pays a cold full parse in the timed runs.
    subprocess.run([DBT, "parse", *base, "--vars", _vars(seeded)], capture_output=True, text=True)

    tables = project.model_names
    ref_db = _fresh_db(work, seeded, "ref")
    t1, proc = _timed([DBT, "run", *base, "--threads", "1", "--vars", _vars(ref_db)], pdir)
    if proc.returncode:
        raise SystemExit(f"reference dbt run failed:\n{proc.stdout[-3000:]}")
    reference = _checksums(ref_db, tables)

    timings: dict[str, list[float]] = {"dbt_threads_1": [t1], "dbt_threads_4": [], "planalign_workers_4": []}
    errors: list[str] = []
    mismatches: list[str] = []
    peaks: list[int] = []
    means: list[float] = []
    for rep in range(reps):
        db = _fresh_db(work, seeded, f"pa{rep}")
        t, proc = _timed(
            [PY, "-m", "planalign", "run", "--project-dir", str(pdir), "--workers", "4", "--vars", _vars(db)],
            ROOT,
        )
        timings["planalign_workers_4"].append(t)
        if proc.returncode:
            errors.append(f"rep {rep}: exit {proc.returncode}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        else:
            summary = json.loads((pdir / "target" / "planalign_run_results.json").read_text())["summary"]
            run = summary["runs"][0] if "runs" in summary else summary
            peaks.append(int(run["parallelism_max"]))
            means.append(float(run["parallelism_mean"]))
            got = _checksums(db, tables)
            mismatches += [f"rep {rep}: {t}" for t in tables if got[t] != reference[t]]
        shutil.rmtree(db.parent)
        if rep < 5 or rep % 4 == 0:  # dbt --threads 4 a few times, interleaved, for a fair comparison
            db4 = _fresh_db(work, seeded, f"d4_{rep}")
            t4, proc4 = _timed([DBT, "run", *base, "--threads", "4", "--vars", _vars(db4)], pdir)
            if proc4.returncode:
                errors.append(f"dbt --threads 4 rep {rep} failed")
            timings["dbt_threads_4"].append(t4)
            shutil.rmtree(db4.parent)
        status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}"
        print(
            f"rep {rep}: planalign {t:.2f}s {status}, peak {peaks[-1] if peaks else '-'}, "
            f"mismatched tables so far {len(mismatches)}"
            + (f"; dbt --threads 4 {timings['dbt_threads_4'][-1]:.2f}s" if rep < 5 or rep % 4 == 0 else ""),
            file=sys.stderr,
            flush=True,
        )

    def stats(values: list[float]) -> dict[str, float]:
        return {
            "n": len(values),
            "median_s": round(statistics.median(values), 3),
            "min_s": round(min(values), 3),
            "max_s": round(max(values), 3),
        }

    return {
        "models": models,
        "reps": reps,
        "seed": seed,
        "wall_time": {k: stats(v) for k, v in timings.items() if v},
        "planalign_errors": errors,
        "planalign_table_mismatches": mismatches,
        "planalign_peak_in_flight": {"min": min(peaks, default=0), "max": max(peaks, default=0)},
        "planalign_mean_parallelism_median": round(statistics.median(means), 2) if means else None,
    }


def overhead(work: Path, n: int = 15) -> dict[str, Any]:
    """Median cost of one single-model invocation, with and without each trick (in-process)."""
    from dbt.cli.main import dbtRunner

    from planalign.dbt.invoker import DbtInvoker
    from planalign.dbt.manifest import dbt_common_args, parse_project

    project = generate_project(work / "ovh", n_models=10, seed=1)
    db = work / "ovh_db" / "ovh.duckdb"
    db.parent.mkdir()
    manifest = parse_project(project.project_dir, vars={"database_path": str(db)})
    invoker = DbtInvoker(project.project_dir, None, None, manifest, {}, db)
    assert invoker.invoke(["seed"]).ok
    assert invoker.invoke(["run"]).ok
    common = [
        "run",
        *dbt_common_args(
            project.project_dir, profiles_dir=None, target=None, vars={"database_path": str(db)}
        ),
    ]
    target = ["--select", "fqn:genproj.m5"]
    variants: list[tuple[str, bool, list[str]]] = [
        ("no manifest (dbt re-parses, partial parse)", False, ["--quiet"]),
        ("manifest=", True, ["--quiet"]),
        ("manifest= + --no-write-json", True, ["--quiet", "--no-write-json"]),
        ("... + --log-level none", True, ["--no-write-json", "--log-level", "none"]),
        (
            "... + --log-level-file none",
            True,
            ["--no-write-json", "--log-level", "none", "--log-level-file", "none"],
        ),
        (
            "... + --no-populate-cache (DbtInvoker default)",
            True,
            ["--no-write-json", "--log-level", "none", "--log-level-file", "none", "--no-populate-cache"],
        ),
    ]
    report: dict[str, Any] = {}
    for label, with_manifest, extra in variants:
        times = []
        for _ in range(n):
            runner = dbtRunner(manifest=manifest.dbt_manifest) if with_manifest else dbtRunner()
            start = time.perf_counter()
            res = runner.invoke([*common, *target, *extra])
            times.append(time.perf_counter() - start)
            assert res.success, res.exception
        report[label] = round(statistics.median(times) * 1000, 1)
    return {"median_ms_per_single_model_invocation": report, "samples": n}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--models", type=int, default=150)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--overhead", action="store_true", help="measure per-invocation overhead instead")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="engine_vs_dbt_") as tmp:
        work = Path(tmp)
        report = overhead(work) if args.overhead else bench(args.models, args.reps, args.seed, work)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
