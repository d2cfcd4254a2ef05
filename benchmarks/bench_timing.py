"""One timed child process for the benchmarks that compare whole commands (bench_postgres.py,
bench_workers.py): its wall seconds and its client CPU seconds.

The machine these benchmarks run on is shared, so wall time depends on the neighbours' load; the CPU seconds
the process itself spent (user + system, from `resource.getrusage(RUSAGE_CHILDREN)` around the one child,
which includes the child's own reaped children) do not — they show how much work a tool does in the client
whatever the load, e.g. whether planalign's per-model overhead is below dbt's. Run one command at a time:
the children's usage is process-wide.
"""

from __future__ import annotations

import resource
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Timed:
    """A finished command: wall and CPU seconds (user + system), its exit code and output."""

    seconds: float
    cpu_seconds: float
    returncode: int
    stdout: str
    stderr: str

    def check(self, name: str) -> Timed:
        """Itself when the command succeeded; else stop the benchmark with the output's tail."""
        if self.returncode != 0:
            raise SystemExit(f"{name} failed:\n{self.stdout[-3000:]}\n{self.stderr[-3000:]}")
        return self


def timed_run(cmd: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Timed:
    """Run `cmd` to its end, capturing its output (text); never raises for a failed command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(list(cmd), capture_output=True, text=True, cwd=cwd, env=dict(env) if env else None)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timed(round(elapsed, 2), round(cpu, 2), proc.returncode, proc.stdout, proc.stderr)
