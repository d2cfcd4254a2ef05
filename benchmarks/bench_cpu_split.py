"""Where `planalign simulate` spends its CPU, without a profiler: `python bench_cpu_split.py [ARGS]`.

A profiler (benchmarks/bench_profile.py) says which functions take the time but inflates Python-heavy code
several times over; this wraps the simulation's steps (the orchestrator's checks, the parse, the seeds and
year-invariant models, each year's stages and tests, the per-year bookkeeping and saves) and charges each
the process's CPU (user + sys of every thread: `resource.getrusage`) spent inside it, exclusive of the steps
it contains. The steps run one after another (the engine's parallelism is inside a stage), so the split is
exact up to the event loop's own work between steps, which is left in "remainder". It also counts the dbt
invocations and the model and test nodes each step ran. Prints a table and writes it as JSON to
$BENCH_CPU_SPLIT_JSON when set.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import resource
import sys
from collections import defaultdict
from collections.abc import Callable
from typing import Any

_totals: dict[str, float] = defaultdict(float)
_counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
_stack: list[list[Any]] = []  # [label, start cpu, cpu of steps inside]
_year: list[int | None] = [None]


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _enter(label: str) -> None:
    _stack.append([label, cpu(), 0.0])


def _exit() -> None:
    label, start, inner = _stack.pop()
    spent = cpu() - start
    _totals[label] += spent - inner
    if _stack:
        _stack[-1][2] += spent


def _label(base: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    year = _year[0]
    return f"{year} {base}" if year is not None else base


def wrap(owner: Any, name: str, base: str, label: Callable[..., str] = _label) -> None:
    original = getattr(owner, name)
    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            _enter(label(base, args, kwargs))
            try:
                return await original(*args, **kwargs)
            finally:
                _exit()

        setattr(owner, name, async_wrapper)
    else:

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            _enter(label(base, args, kwargs))
            try:
                return original(*args, **kwargs)
            finally:
                _exit()

        static = isinstance(inspect.getattr_static(owner, name), staticmethod)
        setattr(owner, name, staticmethod(wrapper) if static else wrapper)


def install() -> None:
    from planalign.dbt.invoker import DbtInvoker
    from planalign.simulation import build, metrics, orchestrator
    from planalign.simulation.run_directory import RunRecorder
    from planalign.simulation.state import SimulationState
    from planalign.simulation.working_copy import WorkingCopy

    orch = orchestrator.PipelineOrchestrator
    wrap(orch, "check_inputs", "checks: census, paths, database")
    wrap(orch, "_prepare", "parse (prepare_project)")
    wrap(orch, "_save", "save: close database + promote copy")
    wrap(orch, "_release_invoker", "close database (checkpoint)")
    wrap(orch, "_finish", "finish: summary.json")
    wrap(WorkingCopy, "open", "working copy: open")
    wrap(WorkingCopy, "close", "working copy: close")
    for name in ("completed_years", "contents", "table_columns", "drop_tables", "mark_complete"):
        wrap(SimulationState, name, f"state: {name}")
    wrap(RunRecorder, "record_assumptions", "record_assumptions")
    wrap(orchestrator, "year_metrics", "year_metrics")
    _ = metrics

    ws = build.Workspace
    wrap(ws, "setup", "setup (seed + year-invariant models)")
    wrap(ws, "stage", "model stages", lambda b, a, k: f"{a[2] if a[2] is not None else 'setup'} {b}")
    wrap(ws, "tests", "tests (validation)")
    wrap(ws, "reporting_tests", "tests (reporting)")
    wrap(ws, "command", "dbt command", lambda b, a, k: f"{_year[0] or 'setup'} dbt {a[1][0]}")

    original_year = ws.year

    async def year(self: Any, run: Any, year: int, **kwargs: Any) -> Any:
        _year[0] = year
        try:
            return await original_year(self, run, year, **kwargs)
        finally:
            pass  # the bookkeeping after the year is charged to the year too

    ws.year = year  # type: ignore[method-assign]

    original_invoke = DbtInvoker._invoke

    def counting_invoke(self: Any, args: list[str], **kwargs: Any) -> Any:
        res, token = original_invoke(self, args, **kwargs)
        where = str(_year[0] or "setup")
        _counts[where][f"invocations: dbt {args[0]}"] += 1
        results = getattr(getattr(res, "result", None), "results", None) or ()
        _counts[where][f"nodes: dbt {args[0]}"] += len(results)
        return res, token

    DbtInvoker._invoke = counting_invoke  # type: ignore[method-assign]


def main() -> int:
    start = cpu()
    started_imports = start
    import dbt.adapters.duckdb
    import dbt.cli.main  # noqa: F401

    from planalign.cli import main as cli_main

    imports = cpu() - started_imports
    install()
    _enter("remainder (event loop, CLI, logging)")
    try:
        status = cli_main(["simulate", *sys.argv[1:]])
    finally:
        _exit()
    total = cpu()
    rows = {"interpreter start": start, "imports (planalign, dbt, dbt-duckdb)": imports, **_totals}
    width = max(len(k) for k in rows)
    print(f"\n{'step':<{width}}  CPU s")
    for key, value in rows.items():
        print(f"{key:<{width}}  {value:6.2f}")
    print(f"{'total':<{width}}  {total:6.2f}")
    for where, counts in _counts.items():
        print(where, dict(counts))
    out = os.environ.get("BENCH_CPU_SPLIT_JSON")
    if out:
        with open(out, "w") as fh:
            json.dump({"cpu": rows, "total": total, "counts": _counts}, fh, indent=1)
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
