"""`planalign run` as a library: run the models of any dbt project with the parallel engine, like `dbt run`.

    result = planalign.run_project("path/to/project", select=["+orders"], workers=4, fail_fast=True)
    result.status                      # RunStatus.SUCCESS / FAILED / INTERRUPTED
    {m.name: m.status for m in result.models}   # dbt's statuses: success, error, skipped

`run_project_async` is the same for a service's event loop: cancel the awaiting task (an anyio cancel scope)
and the run stops, writes its results files, and re-raises the cancellation (`on_finished` gets the result).

The flow: `request` (`RunRequest`: the flags as data, checked before the parse; `RunRecord`: what both results
files record) → `prepare` (`prepare_run`: parse, dbt's selection, workers and batch size, the unselected
parents check, the invoker) → `execute` (`execute_run`: hooks, engine, hooks, both results files; the
frozen `ProjectRunResult`); `flags` (dbt's flags and which dbt call each goes to). `planalign run` and
`planalign retry` are thin command lines over it (`planalign.cli.run`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planalign.project_run.execute import ModelRun, ProjectRunResult, RunStatus, execute_run
from planalign.project_run.flags import DbtFlags
from planalign.project_run.prepare import (
    Notice,
    NoticeLevel,
    NoticeSink,
    PreparedRun,
    log_notice,
    prepare_run,
)
from planalign.project_run.request import RunRequest, RunUsageError

if TYPE_CHECKING:
    from planalign.engine.events import EngineEvent

__all__ = [
    "DbtFlags",
    "ModelRun",
    "Notice",
    "NoticeLevel",
    "PreparedRun",
    "ProjectRunResult",
    "RunRequest",
    "RunStatus",
    "RunUsageError",
    "execute_run",
    "prepare_run",
    "run_project",
    "run_project_async",
]


def _request(
    project_dir: str | Path,
    *,
    select: Sequence[str] | None,
    exclude: Sequence[str] | None,
    workers: int | None,
    vars: Mapping[str, Any] | None,
    target: str | None,
    profiles_dir: str | Path | None,
    options: dict[str, Any],
) -> RunRequest:
    return RunRequest(
        project_dir=Path(project_dir).resolve(),
        select=tuple(select or ()),
        exclude=tuple(exclude or ()),
        vars=dict(vars or {}),
        workers=workers,
        target=target,
        profiles_dir=Path(profiles_dir).resolve() if profiles_dir is not None else None,
        **options,
    )


async def run_project_async(
    project_dir: str | Path,
    *,
    select: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    workers: int | None = None,
    vars: Mapping[str, Any] | None = None,
    target: str | None = None,
    profiles_dir: str | Path | None = None,
    fail_fast: bool = False,
    on_event: Callable[[EngineEvent], None] | None = None,
    on_notice: NoticeSink = log_notice,
    on_finished: Callable[[ProjectRunResult], None] | None = None,
    **options: Any,
) -> ProjectRunResult:
    """Run the project's selected models (dbt's selection syntax; all models by default). `workers` None:
    the profile's threads, as dbt. Further `RunRequest` fields by name: `profile`, `full_refresh`,
    `models_per_invocation`, `default_class`, `max_retries`, `flags` (`DbtFlags`). The parse runs in a worker
    thread. Bad input raises a `PlanalignUsageError` with nothing written; model failures are data."""
    import anyio

    request = _request(
        project_dir,
        select=select,
        exclude=exclude,
        workers=workers,
        vars=vars,
        target=target,
        profiles_dir=profiles_dir,
        options={"fail_fast": fail_fast, **options},
    )
    prepared = await anyio.to_thread.run_sync(lambda: prepare_run(request, on_notice=on_notice))
    return await execute_run(prepared, on_event=on_event, on_notice=on_notice, on_finished=on_finished)


def run_project(
    project_dir: str | Path,
    *,
    select: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    workers: int | None = None,
    vars: Mapping[str, Any] | None = None,
    target: str | None = None,
    profiles_dir: str | Path | None = None,
    fail_fast: bool = False,
    on_event: Callable[[EngineEvent], None] | None = None,
    on_notice: NoticeSink = log_notice,
    **options: Any,
) -> ProjectRunResult:
    """`run_project_async` in its own event loop (see there); Ctrl-C stops the run and raises
    KeyboardInterrupt after the results files are written."""
    import functools

    import anyio

    return anyio.run(
        functools.partial(
            run_project_async,
            project_dir,
            select=select,
            exclude=exclude,
            workers=workers,
            vars=vars,
            target=target,
            profiles_dir=profiles_dir,
            fail_fast=fail_fast,
            on_event=on_event,
            on_notice=on_notice,
            **options,
        )
    )
