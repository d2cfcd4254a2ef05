"""Executing a prepared project run as one `dbt run`: on-run-start hooks, the engine, on-run-end hooks, then
dbt's `target/run_results.json` and planalign's `target/planalign_run_results.json` — written whatever
happened (success, failure, cancellation, or an error escaping).

Cancellation is anyio's: cancel the calling task (a cancel scope, a task group, Ctrl-C under `anyio.run`)
and the engine stops dispatch and interrupts running queries (`planalign.engine.runner`), the end hooks are
not run, both results files are written, `on_finished` receives the result (status "interrupted"), and the
cancellation is re-raised, as anyio requires. A cancellation that arrives during the on-run-start hooks lets
them finish (short statements in a worker thread) and stops before any model; one during the end hooks lets
them finish too. Fail-fast is an engine setting (`EngineSettings.fail_fast`): the first model that fails for
good stops the rest, and the run is "failed".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from planalign.project_run.prepare import Notice, NoticeLevel, NoticeSink, PreparedRun, log_notice

if TYPE_CHECKING:
    from planalign.dbt.run_results import NodeRun
    from planalign.engine.events import EngineEvent
    from planalign.engine.results import EngineRunResult

NOTHING_TO_DO = "Nothing to do. Try checking your model configs and model specification args"


class RunStatus(StrEnum):
    """SUCCESS: every selected model and hook succeeded (or nothing was selected). FAILED: any failed or was
    skipped, or fail-fast stopped the run. INTERRUPTED: the run was cancelled."""

    SUCCESS = "success"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class ModelRun:
    """One selected model as run_results.json lists it: dbt's `status` ("success", "error", "skipped"), its
    message, its execution time, its start and end (ISO-8601, UTC; None when it never started) and the
    engine's attempts."""

    unique_id: str
    name: str
    status: str
    message: str | None
    execution_time_s: float
    started_at: str | None
    completed_at: str | None
    attempts: int


@dataclass(frozen=True)
class ProjectRunResult:
    """The outcome of `planalign.run_project`: `models` in run order, `hooks` (the project hooks' rows),
    `engine` (the engine's full result, None when no model started), `stop_reason` (why the run ended
    early, if it did) and where both results files are."""

    status: RunStatus
    models: tuple[ModelRun, ...]
    hooks: tuple[NodeRun, ...]
    engine: EngineRunResult | None
    stop_reason: str | None
    failed_fast: str | None
    run_results_path: Path
    planalign_results_path: Path
    invocation_id: str
    elapsed_s: float

    @property
    def success(self) -> bool:
        return self.status is RunStatus.SUCCESS

    @property
    def nothing_to_do(self) -> bool:
        return self.engine is None and not self.models and self.status is RunStatus.SUCCESS

    def model(self, name: str) -> ModelRun:
        """The model of this name (or unique_id); `KeyError` when the run did not select it."""
        for model in self.models:
            if name in (model.name, model.unique_id):
                return model
        raise KeyError(name)


def _models(document: dict[str, Any], engine: EngineRunResult | None) -> tuple[ModelRun, ...]:
    attempts = {m.unique_id: m.attempts for m in engine.results} if engine is not None else {}
    rows = []
    for row in document["results"]:
        uid = str(row["unique_id"])
        if not uid.startswith("model."):
            continue
        timing = row.get("timing") or []
        rows.append(
            ModelRun(
                unique_id=uid,
                name=uid.split(".", 2)[-1],
                status=str(row["status"]),
                message=row.get("message"),
                execution_time_s=float(row.get("execution_time") or 0.0),
                started_at=timing[0]["started_at"] if timing else None,
                completed_at=timing[-1]["completed_at"] if timing else None,
                attempts=attempts.get(uid, 0),
            )
        )
    return tuple(rows)


def _write_nothing_to_do(prepared: PreparedRun, on_notice: NoticeSink) -> ProjectRunResult:
    """A selection of no models, as `dbt run` ends it: an empty run_results.json (no hooks run, elapsed 0);
    with `--warn-error`, dbt's warning is its error (`RunFlagError`, nothing written)."""
    from planalign.dbt.run_results import build_document, write
    from planalign.engine.results import RUN_RESULTS_FILENAME, write_run_results
    from planalign.project_run.flags import RunFlagError

    if prepared.request.flags.warn_error:
        raise RunFlagError(f"{NOTHING_TO_DO} (a warning, made an error by --warn-error)")
    args, warning = prepared.record.dbt_args(prepared.manifest)
    if warning:
        on_notice(Notice(NoticeLevel.WARNING, warning))
    document = build_document(
        prepared.manifest,
        result=None,
        started_at=prepared.started_at,
        elapsed_s=0.0,
        args=args,
        invocation_id=prepared.record.invocation_id,
    )
    path = write(prepared.target_dir, document)
    ours = prepared.target_dir / RUN_RESULTS_FILENAME
    write_run_results(ours, [], args=prepared.record.planalign_args())
    return ProjectRunResult(
        RunStatus.SUCCESS, (), (), None, None, None, path, ours, prepared.record.invocation_id, 0.0
    )


async def execute_run(
    prepared: PreparedRun,
    *,
    on_event: Callable[[EngineEvent], None] | None = None,
    on_notice: NoticeSink = log_notice,
    on_finished: Callable[[ProjectRunResult], None] | None = None,
    interrupt_reason: Callable[[], str | None] | None = None,
) -> ProjectRunResult:
    """Hooks, engine, hooks — as one `dbt run` — then both results files (see the module docstring).

    `on_event` receives the engine's events (progress); `on_finished` the result in every case, before a
    cancellation is re-raised; `interrupt_reason` says why a cancelled run was cancelled (the CLI names the
    signal), default "the run was cancelled". The artifact's `elapsed_time` counts from the first hook, as
    dbt's does: the parse and selection are not in it."""
    from planalign.dbt import isolation as dbt_isolation
    from planalign.dbt.invoker import DbtInvoker
    from planalign.dbt.manifest import dbt_common_args
    from planalign.dbt.project_hooks import end_hook_extras, run_project_hooks
    from planalign.dbt.run_results import build_document, remove_stale, write
    from planalign.engine.results import RUN_RESULTS_FILENAME, write_run_results
    from planalign.engine.runner import ParallelExecutionEngine

    if prepared.nothing_to_do:
        result = _write_nothing_to_do(prepared, on_notice)
        if on_finished is not None:
            on_finished(result)
        return result
    assert prepared.invoker is not None and prepared.settings is not None
    request, manifest, analyzer = prepared.request, prepared.manifest, prepared.analyzer
    common_args = [*dbt_common_args(request.project_dir, **request.dbt_target), *request.flags.hook_args()]
    selectors = [DbtInvoker.selector_for(analyzer.node(uid)) for uid in prepared.selected]

    def hooks(hook_type: str, engine_result: EngineRunResult | None = None) -> list[NodeRun]:
        extras = end_hook_extras(manifest, engine_result) if hook_type == "on-run-end" else None
        return run_project_hooks(
            hook_type, manifest, common_args, selectors, full_refresh=request.full_refresh, extras=extras
        )

    engine = ParallelExecutionEngine(analyzer, prepared.invoker, prepared.settings)
    remove_stale(prepared.target_dir)
    before: list[NodeRun] = []
    after: list[NodeRun] = []
    engine_result: EngineRunResult | None = None
    interrupted = False
    started = time.perf_counter()
    try:
        with dbt_isolation.suppress_project_hooks(manifest.dbt_manifest):
            before = await anyio.to_thread.run_sync(hooks, "on-run-start")
            try:
                engine_result = await engine.execute(
                    list(prepared.model_ids),
                    vars={},
                    label="run",
                    already_built=prepared.built,
                    listeners=[on_event] if on_event is not None else (),
                )
            finally:
                engine_result = engine_result or engine.last_result
            # Short statements: a cancellation arriving now lets them finish (then it is delivered).
            with anyio.CancelScope(shield=True):
                after = await anyio.to_thread.run_sync(hooks, "on-run-end", engine_result)
    except (anyio.get_cancelled_exc_class(), KeyboardInterrupt):
        interrupted = True
        raise
    finally:
        engine_result = engine_result or engine.last_result
        failed_fast = None
        if engine_result is not None and engine_result.failed_fast is not None and not interrupted:
            failed_fast = manifest.nodes[engine_result.failed_fast].name
        if interrupted:
            reason = (interrupt_reason() if interrupt_reason is not None else None) or "the run was cancelled"
        elif failed_fast is not None:
            reason = f"--fail-fast after {failed_fast} failed"
        else:
            reason = "the run was cancelled"
        args, warning = prepared.record.dbt_args(manifest)
        if warning:
            on_notice(Notice(NoticeLevel.WARNING, warning))
        document = build_document(
            manifest,
            result=engine_result,
            started_at=prepared.started_at,
            elapsed_s=time.perf_counter() - started,
            args=args,
            before=before,
            after=after,
            cancel_reason=reason,
            invocation_id=prepared.record.invocation_id,
            ephemeral=list(prepared.ephemeral),
        )
        path = write(prepared.target_dir, document)
        ours = prepared.target_dir / RUN_RESULTS_FILENAME
        if engine_result is not None:
            write_run_results(ours, engine_result, args=prepared.record.planalign_args())
        hooks_ok = all(r.status == "success" for r in (*before, *after))
        if interrupted:
            status = RunStatus.INTERRUPTED
        elif engine_result is not None and engine_result.success and hooks_ok and failed_fast is None:
            status = RunStatus.SUCCESS
        else:
            status = RunStatus.FAILED
        result = ProjectRunResult(
            status=status,
            models=_models(document, engine_result),
            hooks=(*before, *after),
            engine=engine_result,
            stop_reason=reason if interrupted or failed_fast is not None else None,
            failed_fast=failed_fast,
            run_results_path=path,
            planalign_results_path=ours,
            invocation_id=prepared.record.invocation_id,
            elapsed_s=float(document["elapsed_time"]),
        )
        if on_finished is not None:
            on_finished(result)
    return result
