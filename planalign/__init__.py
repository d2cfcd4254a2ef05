"""planalign: a multi-year workforce and retirement-plan simulation on dbt + DuckDB, with a parallel
in-process dbt scheduler."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from planalign.project_run import ProjectRunResult
    from planalign.scenarios.notebook import RunResults, SweepResults
    from planalign.simulation.orchestrator import PipelineOrchestrator

__version__ = "0.1.0"
__all__ = ["__version__", "create_orchestrator", "load_run", "load_sweep", "run_project", "run_project_async"]


def create_orchestrator(config: Any, **kwargs: Any) -> PipelineOrchestrator:
    """The specification's entry point: `from planalign import create_orchestrator`.

    Imported lazily so that `import planalign` (and the CLI's `--help`) does not load dbt.
    """
    from planalign.simulation.orchestrator import create_orchestrator as _create

    return _create(config, **kwargs)


def load_run(path: Any) -> RunResults:
    """A run directory's results as pandas DataFrames (`.summary()`, `.yearly()`, `.members()`,
    `.table(name)`); see `planalign.scenarios.notebook`."""
    from planalign.scenarios.notebook import load_run as _load_run

    return _load_run(path)


def load_sweep(path: Any) -> SweepResults:
    """A sweep directory's results as pandas DataFrames (`.summary()` per design, `.yearly()`,
    `.members()`, `.table(name)`); see `planalign.scenarios.notebook`."""
    from planalign.scenarios.notebook import load_sweep as _load_sweep

    return _load_sweep(path)


def run_project(project_dir: Any, **kwargs: Any) -> ProjectRunResult:
    """`planalign run` as a function: run a dbt project's models with the parallel engine, like `dbt run`
    (select, exclude, workers, vars, target, profiles_dir, fail_fast, ...); see `planalign.project_run`."""
    from planalign.project_run import run_project as _run_project

    return _run_project(project_dir, **kwargs)


async def run_project_async(project_dir: Any, **kwargs: Any) -> ProjectRunResult:
    """`run_project` for a running event loop: cancelling the awaiting task stops the run (its results files
    are written, the cancellation re-raised); see `planalign.project_run`."""
    from planalign.project_run import run_project_async as _run_project_async

    return await _run_project_async(project_dir, **kwargs)
