"""Helpers shared by the real-dbt engine tests: a minimal thread-pool DAG walker (independent of the
scheduler under test elsewhere), plain-dbt reference builds in a subprocess, and table checksums."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml

from planalign.dbt.invoker import DbtInvoker
from planalign.engine.invocation import InvocationOutcome, OutcomeStatus
from planalign.engine.nodes import ProjectManifest
from planalign.simulation.checksum import TableChecksum, table_checksum

DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")


@dataclass
class WalkReport:
    outcomes: dict[str, InvocationOutcome] = field(default_factory=dict)
    max_in_flight: int = 0

    @property
    def errors(self) -> dict[str, str | None]:
        return {uid: o.message for uid, o in self.outcomes.items() if not o.ok}


def _ready(depends_on: tuple[str, ...], finished: set[str], models: Mapping[str, object]) -> bool:
    return all(d in finished or d not in models for d in depends_on)


def walk_dag(
    invoker: DbtInvoker, manifest: ProjectManifest, vars: Mapping[str, Any], *, workers: int
) -> WalkReport:
    """Run every model of the manifest through `invoker`, each as soon as its model parents succeeded."""
    models = {n.unique_id: n for n in manifest.models()}
    report = WalkReport()
    cond = threading.Condition()
    pending = set(models)
    finished: set[str] = set()
    in_flight = 0

    def work(uid: str) -> None:
        nonlocal in_flight
        try:
            outcome = invoker.run_model(models[uid], vars=vars)
        except Exception as exc:  # surfaced as a failed model so the walk cannot hang
            outcome = InvocationOutcome(OutcomeStatus.ERROR, message=f"run_model raised {exc!r}")
        with cond:
            in_flight -= 1
            report.outcomes[uid] = outcome
            finished.add(uid)
            cond.notify_all()

    with ThreadPoolExecutor(workers) as pool, cond:
        while pending:
            if any(not o.ok for o in report.outcomes.values()):
                break
            ready = sorted(
                uid
                for uid in pending
                if all(d in finished or d not in models for d in models[uid].depends_on)
            )
            for uid in ready:
                pending.discard(uid)
                in_flight += 1
                report.max_in_flight = max(report.max_in_flight, in_flight)
                pool.submit(work, uid)
            if pending:
                cond.wait()
    return report


def dbt_cli(project_dir: Path, *args: str, vars: Mapping[str, Any] | None = None) -> None:
    """Plain dbt in its own process: the reference planalign is compared against."""
    cmd = [DBT_EXECUTABLE, *args, "--project-dir", str(project_dir), "--profiles-dir", str(project_dir)]
    if vars:
        cmd += ["--vars", yaml.safe_dump(dict(vars), default_flow_style=True).strip()]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=project_dir)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"


class BackgroundDbt:
    """Plain dbt in its own process, started now and waited for later, so that a test can do its in-process
    work while the reference builds on the other core. Its output goes to a file (a pipe nobody reads
    would stall it); `wait()` returns the finished process with that output as `stdout`."""

    def __init__(self, cmd: list[str], cwd: Path, output: Path) -> None:
        self.cmd = cmd
        self.output = output
        with output.open("w") as sink:
            self.process = subprocess.Popen(cmd, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT, text=True)
        self._done: subprocess.CompletedProcess[str] | None = None

    def wait(self, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        if self._done is None:
            code = self.process.wait(timeout=timeout)
            self._done = subprocess.CompletedProcess(self.cmd, code, self.output.read_text(), "")
        return self._done

    def wait_ok(self) -> None:
        done = self.wait()
        assert done.returncode == 0, f"{' '.join(self.cmd)} failed:\n{done.stdout[-4000:]}"

    def kill(self) -> None:
        """Stop it if it still runs (a test that failed before waiting)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def dbt_cli_background(
    project_dir: Path, *args: str, vars: Mapping[str, Any] | None = None, workdir: Path
) -> BackgroundDbt:
    """`dbt_cli` started in the background, with its own target and log paths under `workdir` (two of them
    at once must not write one `target/`)."""
    cmd = [DBT_EXECUTABLE, *args, "--project-dir", str(project_dir), "--profiles-dir", str(project_dir)]
    cmd += ["--target-path", str(workdir / "target"), "--log-path", str(workdir / "logs")]
    if vars:
        cmd += ["--vars", yaml.safe_dump(dict(vars), default_flow_style=True).strip()]
    workdir.mkdir(parents=True, exist_ok=True)
    return BackgroundDbt(cmd, project_dir, workdir / "dbt.out")


def dbt_seed_in_process(project_dir: Path, *, vars: Mapping[str, Any]) -> None:
    """`dbt seed` in this process (cheaper than a subprocess; seeding is setup, not what is under test)."""
    from dbt.cli.main import dbtRunner

    from planalign.dbt.isolation import invocation_slot
    from planalign.dbt.manifest import dbt_common_args

    args = ["seed", *dbt_common_args(project_dir, profiles_dir=None, target=None, vars=vars), "--quiet"]
    with invocation_slot(("seed", str(project_dir)), exclusive=True):
        result = dbtRunner().invoke(args)
    assert result.success, result.exception


def checksums(database: Path, tables: list[str]) -> dict[str, TableChecksum]:
    """Checksums of `main.<table>` for each table, through a default-configured connection (which shares
    the process's DuckDB instance if dbt still holds the file open)."""
    con = duckdb.connect(str(database))
    try:
        return {t: table_checksum(con, f"main.{t}") for t in tables}
    finally:
        con.close()
