"""`make bench-scenarios` (part of `make bench`): a sweep in one pass against the same runs one at a time.

Issue #14's targets, at 10,000 employees × 5 years on one generated census:

- **sweep**: 10 plan designs × 1 seed as one `planalign scenarios run` must be at least 4× faster than 10
  sequential `planalign simulate` runs of the same designs;
- **ensemble**: 1 design × 50 seeds as one `planalign scenarios run` must be at least 10× faster than 50
  sequential `planalign simulate` runs;
- the results must be identical: every member's `fct_yearly_events` and `fct_workforce_snapshot` in the
  sweep database (its rows, `scenario_id` left out) has the same order-independent checksum as the single
  run of that member's configuration and seed (bench_checksum).

How the sequential side is timed: every single run is a whole `python -m planalign simulate` process on a
fresh database, one after another, and its wall time and peak RSS are measured like run_benchmarks.measure
does. By default all 10 single runs of the sweep are executed; of the ensemble's 50 single runs,
`--ensemble-sample` (default 10) are executed, spread over the seeds, and the sequential time is their mean
× 50. That is an estimate and the result file and the printed table say so; the 50 runs differ only in
their seed, which does not change the work (the same models, the same census, the same number of rows
within a few percent). `--ensemble-sample 50` runs them all.

Results: benchmarks/results/<date>-scenarios-<size>.json and .md, and the block between the
scenario-benchmark markers in docs/benchmarks.md and README.md.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_checksum import database_checksum, describe_difference
from bench_results import update_marked_block
from run_benchmarks import PYTHON, REPO, Measurement, machine_info, measure

DOCS_BEGIN = "<!-- scenario-benchmark-results:begin -->"
DOCS_END = "<!-- scenario-benchmark-results:end -->"

#: The sweep's ten plan designs: the default configuration and nine changes an analyst asks about.
DESIGNS: dict[str, dict[str, Any]] = {
    "baseline": {},
    "match_4pct": {"match": {"tiers": [{"employee_max": 0.04, "match_rate": 1.0}], "cap_rate": 0.04}},
    "match_50_of_6": {"match": {"tiers": [{"employee_max": 0.06, "match_rate": 0.5}], "cap_rate": 0.03}},
    "auto_enroll_3pct": {"enrollment": {"auto_enrollment": {"default_deferral_rate": 0.03}}},
    "no_auto_enroll": {"enrollment": {"auto_enrollment": {"enabled": False}}},
    "escalate_2pct": {"escalation": {"increment": 0.02, "cap": 0.15}},
    "no_escalation": {"escalation": {"enabled": False}},
    "core_3pct": {"contributions": {"core_contribution_rate": 0.03}},
    "high_turnover": {"workforce": {"total_termination_rate": 0.18}},
    "growth_5pct": {"simulation": {"target_growth_rate": 0.05}},
}


class ScenarioBenchmarkError(Exception):
    """A step of the benchmark could not run; the message names it and the log to read."""


@dataclass(frozen=True)
class Member:
    """One (design, seed) of a sweep: its scenario_id in the sweep database and its single-run config."""

    design: str
    seed: int

    @property
    def scenario_id(self) -> str:
        return f"{self.design}__s{self.seed}"


@dataclass(frozen=True)
class Comparison:
    """One pass against the same members run one at a time."""

    name: str
    members: int
    one_pass: Measurement
    sequential_runs: int
    sequential_measured_s: float
    sequential_s: float
    sequential_estimated: bool
    sequential_peak_rss_mb: float
    speedup: float
    target: float
    identical: bool
    mismatches: tuple[str, ...]
    processes: int | None = None
    """Design (b): the members as this many concurrent `simulate` processes (None: not measured)."""
    processes_s: float | None = None
    processes_peak_rss_mb: float | None = None

    @property
    def met(self) -> bool:
        return self.identical and self.speedup >= self.target


def _deep_merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


class ScenarioBench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work: Path = args.workdir / f"scenarios-{args.employees}"
        self.census = self.work / "census.parquet"
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def prepare(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        if not self.census.exists():
            result = measure(
                [[PYTHON, "-m", "planalign", "census", "--employees", str(self.args.employees),
                  "--seed", str(self.args.seed), "--out", str(self.census)]],
                env=self.env, cwd=REPO, log=self.work / "census.log",
            )  # fmt: skip
            if result.error:
                raise ScenarioBenchmarkError(f"generating the census failed: {result.error}")

    def base_config(self, database: Path, runs_dir: Path) -> dict[str, Any]:
        data: dict[str, Any] = yaml.safe_load((REPO / "simulation_config.yaml").read_text())
        data["simulation"].update(
            start_year=self.args.start_year,
            end_year=self.args.end_year,
            random_seed=self.args.seed,
            census_path=str(self.census),
            database_path=str(database),
        )
        data.setdefault("dbt", {}).update(
            project_dir=str(REPO / "dbt_project"), profiles_dir=str(REPO / "dbt_project")
        )
        data.setdefault("run", {})["runs_dir"] = str(runs_dir)
        return data

    def one_pass(self, name: str, designs: Sequence[str], seeds: Sequence[int]) -> tuple[Measurement, Path]:
        """Run the designs × seeds as one `planalign scenarios run`; return its measurement and database."""
        root = self.work / name
        database = root / "sweep.duckdb"
        _fresh(root)
        config_path = root / "baseline-config.yaml"
        config_path.write_text(yaml.safe_dump(self.base_config(root / "unused.duckdb", root / "runs")))
        scenarios = {
            design: {"description": f"benchmark design {design}", "overrides": DESIGNS[design]}
            for design in designs
            if design != "baseline"
        }
        sweep = {
            "name": name,
            "description": f"{len(designs)} designs × {len(seeds)} seeds",
            "config": str(config_path),
            "database": str(database),
            "seeds": list(seeds),
            "scenarios": scenarios,
        }
        sweep_file = root / f"{name}.yaml"
        sweep_file.write_text(yaml.safe_dump(sweep, sort_keys=False))
        command = [PYTHON, "-m", "planalign", "scenarios", "run", str(sweep_file), *self._workers()]
        result = measure([command], env=self.env, cwd=REPO, log=root / "run.log")
        if result.error:
            raise ScenarioBenchmarkError(f"the {name} sweep failed: {result.error}")
        return result, database

    def _single_command(self, root: Path, member: Member) -> tuple[list[str], Path]:
        """The `simulate` command of one member on a fresh database under `root`, and that database."""
        _fresh(root)
        database = root / "simulation.duckdb"
        config = _deep_merge(self.base_config(database, root / "runs"), DESIGNS[member.design])
        config["simulation"]["random_seed"] = member.seed
        config_path = root / "config.yaml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        return [
            PYTHON,
            "-m",
            "planalign",
            "simulate",
            "--config",
            str(config_path),
            *self._workers(),
        ], database

    def single_runs(self, name: str, members: Sequence[Member]) -> list[tuple[Member, Measurement, Path]]:
        out = []
        for member in members:
            root = self.work / f"{name}-single" / member.scenario_id
            command, database = self._single_command(root, member)
            result = measure([command], env=self.env, cwd=REPO, log=root / "run.log")
            if result.error:
                raise ScenarioBenchmarkError(f"the single run {member.scenario_id} failed: {result.error}")
            print(f"   single {member.scenario_id:<28} {result.wall_s:8.2f} s {result.peak_rss_mb:7.0f} MB")
            out.append((member, result, database))
        return out

    def parallel_processes(self, name: str, members: Sequence[Member], processes: int) -> Measurement:
        """Design (b): every member as its own `simulate` process on its own DuckDB file, `processes` at a
        time. Wall time from the first start to the last exit. Peak RSS: the largest process's peak times
        the number run together — an upper bound, since their peaks need not coincide."""
        pending = list(members)
        running: dict[int, tuple[Member, IO[bytes]]] = {}
        largest_kb = 0
        started = time.perf_counter()
        try:
            while pending or running:
                while pending and len(running) < processes:
                    member = pending.pop(0)
                    root = self.work / f"{name}-processes" / member.scenario_id
                    command, _ = self._single_command(root, member)
                    log: IO[bytes] = (root / "run.log").open("wb")
                    proc = subprocess.Popen(
                        command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT
                    )
                    running[proc.pid] = (member, log)
                pid, status, usage = os.wait4(-1, 0)
                member, finished_log = running.pop(pid)
                finished_log.close()
                largest_kb = max(largest_kb, usage.ru_maxrss)
                if os.waitstatus_to_exitcode(status) != 0:
                    raise ScenarioBenchmarkError(
                        f"the process of {member.scenario_id} failed; see {finished_log.name}"
                    )
        finally:
            for _, open_log in running.values():
                open_log.close()
        return Measurement(
            wall_s=time.perf_counter() - started,
            peak_rss_mb=largest_kb * min(processes, len(members)) / 1024,
            commands=len(members),
        )

    def compare(
        self, name: str, designs: Sequence[str], seeds: Sequence[int], sample: int, target: float
    ) -> Comparison:
        members = [Member(d, s) for d in designs for s in seeds]
        print(f"== {name}: {len(designs)} designs × {len(seeds)} seeds = {len(members)} members", flush=True)
        one_pass, sweep_db = self.one_pass(name, designs, seeds)
        print(f"   one pass {one_pass.wall_s:8.2f} s {one_pass.peak_rss_mb:7.0f} MB", flush=True)
        chosen = _spread(members, sample)
        singles = self.single_runs(name, chosen)
        mismatches = []
        for member, _, database in singles:
            single = database_checksum(database)
            in_sweep = database_checksum(sweep_db, scenario_id=member.scenario_id)
            if single != in_sweep:
                mismatches.append(
                    f"{member.scenario_id}: " + describe_difference("single run", single, "sweep", in_sweep)
                )
            if any(c.rows == 0 for c in in_sweep.values()):
                mismatches.append(f"{member.scenario_id}: no rows in the sweep")
        processes = self.args.processes if name == "sweep" and self.args.processes else None
        in_processes = self.parallel_processes(name, members, processes) if processes else None
        if in_processes is not None:
            print(f"   {processes} processes at a time {in_processes.wall_s:8.2f} s", flush=True)
        measured = sum(m.wall_s for _, m, _ in singles)
        estimated = len(chosen) < len(members)
        sequential = measured / len(chosen) * len(members)
        return Comparison(
            name=name,
            members=len(members),
            one_pass=one_pass,
            sequential_runs=len(chosen),
            sequential_measured_s=round(measured, 2),
            sequential_s=round(sequential, 2),
            sequential_estimated=estimated,
            sequential_peak_rss_mb=max(m.peak_rss_mb for _, m, _ in singles),
            speedup=round(sequential / one_pass.wall_s, 2),
            target=target,
            identical=not mismatches,
            mismatches=tuple(mismatches),
            processes=processes,
            processes_s=round(in_processes.wall_s, 2) if in_processes else None,
            processes_peak_rss_mb=round(in_processes.peak_rss_mb) if in_processes else None,
        )

    def _workers(self) -> list[str]:
        return ["--workers", str(self.args.workers)] if self.args.workers else []


def _fresh(root: Path) -> None:
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)


def _spread(members: Sequence[Member], count: int) -> list[Member]:
    """`count` members spread evenly over the list (all of them when count >= len)."""
    if count >= len(members):
        return list(members)
    step = len(members) / count
    return [members[int(i * step)] for i in range(count)]


def render_markdown(document: Mapping[str, Any]) -> str:
    lines = [
        f"Scenario sweeps, census {document['employees']:,} employees, years "
        f"{document['years'][0]}–{document['years'][-1]}; {document['date']}, "
        f"{document['machine']['cpu_count']} cores ({document['machine']['cpu_model']})",
        "",
        "| workload | members | one pass | sequential `simulate` runs | speedup | target | identical "
        "| peak RSS one pass / one single run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in document["comparisons"]:
        sequential = f"{c['sequential_s']:.1f} s"
        if c["sequential_estimated"]:
            sequential += (
                f" (est.: {c['sequential_runs']} of {c['members']} run, {c['sequential_measured_s']:.1f} s)"
            )
        verdict = "met" if c["met"] else "**missed**"
        lines.append(
            f"| {c['name']} | {c['members']} | {c['one_pass']['wall_s']:.1f} s | {sequential} | "
            f"{c['speedup']:.2f}× | ≥ {c['target']:g}× ({verdict}) | "
            f"{'yes' if c['identical'] else '**NO**'} | "
            f"{c['one_pass']['peak_rss_mb']:.0f} / {c['sequential_peak_rss_mb']:.0f} MB |"
        )
    for c in document["comparisons"]:
        if c.get("processes"):
            lines.append(
                f"- {c['name']}, design (b) — the {c['members']} members as separate `simulate` processes, "
                f"{c['processes']} at a time, one DuckDB file each: {c['processes_s']:.1f} s "
                f"({c['sequential_s'] / c['processes_s']:.2f}× the sequential runs, "
                f"{c['processes_s'] / c['one_pass']['wall_s']:.2f}× the one pass's time); peak RSS ≤ "
                f"{c['processes_peak_rss_mb']:.0f} MB"
            )
    for c in document["comparisons"]:
        for mismatch in c["mismatches"]:
            lines.append(f"- MISMATCH {c['name']}: {mismatch}")
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--employees", type=int, default=10_000)
    parser.add_argument("--start-year", type=int, default=2025)
    parser.add_argument("--end-year", type=int, default=2029)
    parser.add_argument("--seed", type=int, default=42, help="census seed and the first simulation seed")
    parser.add_argument("--designs", type=int, default=10, help="plan designs in the sweep (1–10)")
    parser.add_argument("--seeds", type=int, default=50, help="seeds in the ensemble")
    parser.add_argument(
        "--ensemble-sample", type=int, default=10, help="single runs of the ensemble actually executed"
    )
    parser.add_argument("--only", choices=("sweep", "ensemble"), default=None)
    parser.add_argument(
        "--processes",
        type=int,
        default=os.cpu_count() or 1,
        help="design (b) for the sweep: its members as this many concurrent simulate processes "
        "(default: the cores; 0 skips it)",
    )
    parser.add_argument("--workers", type=int, default=None, help="max workers (default: the config's)")
    parser.add_argument("--workdir", type=Path, default=REPO / "benchmarks" / "work")
    parser.add_argument("--out-dir", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--no-update-docs", action="store_true")
    args = parser.parse_args(argv)
    if not 1 <= args.designs <= len(DESIGNS) or args.seeds < 1 or args.ensemble_sample < 1:
        parser.error(f"--designs must be 1–{len(DESIGNS)}; --seeds and --ensemble-sample at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    machine = machine_info()
    bench = ScenarioBench(args)
    comparisons: list[Comparison] = []
    try:
        bench.prepare()
        if args.only in (None, "sweep"):
            designs = list(DESIGNS)[: args.designs]
            comparisons.append(bench.compare("sweep", designs, [args.seed], len(designs), target=4.0))
        if args.only in (None, "ensemble"):
            seeds = [args.seed + i for i in range(args.seeds)]
            comparisons.append(bench.compare("ensemble", ["baseline"], seeds, args.ensemble_sample, 10.0))
    except ScenarioBenchmarkError as exc:
        print(f"scenario benchmark could not run: {exc}", file=sys.stderr)
        return 1
    today = dt.datetime.now(dt.UTC).date().isoformat()
    document = {
        "date": today,
        "employees": args.employees,
        "years": list(range(args.start_year, args.end_year + 1)),
        "machine": {**machine, "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "comparisons": [
            {**asdict(c), "one_pass": asdict(c.one_pass), "met": c.met, "mismatches": list(c.mismatches)}
            for c in comparisons
        ],
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{today}-scenarios-{args.employees}"
    (args.out_dir / f"{stem}.json").write_text(json.dumps(document, indent=2) + "\n")
    markdown = render_markdown(document)
    (args.out_dir / f"{stem}.md").write_text(markdown)
    print()
    print(markdown)
    if not args.no_update_docs and args.only is None:
        for doc in (REPO / "docs" / "benchmarks.md", REPO / "README.md"):
            if update_marked_block(doc, markdown, begin=DOCS_BEGIN, end=DOCS_END):
                print(f"updated the scenario results block in {doc.relative_to(REPO)}")
    return 0 if all(c.identical for c in comparisons) else 1


if __name__ == "__main__":
    sys.exit(main())
