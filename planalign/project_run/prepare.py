"""Preparing a project run: parse, select, choose workers and batch size, check the unselected parents.

In a project whose models carry no `meta: {planalign: {execution: ...}}` the declared dbt graph is the
contract — the same assumption `dbt run --threads N` makes — so unclassified models are PARALLEL_SAFE there;
in a project that classifies its models, unclassified ones fall back to the specification's CONDITIONAL.
`default_class` overrides either default. As `dbt run` does, unselected parents that exist in the target
count as built; one that does not is a usage error naming the fix. Nothing here runs a model or writes a
results file; what a caller should tell the user goes to its `on_notice` as it happens.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from planalign.log import get_logger
from planalign.project_run.request import RunRecord, RunRequest, RunUsageError, target_dir

if TYPE_CHECKING:
    from planalign.dbt.invoker import DbtInvoker
    from planalign.engine.classification import ModelClassifier
    from planalign.engine.graph import ModelDependencyAnalyzer
    from planalign.engine.nodes import ProjectManifest
    from planalign.engine.runner import EngineSettings

log = get_logger("planalign.project_run")


class NoticeLevel(StrEnum):
    """How a notice is shown: a WARNING (hidden below dbt's warn level), a NOTE (always), INFO (progress)."""

    WARNING = "warning"
    NOTE = "note"
    INFO = "info"


@dataclass(frozen=True)
class Notice:
    """Something a run tells its user as it happens (the CLI prints it; the default logs it)."""

    level: NoticeLevel
    text: str


NoticeSink = Callable[[Notice], None]


def log_notice(notice: Notice) -> None:
    """The default sink of a library call: planalign's log (a host's logging configuration decides)."""
    if notice.level is NoticeLevel.INFO:
        log.info(notice.text)
    else:
        log.warning(notice.text)


def project_classifies_models(manifest: ProjectManifest) -> bool:
    """True when any model declares `meta: {planalign: {execution: ...}}`."""
    return any("execution" in node.planalign_meta for node in manifest.models())


def build_classifier(manifest: ProjectManifest, default_class: str | None) -> ModelClassifier:
    """The classifier for a generic project (see the module docstring for the default class rule)."""
    from planalign.engine.classification import NO_DEFAULTS, ModelClassifier, ModelExecutionType
    from planalign.simulation.execution_defaults import SIMULATION_EXECUTION_DEFAULTS

    classified = project_classifies_models(manifest)
    if default_class is not None:
        fallback = ModelExecutionType(default_class)
    else:
        fallback = ModelExecutionType.CONDITIONAL if classified else ModelExecutionType.PARALLEL_SAFE
    # The specification's name table describes the simulation project; a foreign project that does not
    # classify its models must not have a model demoted just because of its name.
    return ModelClassifier(fallback, defaults=SIMULATION_EXECUTION_DEFAULTS if classified else NO_DEFAULTS)


def _missing_parents_message(
    analyzer: ModelDependencyAnalyzer, missing: Mapping[str, tuple[str, ...]], location: str
) -> str:
    def name(uid: str) -> str:
        return analyzer.node(uid).name

    listed = "; ".join(
        f"{name(p)} ({analyzer.node(p).resource_type}, read by {', '.join(name(r) for r in readers)})"
        for p, readers in missing.items()
    )
    readers = sorted({name(r) for rs in missing.values() for r in rs})
    models = sorted(name(p) for p in missing if analyzer.node(p).resource_type != "seed")
    fixes = [f"select them as well (`-s {' '.join('+' + r for r in readers)}`)"]
    if models:
        fixes.append(f"build them first (`planalign run -s {' '.join(models)}`)")
    if len(models) < len(missing):
        fixes.append("load the seeds first (`dbt seed`)")
    where = f" ({location})" if location else ""
    return (
        f"{len(missing)} relation(s) the selection reads do not exist in the target database{where}: "
        f"{listed}. dbt run would fail on them too. Fix: {', or '.join(fixes)}."
    )


def built_parents(
    analyzer: ModelDependencyAnalyzer,
    selection: Sequence[str],
    request: RunRequest,
    on_notice: NoticeSink = log_notice,
) -> tuple[str, ...]:
    """The unselected parents of the selection that exist in the target — which `dbt run` treats as built,
    and so do we. A parent that does not exist is a usage error naming it and the fix (dbt would fail on
    it at run time). A target that cannot be inspected (see `TargetRelations`) is trusted, as dbt does."""
    from planalign.dbt.manifest import target_relations

    parents = analyzer.unselected_parents(selection)
    if not parents:
        return ()
    relations = target_relations(request.project_dir, **request.dbt_target)
    if not relations.checked:
        on_notice(
            Notice(
                NoticeLevel.NOTE,
                f"{relations.reason}; the {len(parents)} unselected parents are assumed built, "
                "as dbt run does",
            )
        )
        return tuple(parents)
    missing = {
        p: readers
        for p, readers in parents.items()
        if (rel := analyzer.node(p).relation_name) is not None and not relations.exists(rel)
    }
    if missing:
        raise RunUsageError(_missing_parents_message(analyzer, missing, relations.location))
    return tuple(parents)


@dataclass(frozen=True)
class PreparedRun:
    """A parsed and selected run, ready to execute (`planalign.project_run.execute`). `request` carries the
    batch size chosen; `model_ids` are the selected models the engine runs (ephemeral ones are compiled into
    their readers: `ephemeral`); `built` the unselected parents that exist. `invoker` is None only for a
    selection of nothing (dbt's "Nothing to do")."""

    request: RunRequest
    manifest: ProjectManifest
    analyzer: ModelDependencyAnalyzer
    selected: tuple[str, ...]
    model_ids: tuple[str, ...]
    ephemeral: tuple[str, ...]
    built: tuple[str, ...]
    workers: int
    target_dir: Path
    record: RunRecord
    started_at: datetime
    #: Seconds the parse and the selection took (the CLI's "Running N models ..." line says it).
    prepare_s: float
    invoker: DbtInvoker | None
    settings: EngineSettings | None

    @property
    def nothing_to_do(self) -> bool:
        return not self.selected


def _choose_workers(
    request: RunRequest, manifest: ProjectManifest, on_notice: NoticeSink, *, profile_threads: int
) -> tuple[int, int]:
    """The workers and the batch size (`models_per_invocation`, when the request left it out); on a server
    warehouse, say how a stopped model's query is cancelled.

    Workers: `workers` (`--threads`), else the profile's `threads` (`DBT_THREADS` first), exactly as `dbt
    run` takes them — for a dbt user the profile is an explicit setting, so `planalign.dbt.workers`' rule
    (which picks fewer workers for `simulate` on embedded DuckDB, docs/warehouses.md) does not override it.
    The batch size is chosen by where the SQL runs."""
    from planalign.dbt.workers import adapter_type_of, default_models_per_invocation, is_embedded

    adapter_type = adapter_type_of(manifest.dbt_manifest)
    workers = request.workers or profile_threads
    if not is_embedded(adapter_type):
        on_notice(
            Notice(
                NoticeLevel.NOTE,
                f"{workers} worker(s) on the {adapter_type} server (--threads, else the profile's "
                f"threads); a stopped model's query is cancelled through dbt-{adapter_type}",
            )
        )
    batch = request.models_per_invocation
    return workers, batch if batch is not None else default_models_per_invocation(adapter_type)


def prepare_run(request: RunRequest, *, on_notice: NoticeSink = log_notice) -> PreparedRun:
    """Check the request, parse the project, resolve the selection, choose workers and batch size, check the
    unselected parents and build the invoker. Raises `PlanalignUsageError`s for bad input (nothing
    written)."""
    from planalign.dbt.invoker import FAST_RUN_FLAGS, DbtInvoker
    from planalign.dbt.manifest import parse_project, resolve_selection
    from planalign.engine.graph import ModelDependencyAnalyzer
    from planalign.engine.runner import EngineSettings
    from planalign.project_run.flags import profile_threads

    request.check()
    flags = request.flags
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    manifest = parse_project(request.project_dir, **request.dbt_target, extra_args=flags.parse_args())
    selection = resolve_selection(
        manifest,
        list(request.select),
        list(request.exclude),
        **request.dbt_target,
        extra_args=flags.selection_args(),
    )
    for warning in selection.warnings:
        on_notice(Notice(NoticeLevel.WARNING, warning))
    selected = tuple(selection.unique_ids)
    threads = request.workers or profile_threads(request.project_dir, **request.dbt_target)
    workers, batch = _choose_workers(request, manifest, on_notice, profile_threads=threads)
    request = replace(request, models_per_invocation=batch)
    record = RunRecord(request, workers)
    analyzer = ModelDependencyAnalyzer(manifest, build_classifier(manifest, request.default_class))
    prepared = PreparedRun(
        request=request,
        manifest=manifest,
        analyzer=analyzer,
        selected=selected,
        model_ids=tuple(uid for uid in selected if not analyzer.inlined(uid)),
        ephemeral=tuple(uid for uid in selected if analyzer.inlined(uid)),
        built=(),
        workers=workers,
        target_dir=target_dir(request.project_dir, flags.target_path),
        record=record,
        started_at=started_at,
        prepare_s=0.0,
        invoker=None,
        settings=None,
    )
    if not selected:
        return replace(prepared, prepare_s=time.perf_counter() - started)
    if prepared.ephemeral:
        on_notice(
            Notice(
                NoticeLevel.INFO,
                f"{len(prepared.ephemeral)} ephemeral models are compiled into the models that use them.",
            )
        )
    built = built_parents(analyzer, selected, request, on_notice)
    invoker = DbtInvoker(
        request.project_dir,
        request.profiles_dir,
        request.target,
        manifest,
        dict(request.vars),
        None,
        full_refresh=request.full_refresh,
        profile=request.profile,
        extra_run_flags=(*FAST_RUN_FLAGS, *flags.model_args()),
    )
    if not invoker.supports_concurrency:
        on_notice(Notice(NoticeLevel.WARNING, f"{invoker.isolation.reason}; models will run one at a time"))
    settings = EngineSettings(
        max_workers=workers,
        max_retries_per_model=request.max_retries,
        models_per_invocation=batch,
        fail_fast=request.fail_fast,
    )
    return replace(
        prepared, built=built, invoker=invoker, settings=settings, prepare_s=time.perf_counter() - started
    )
