"""`make bench`: planalign side by side with the alternatives and the SQL floor, on one machine, in one go.

For each census size, on the same generated census and the same years, each configuration runs as a whole
process tree on a fresh DuckDB file, `--repetitions` times (configurations interleaved within a repetition
so that drifting machine load hits all of them alike):

- A  `python -m planalign simulate --workers N` — model-level parallelization on.
- B  `python -m planalign simulate --no-parallel`.
- C  the predecessor's way: `dbt seed` once, then for each year and each stage one `dbt run --threads 1
  --select <the stage's models>`, plus `dbt test --threads 1` after the validation stage, as planalign.
- D  what a dbt user writes: `dbt seed` once, then `dbt build --threads 4` per year (build also reloads
  seeds, rebuilds the year-invariant models and runs every test each year — that is what the command does).
- E  the SQL floor: the compiled SQL of the same models and tests run through the duckdb client, no dbt;
  only the SQL phase is timed (see bench_sql_floor).

C and E build the year-invariant (`scope: simulation`) models in the first year only and the `scope: year`
models every year, like planalign. After every run the order-independent checksums of `fct_yearly_events`
and `fct_workforce_snapshot` are taken; the benchmark says whether all runs agree and exits 1 when they do
not.

Wall time is measured around the configuration's processes. Peak RSS is the largest `ru_maxrss` that
`os.wait4` reports for any process the configuration started: for a child, the kernel reports the maximum of
the child's own peak and that of every descendant it waited for, so the figure covers the whole tree; the
configurations run their processes one after another (A and B are a single process; C, D and E start their
commands sequentially), so the largest single process is the peak of the tree at any instant. Polling with
psutil would miss short peaks between samples.

Results: benchmarks/results/<date>-<size>.json and .md (quick runs: <date>-<size>-quick.*); full runs also
refresh the block between the benchmark-results markers in docs/benchmarks.md and README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_checksum import ChecksumError, database_checksum
from bench_project import (
    STAGES,
    ModelInfo,
    ProjectError,
    by_stage,
    load_manifest,
    models_for_year,
    project_models,
    reporting_stage_tests,
)
from bench_results import (
    CONFIG_ORDER,
    RunRecord,
    render_markdown,
    summarize,
    update_marked_block,
    write_results,
)
from bench_sql_floor import FloorPlanError, FloorResult, build_year_plan

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DBT = str(Path(sys.executable).parent / "dbt")

DESCRIPTIONS: dict[str, str] = {
    "A": "`planalign simulate`, parallel, max_workers {workers}",
    "B": "`planalign simulate --no-parallel`",
    "C": "`dbt seed`; per year × stage `dbt run --threads 1 --select <stage>`; `dbt test` per year",
    "D": "`dbt seed`; per year `dbt build --threads 4`",
    "E": "compiled SQL via the duckdb client, no dbt (SQL phase only)",
}


class BenchmarkError(Exception):
    """The benchmark could not be prepared or a configuration could not run; the message says which step."""


@dataclass(frozen=True)
class Measurement:
    """Wall time and peak RSS of a sequence of processes run one after another."""

    wall_s: float
    peak_rss_mb: float
    commands: int
    error: str | None = None


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


def measure(
    commands: Sequence[Sequence[str]], *, env: Mapping[str, str], cwd: Path, log: Path
) -> Measurement:
    """Run `commands` in order, stopping at the first failure; what is measured: see the module docstring."""
    peak_kb = 0
    started = time.perf_counter()
    log.parent.mkdir(parents=True, exist_ok=True)
    for index, command in enumerate(commands):
        with log.open("a") as out:
            out.write(f"\n$ {' '.join(command)}\n")
            out.flush()
            proc = subprocess.Popen(
                list(command), cwd=cwd, env=dict(env), stdout=out, stderr=subprocess.STDOUT
            )
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        peak_kb = max(peak_kb, usage.ru_maxrss)  # Linux reports kilobytes
        if proc.returncode != 0:
            return Measurement(
                wall_s=time.perf_counter() - started,
                peak_rss_mb=peak_kb / 1024,
                commands=index + 1,
                error=f"`{' '.join(command[:4])} ...` exited {proc.returncode}; log {log}:\n{_tail(log)}",
            )
    return Measurement(
        wall_s=time.perf_counter() - started, peak_rss_mb=peak_kb / 1024, commands=len(commands)
    )


def _run_untimed(command: Sequence[str], *, env: Mapping[str, str], cwd: Path, log: Path, what: str) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(command)}\n")
        out.flush()
        result = subprocess.run(list(command), cwd=cwd, env=dict(env), stdout=out, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise BenchmarkError(f"{what} failed (exit {result.returncode}); log {log}:\n{_tail(log)}")


def machine_info() -> dict[str, Any]:
    import duckdb
    import psutil

    cpu_model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "dbt_core": importlib.metadata.version("dbt-core"),
        "dbt_duckdb": importlib.metadata.version("dbt-duckdb"),
        "duckdb": duckdb.__version__,
        "planalign_commit": commit or None,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _vars_json(vars_: Mapping[str, Any]) -> str:
    return json.dumps(vars_, default=str)


class Bench:
    """One census size: preparation shared by all configurations, then one method per configuration."""

    def __init__(self, args: argparse.Namespace, census_size: int, work: Path) -> None:
        self.args = args
        self.census_size = census_size
        self.work = work
        self.years = list(range(args.start_year, args.end_year + 1))
        self.project = work / "dbt_project"
        self.census = work / f"census-{census_size}.parquet"
        self.base_env = {
            **os.environ,
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DO_NOT_TRACK": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        }
        self.models: dict[str, ModelInfo] = {}
        self.manifest: dict[str, Any] = {}
        self.model_runs: int | None = None
        self.parallelism: dict[str, Any] | None = None
        self._vars_cache: dict[int, dict[str, Any]] = {}
        #: --ensemble-seeds N > 1: A and B run one `planalign scenarios run` of the baseline × N seeds, and
        #: C, D and E receive the sweep's `scenarios` var — the floor of that pass, not of one simulation
        seeds = args.ensemble_seeds
        self.seeds = list(range(args.seed, args.seed + seeds)) if seeds > 1 else []

    # ---- preparation (untimed) -------------------------------------------------------------------------
    def prepare(self) -> None:
        if self.project.exists():
            shutil.rmtree(self.project)
        if self.args.git_rev:
            self._export_project(self.args.git_rev)
        else:
            shutil.copytree(
                REPO / self.args.project_dir,
                self.project,
                ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", "*.duckdb", "*.duckdb.wal"),
            )
        if self.args.census_file is not None:
            shutil.copyfile(self.args.census_file, self.census.with_suffix(self.args.census_file.suffix))
            self.census = self.census.with_suffix(self.args.census_file.suffix)
        elif not self.census.exists():
            _run_untimed(
                [
                    PYTHON,
                    "-m",
                    "planalign",
                    "census",
                    "--employees",
                    str(self.census_size),
                    "--seed",
                    str(self.args.seed),
                    "--out",
                    str(self.census),
                ],
                env=self.base_env,
                cwd=REPO,
                log=self.work / "logs" / "census.log",
                what="census generation",
            )
        parse_dir = self.work / "parse"
        _run_untimed(
            [
                DBT,
                "parse",
                "--project-dir",
                str(self.project),
                "--profiles-dir",
                str(self.project),
                "--vars",
                _vars_json(self.dbt_vars(self.years[0], parse_dir / "parse.duckdb")),
            ],
            env=self._dbt_env(parse_dir),
            cwd=self.project,
            log=self.work / "logs" / "parse.log",
            what="dbt parse",
        )
        self.manifest = load_manifest(parse_dir / "target" / "manifest.json")
        self.models = project_models(self.manifest)
        if not self.models:
            raise BenchmarkError(f"the dbt project at {self.project} has no models")

    def _export_project(self, rev: str) -> None:
        """Copy the dbt project as committed at `rev` (not the working tree) into the work directory."""
        prefix = Path(self.args.project_dir).as_posix().strip("/")
        archive = subprocess.run(
            ["git", "archive", "--format=tar", rev, prefix], cwd=REPO, capture_output=True, check=False
        )
        if archive.returncode != 0:
            raise BenchmarkError(
                f"git archive {rev} {prefix} failed: {archive.stderr.decode(errors='replace')}"
            )
        staging = self.work / "export"
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir()
        subprocess.run(["tar", "-x", "-C", str(staging)], input=archive.stdout, check=True)
        shutil.move(str(staging / prefix), str(self.project))
        shutil.rmtree(staging)

    def _dbt_env(self, run_dir: Path) -> dict[str, str]:
        return {
            **self.base_env,
            "DBT_TARGET_PATH": str(run_dir / "target"),
            "DBT_LOG_PATH": str(run_dir / "logs"),
        }

    def dbt_vars(self, year: int, database: Path) -> dict[str, Any]:
        """The vars planalign passes for `year` (from the generated config when planalign.simulation.config
        exists), with
        this run's database."""
        if year not in self._vars_cache:
            self._vars_cache[year] = self._config_vars(year)
        return {**self._vars_cache[year], "simulation_year": year, "database_path": str(database)}

    def _config_vars(self, year: int) -> dict[str, Any]:
        try:
            if self.args.plain_vars:
                raise ImportError("--plain-vars")
            from planalign.simulation.config_loading import load_simulation_config
        except ImportError:
            return {
                "simulation_year": year,
                "start_year": self.years[0],
                "random_seed": self.args.seed,
                "census_path": str(self.census),
            }
        config_path = self.sim_config_path(self.work / "vars.duckdb", self.work / "runs-vars", True)
        try:
            config = load_simulation_config(config_path)
        except Exception as exc:  # any config failure makes the benchmark meaningless: report it and stop
            raise BenchmarkError(f"loading the generated config {config_path} failed: {exc}") from exc
        for name in ("dbt_vars", "to_dbt_vars"):
            method = getattr(config, name, None)
            if method is not None:
                return {**method(year), **self._sweep_vars()}
        raise BenchmarkError(
            "planalign.simulation.config has no dbt_vars(year) / to_dbt_vars(year); cannot derive vars"
        )

    def _sweep_vars(self) -> dict[str, Any]:
        """The vars `planalign scenarios run` adds for the ensemble (`SweepPlan.extra_vars`), or none."""
        if not self.seeds:
            return {}
        from planalign.scenarios.expansion import expand, scenarios_var
        from planalign.scenarios.scenario_file import load_scenario_file

        sweep = self.sweep_path(self.work / "vars.duckdb", self.work / "runs-vars", True)
        return {"scenarios": scenarios_var(expand(load_scenario_file(sweep)))}

    def sweep_path(self, database: Path, runs_dir: Path, parallel: bool) -> Path:
        """A scenario file of the baseline × `self.seeds` writing `database` (--ensemble-seeds)."""
        sweep = {
            "name": f"ensemble{len(self.seeds)}",
            "description": f"the baseline × {len(self.seeds)} seeds",
            "config": str(self.sim_config_path(database.with_suffix(".unused.duckdb"), runs_dir, parallel)),
            "database": str(database),
            "seeds": self.seeds,
            "scenarios": {},
        }
        path = runs_dir.parent / f"{runs_dir.name}-sweep.yaml"
        path.write_text(yaml.safe_dump(sweep, sort_keys=False))
        return path

    def sim_config_path(self, database: Path, runs_dir: Path, parallel: bool) -> Path:
        """A simulation_config.yaml for one run: the repo's, with paths, years and parallelism replaced."""
        source = REPO / self.args.config
        data: dict[str, Any] = yaml.safe_load(source.read_text()) if source.exists() else {}
        sim = data.setdefault("simulation", {})
        sim.update(
            start_year=self.years[0],
            end_year=self.years[-1],
            random_seed=self.args.seed,
            census_path=str(self.census),
            database_path=str(database),
        )
        dbt_section = data.setdefault("dbt", {})
        dbt_section.update(project_dir=str(self.project), profiles_dir=str(self.project))
        data.setdefault("run", {})["runs_dir"] = str(runs_dir)
        mp = (
            data.setdefault("orchestrator", {})
            .setdefault("threading", {})
            .setdefault("model_parallelization", {})
        )
        mp["enabled"] = parallel
        mp["max_workers"] = self.args.workers
        path = runs_dir.parent / f"{runs_dir.name}-config.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    # ---- configurations ----------------------------------------------------------------------------------
    def run(self, config: str, repetition: int) -> RunRecord:
        run_dir = self.work / f"{config}-{repetition}"
        if run_dir.exists():
            shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True)
        database = run_dir / "simulation.duckdb"
        details: dict[str, Any] = {}
        try:
            if config in ("A", "B"):
                measurement = self._simulate(config, run_dir, database, details)
            elif config == "C":
                measurement = self._predecessor(run_dir, database, details)
            elif config == "D":
                measurement = self._dbt_build(run_dir, database, details)
            elif config == "E":
                measurement = self._sql_floor(run_dir, database, details)
            else:
                raise BenchmarkError(f"unknown configuration {config!r}")
        except (BenchmarkError, ProjectError, FloorPlanError) as exc:
            return RunRecord(config, repetition, 0.0, 0.0, None, error=str(exc), details=details)
        details["processes"] = measurement.commands
        checksums = None
        error = measurement.error
        if error is None:
            try:
                checksums = database_checksum(database)
            except ChecksumError as exc:
                error = f"checksum: {exc}"
        if not self.args.keep:
            for leftover in run_dir.glob("*.duckdb*"):
                # The database, its WAL, and planalign's working-copy lock directory beside it.
                if leftover.is_dir():
                    shutil.rmtree(leftover)
                else:
                    leftover.unlink()
        return RunRecord(
            config,
            repetition,
            measurement.wall_s,
            measurement.peak_rss_mb,
            checksums,
            error=error,
            details=details,
        )

    def profile_a(self) -> Path:
        """Run configuration A once more under cProfile in every thread (bench_profile; untimed) and write the
        60 most expensive functions by cumulative and by own time next to the pstats file."""
        import pstats

        run_dir = self.work / "A-profile"
        if run_dir.exists():
            shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True)
        stats_path = run_dir / "simulate.pstats"
        details: dict[str, Any] = {}
        measurement = self._simulate(
            "A",
            run_dir,
            run_dir / "simulation.duckdb",
            details,
            prefix=[str(Path(__file__).resolve().parent / "bench_profile.py"), str(stats_path)],
        )
        if measurement.error is not None:
            raise BenchmarkError(f"profiling A failed: {measurement.error}")
        report = run_dir / "profile.txt"
        with report.open("w") as out:
            stats = pstats.Stats(str(stats_path), stream=out)
            stats.sort_stats("cumulative").print_stats(60)
            stats.sort_stats("tottime").print_stats(60)
        return report

    def _simulate(
        self,
        config: str,
        run_dir: Path,
        database: Path,
        details: dict[str, Any],
        *,
        prefix: Sequence[str] = (),
    ) -> Measurement:
        runs_dir = run_dir / "runs"
        sim_config = self.sim_config_path(database, runs_dir, parallel=config == "A")
        if self.seeds:
            sweep = self.sweep_path(database, runs_dir, parallel=config == "A")
            command = [PYTHON, *prefix, "-m", "planalign", "scenarios", "run", str(sweep)]
            command += ["--workers", str(self.args.workers)] if config == "A" else ["--no-parallel"]
            return measure([command], env=self._dbt_env(run_dir), cwd=REPO, log=run_dir / "run.log")
        command = [
            PYTHON,
            *prefix,
            "-m",
            "planalign",
            "simulate",
            "--config",
            str(sim_config),
            "--census",
            str(self.census),
            "--database",
            str(database),
            "--start-year",
            str(self.years[0]),
            "--end-year",
            str(self.years[-1]),
        ]
        command += ["--workers", str(self.args.workers)] if config == "A" else ["--no-parallel"]
        measurement = measure([command], env=self._dbt_env(run_dir), cwd=REPO, log=run_dir / "run.log")
        if measurement.error is None:
            parallelism = read_parallelism(runs_dir)
            if parallelism:
                details["parallelism"] = parallelism
                if config == "A":
                    self.parallelism = parallelism
        return measurement

    def _dbt(self, command: str, year: int, database: Path, *extra: str) -> list[str]:
        return [
            DBT,
            command,
            "--project-dir",
            str(self.project),
            "--profiles-dir",
            str(self.project),
            "--vars",
            _vars_json(self.dbt_vars(year, database)),
            *extra,
        ]

    def predecessor_commands(self, database: Path) -> list[list[str]]:
        """Configuration C's processes: `dbt seed`, then per year and stage one `dbt run` of that stage's
        models, and `dbt test` after the validation stage, where planalign runs it — but the tests of the
        reporting stage's models after that stage, as planalign runs them.
        """
        reporting_tests = reporting_stage_tests(self.manifest)
        exclude = ["--exclude", *reporting_tests] if reporting_tests else []
        commands = [self._dbt("seed", self.years[0], database)]
        for year in self.years:
            year_models = models_for_year(self.models, first_year=year == self.years[0])
            grouped = by_stage(year_models.values())
            for stage in STAGES:
                if stage in grouped:
                    names = [m.name for m in grouped[stage]]
                    commands.append(self._dbt("run", year, database, "--threads", "1", "--select", *names))
                if stage == "validation":
                    commands.append(self._dbt("test", year, database, "--threads", "1", *exclude))
                if stage == "reporting" and reporting_tests:
                    commands.append(
                        self._dbt("test", year, database, "--threads", "1", "--select", *reporting_tests)
                    )
        return commands

    def dbt_build_commands(self, database: Path) -> list[list[str]]:
        """Configuration D's processes: `dbt seed` once, then `dbt build --threads 4` per year."""
        commands = [self._dbt("seed", self.years[0], database)]
        commands += [self._dbt("build", year, database, "--threads", "4") for year in self.years]
        return commands

    def _predecessor(self, run_dir: Path, database: Path, details: dict[str, Any]) -> Measurement:
        commands = self.predecessor_commands(database)
        details["dbt_commands"] = len(commands)
        return measure(commands, env=self._dbt_env(run_dir), cwd=self.project, log=run_dir / "run.log")

    def _dbt_build(self, run_dir: Path, database: Path, details: dict[str, Any]) -> Measurement:
        commands = self.dbt_build_commands(database)
        details["dbt_commands"] = len(commands)
        return measure(commands, env=self._dbt_env(run_dir), cwd=self.project, log=run_dir / "run.log")

    def _sql_floor(self, run_dir: Path, database: Path, details: dict[str, Any]) -> Measurement:
        total_sql = 0.0
        peak = 0.0
        models = tests = 0
        failed: list[str] = []
        step_totals: dict[str, float] = {}
        for year in self.years:
            compile_dir = run_dir / f"compile-{year}"
            _run_untimed(
                self._dbt("compile", year, database),
                env=self._dbt_env(compile_dir),
                cwd=self.project,
                log=run_dir / "compile.log",
                what=f"dbt compile for {year}",
            )
            manifest = load_manifest(compile_dir / "target" / "manifest.json")
            year_models = models_for_year(project_models(manifest), first_year=year == self.years[0])
            plan = build_year_plan(
                manifest,
                year_models,
                year=year,
                include_seeds=year == self.years[0],
                project_dir=self.project,
            )
            plan_path = run_dir / f"plan-{year}.json"
            plan_path.write_text(plan.to_json())
            result_path = run_dir / f"result-{year}.json"
            executor = [
                PYTHON,
                str(Path(__file__).resolve().parent / "bench_sql_floor.py"),
                str(plan_path),
                str(database),
                str(result_path),
            ]
            measurement = measure([executor], env=self.base_env, cwd=run_dir, log=run_dir / "run.log")
            peak = max(peak, measurement.peak_rss_mb)
            if measurement.error is not None:
                return Measurement(total_sql, peak, year - self.years[0] + 1, measurement.error)
            result = FloorResult(**json.loads(result_path.read_text()))
            total_sql += result.sql_seconds
            models += result.models
            tests += result.tests
            failed += [f"{year}:{t}" for t in result.failed_tests]
            for name, seconds in result.step_seconds.items():
                step_totals[name] = step_totals.get(name, 0.0) + seconds
        slowest = sorted(step_totals.items(), key=lambda item: -item[1])[:10]
        details.update(
            model_runs=models,
            test_runs=tests,
            failed_tests=failed,
            slowest_steps_s={name: round(seconds, 3) for name, seconds in slowest},
        )
        self.model_runs = models
        return Measurement(wall_s=total_sql, peak_rss_mb=peak, commands=len(self.years))


def read_parallelism(runs_dir: Path) -> dict[str, Any] | None:
    """Parallelism achieved by a planalign run, from its run directory (docs/architecture.md).

    `mean`: models in flight averaged over the time the engine ran, weighted by stage wall time (summary.json
    stages that ran models; the dbt-test step is not a model stage). `busy_ratio`: summed model time ÷ summed
    engine wall time (engine_runs.json), which also charges planning and scheduling gaps. `max`: the peak.
    """
    summaries = sorted(runs_dir.glob("*/summary.json"))
    if not summaries:
        return None
    data = json.loads(summaries[-1].read_text())
    stages = [s for s in data.get("stages", []) if int(s.get("models") or 0) > 0]
    if not stages:
        return None
    wall = sum(float(s.get("wall_time_s") or 0.0) for s in stages)
    weighted = sum(float(s["parallelism_mean"]) * float(s.get("wall_time_s") or 0.0) for s in stages)
    result: dict[str, Any] = {
        "mean": round(weighted / wall, 2) if wall else None,
        "max": max(int(s.get("parallelism_max") or 0) for s in stages),
        "model_runs": sum(int(s.get("models") or 0) for s in stages),
        "engine_runs": len(stages),
        "source": str(summaries[-1].relative_to(runs_dir)),
    }
    engine_runs = summaries[-1].parent / "engine_runs.json"
    if engine_runs.exists():
        summary = json.loads(engine_runs.read_text()).get("summary", {})
        engine_wall = float(summary.get("wall_time_s") or 0.0)
        if engine_wall:
            result["busy_ratio"] = round(float(summary.get("summed_model_time_s") or 0.0) / engine_wall, 2)
            result["engine_wall_s"] = round(engine_wall, 2)
    return result


def latest_results_markdown(results_dir: Path) -> str:
    """The markdown of the newest full (non-quick) result for every census size, smallest size first."""
    latest: dict[int, Path] = {}
    for path in sorted(results_dir.glob("*.json")):
        if path.stem.endswith("-quick"):
            continue
        document = json.loads(path.read_text())
        if not isinstance(document, dict) or "configs" not in document or "census" not in document:
            continue  # another tool's file in the results directory
        if document.get("ensemble_seeds"):
            continue  # an ensemble pass (--ensemble-seeds) is not the single run of this census size
        latest[int(document["census"])] = path  # sorted by name = by date, so the last one wins
    parts = [render_markdown(json.loads(latest[size].read_text())) for size in sorted(latest)]
    return "\n".join(parts)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help="smoke check: 1,000 employees, 2 years, 1 repetition"
    )
    parser.add_argument(
        "--employees",
        type=int,
        nargs="+",
        default=None,
        help="census sizes (default 10000; e.g. --employees 1000 50000 100000)",
    )
    parser.add_argument("--repetitions", type=int, default=None, help="runs per configuration (default 3)")
    parser.add_argument("--start-year", type=int, default=2025)
    parser.add_argument("--end-year", type=int, default=None, help="default 2029 (quick: start year + 1)")
    parser.add_argument("--configs", default=",".join(CONFIG_ORDER), help="subset to run, e.g. C,D,E")
    parser.add_argument("--workers", type=int, default=4, help="max_workers for configuration A")
    parser.add_argument("--seed", type=int, default=42, help="census generator and simulation random seed")
    parser.add_argument("--project-dir", default="dbt_project")
    parser.add_argument(
        "--git-rev",
        default=None,
        help="benchmark the dbt project as committed at this revision (e.g. HEAD), not the working tree",
    )
    parser.add_argument("--config", default="simulation_config.yaml", help="template simulation config")
    parser.add_argument("--workdir", type=Path, default=REPO / "benchmarks" / "work")
    parser.add_argument("--out-dir", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument(
        "--census-file",
        type=Path,
        default=None,
        help="use this census instead of generating one (one --employees size, used as its label)",
    )
    parser.add_argument(
        "--plain-vars",
        action="store_true",
        help="pass only simulation_year, start_year, random_seed, census_path, database_path "
        "instead of the vars planalign.simulation.config derives (for projects other than the simulation)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="afterwards, run A once under cProfile, all threads (untimed)"
    )
    parser.add_argument("--keep", action="store_true", help="keep every run's DuckDB file")
    parser.add_argument(
        "--ensemble-seeds",
        type=int,
        default=1,
        help="N > 1: A and B run one `planalign scenarios run` of the baseline × N seeds (an ensemble pass); "
        "C, D and E get its `scenarios` var, so E is that pass's SQL floor (results file *-seedsN.json)",
    )
    parser.add_argument(
        "--no-update-docs",
        action="store_true",
        help="do not refresh the results block in docs/benchmarks.md and README.md",
    )
    args = parser.parse_args(argv)
    args.employees = args.employees or ([1000] if args.quick else [10_000])
    args.repetitions = args.repetitions or (1 if args.quick else 3)
    if args.end_year is None:
        args.end_year = args.start_year + (1 if args.quick else 4)
    args.configs = [c.strip().upper() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in args.configs if c not in CONFIG_ORDER]
    if unknown or args.end_year < args.start_year or args.repetitions < 1:
        parser.error(f"bad arguments (unknown configs {unknown})" if unknown else "bad years or repetitions")
    return args


def run_size(
    args: argparse.Namespace, census_size: int, machine: Mapping[str, Any]
) -> tuple[dict[str, Any], bool]:
    work = args.workdir / f"{census_size}"
    work.mkdir(parents=True, exist_ok=True)
    bench = Bench(args, census_size, work)
    print(f"== census {census_size:,}, years {bench.years[0]}–{bench.years[-1]}: preparing", flush=True)
    bench.prepare()
    records: list[RunRecord] = []
    for repetition in range(1, args.repetitions + 1):
        for config in args.configs:
            record = bench.run(config, repetition)
            status = "ok" if record.ok else f"FAILED: {record.error}"
            print(
                f"   {config} #{repetition}: {record.wall_s:8.2f} s  {record.peak_rss_mb:7.0f} MB  {status}",
                flush=True,
            )
            records.append(record)
    if args.profile:
        print(f"   profile of A (untimed): {bench.profile_a()}", flush=True)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    descriptions = {k: v.format(workers=args.workers) for k, v in DESCRIPTIONS.items()}
    document = summarize(
        records,
        census=census_size,
        years=bench.years,
        machine=machine,
        descriptions=descriptions,
        model_runs=bench.model_runs,
        parallelism=bench.parallelism,
        extra={
            "date": today,
            "repetitions": args.repetitions,
            "quick": args.quick,
            "seed": args.seed,
            "e_timed_phase": "SQL execution only; dbt compile per year is excluded",
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "ensemble_seeds": len(bench.seeds) or None,
        },
    )
    stem = f"{today}-{census_size}" + (f"-seeds{args.ensemble_seeds}" if bench.seeds else "")
    stem += "-quick" if args.quick else ""
    json_path, md_path = write_results(document, args.out_dir, stem=stem)
    print()
    print(render_markdown(document))
    print(f"wrote {json_path} and {md_path}")
    all_ran = all(r.ok for r in records)
    return document, all_ran and bool(document["identical_results"])


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    machine = machine_info()
    success = True
    for census_size in args.employees:
        try:
            document, ok = run_size(args, census_size, machine)
        except (BenchmarkError, ProjectError, FloorPlanError) as exc:
            print(f"benchmark for census {census_size:,} could not run: {exc}", file=sys.stderr)
            return 1
        if not document["identical_results"]:
            print(f"RESULT MISMATCH: {document['identical_results_detail']}", file=sys.stderr)
        success = success and ok
    if not args.quick and not args.no_update_docs and args.ensemble_seeds <= 1:
        block = latest_results_markdown(args.out_dir)
        for doc in (REPO / "docs" / "benchmarks.md", REPO / "README.md"):
            if update_marked_block(doc, block):
                print(f"updated the results block in {doc.relative_to(REPO)}")
    return 0 if success else 1


if __name__ == "__main__":
    sys.exit(main())
