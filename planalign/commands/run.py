"""`planalign run`: run the models of any dbt project with the parallel engine, like `dbt run`.

Models only, selected with dbt's own selection syntax. Each model is one in-process dbt invocation, dispatched
as soon as its parents have succeeded. In a project whose models carry no
`meta: {planalign: {execution: ...}}`
the declared dbt graph is the contract — the same assumption `dbt run --threads N` makes — so unclassified
models are PARALLEL_SAFE there; in a project that classifies its models, unclassified ones fall back to the
specification's CONDITIONAL. `--default-class` overrides either default.

Exit status: 0 every selected model succeeded, 1 any failed or was skipped, 2 bad usage (unknown project,
unparseable project, bad selector, bad --vars), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from planalign.errors import PlanalignUsageError

if TYPE_CHECKING:
    from planalign.manifest import ProjectManifest
    from planalign.model_execution_types import ModelClassifier
    from planalign.parallel_execution_engine import EngineEvent
    from planalign.results import EngineRunResult

EXECUTION_CLASS_CHOICES = ("parallel_safe", "sequential", "conditional")


class RunUsageError(PlanalignUsageError):
    """Bad arguments to `planalign run` (missing project, malformed --vars)."""


def add_parser(subparsers: Any) -> None:
    from planalign.parallel_execution_engine import EngineSettings

    parser = subparsers.add_parser(
        "run",
        help="run a dbt project's models in parallel (like `dbt run`)",
        description=(
            "Run the models of any dbt project with planalign's parallel engine: in-process dbt "
            "invocations of one model or a small batch, dispatched as soon as their dependencies succeed. "
            "Selection uses dbt's syntax. Results go to target/planalign_run_results.json."
        ),
    )
    parser.add_argument("--project-dir", type=Path, required=True, help="the dbt project directory")
    parser.add_argument(
        "--profiles-dir",
        type=Path,
        help="directory holding profiles.yml (default: the project's own profiles.yml, else dbt's default)",
    )
    parser.add_argument("--target", help="profile target (default: the profile's default target)")
    parser.add_argument(
        "-s", "--select", nargs="+", action="extend", default=[], help="dbt selectors (default: all models)"
    )
    parser.add_argument("--exclude", nargs="+", action="extend", default=[], help="dbt selectors to exclude")
    parser.add_argument("--vars", default=None, help="dbt vars as a YAML mapping, e.g. '{year: 2025}'")
    parser.add_argument(
        "--workers", type=int, default=4, help="maximum dbt invocations at once (default 4)", metavar="N"
    )
    parser.add_argument(
        "--models-per-invocation",
        type=int,
        default=EngineSettings.models_per_invocation,
        metavar="N",
        help=(
            "largest batch of models one dbt invocation runs, one after another (default "
            f"{EngineSettings.models_per_invocation}; 1: one model per invocation)"
        ),
    )
    parser.add_argument("--full-refresh", action="store_true", help="rebuild incremental models from scratch")
    parser.add_argument(
        "--default-class",
        choices=EXECUTION_CLASS_CHOICES,
        default=None,
        help=(
            "execution class of models without planalign meta (default: parallel_safe when no model in the "
            "project carries planalign meta, else conditional)"
        ),
    )
    parser.add_argument(
        "--max-retries", type=int, default=2, help="retries per failed model (default 2)", metavar="N"
    )
    parser.set_defaults(handler=run)


def parse_vars(text: str | None) -> dict[str, Any]:
    """`--vars` as dbt takes it: a YAML (or JSON) mapping."""
    if text is None or not text.strip():
        return {}
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RunUsageError(f"--vars is not valid YAML: {exc}") from exc
    if not isinstance(value, Mapping):
        raise RunUsageError(f"--vars must be a YAML mapping such as '{{key: value}}', got {text!r}")
    return {str(k): v for k, v in value.items()}


def project_classifies_models(manifest: ProjectManifest) -> bool:
    """True when any model declares `meta: {planalign: {execution: ...}}`."""
    return any("execution" in node.planalign_meta for node in manifest.models())


def build_classifier(manifest: ProjectManifest, default_class: str | None) -> ModelClassifier:
    """The classifier for a generic project (see the module docstring for the default class rule)."""
    from planalign.model_execution_types import ModelClassifier, ModelExecutionType

    classified = project_classifies_models(manifest)
    if default_class is not None:
        fallback = ModelExecutionType(default_class)
    else:
        fallback = ModelExecutionType.CONDITIONAL if classified else ModelExecutionType.PARALLEL_SAFE
    # The specification's built-in name table describes the simulation project; a foreign project that does
    # not classify its models must not have a model demoted just because of its name.
    return ModelClassifier(fallback, builtin_defaults=classified)


class RunProgress:
    """One line per finished model (and per retry), safe to call from any thread."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stdout
        self.done = 0
        self._lock = threading.Lock()

    def __call__(self, event: EngineEvent) -> None:
        from planalign.parallel_execution_engine import EngineEventKind

        with self._lock:
            name = event.name or (event.unique_id or "").rsplit(".", 1)[-1]
            if event.kind is EngineEventKind.MODEL_FINISHED:
                self.done += 1
                status = str(event.status.value if event.status is not None else "?").upper()
                duration = f"{event.duration_s:.2f}s" if event.duration_s is not None else "-"
                line = (
                    f"[{event.time:7.1f}s] {self.done:>4}/{self.total} {status:<9} {name} in {duration}"
                    f" (in flight {event.in_flight} in {event.invocations} invocations, limit {event.limit})"
                )
                if event.message and status != "SUCCESS":
                    line += "\n    " + event.message.strip().replace("\n", "\n    ")
            elif event.kind is EngineEventKind.MODEL_SKIPPED:
                self.done += 1
                line = f"[{event.time:7.1f}s] {self.done:>4}/{self.total} SKIPPED   {name}"
                if event.message:
                    line += f" ({event.message})"
            elif event.kind is EngineEventKind.MODEL_RETRY:
                line = f"[{event.time:7.1f}s]           RETRY     {name} (attempt {event.attempt})"
            elif event.kind in (EngineEventKind.PRESSURE, EngineEventKind.LIMIT_CHANGED):
                line = f"[{event.time:7.1f}s] workers limited to {event.limit}: {event.message or event.kind}"
            elif event.kind is EngineEventKind.FALLBACK:
                line = f"[{event.time:7.1f}s] fallback: {event.message}"
            else:
                return
            print(line, file=self.stream, flush=True)


def print_summary(result: EngineRunResult, stream: TextIO, results_path: Path) -> None:
    counts = result.counts()
    parts = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    print(
        f"\nDone in {result.wall_time_s:.1f}s: {parts or 'nothing ran'} in {result.invocations} dbt "
        f"invocations. Model time {result.summed_model_time_s:.1f}s; "
        f"parallelism mean {result.parallelism_mean:.2f}, "
        f"peak {result.parallelism_max} (limit {result.max_workers}); "
        f"graph speedup bound {result.theoretical_speedup:.2f}x.",
        file=stream,
    )
    for fallback in result.fallbacks:
        print(f"fallback: {fallback}", file=stream)
    for failed in result.failed:
        print(f"ERROR {failed.unique_id}: {(failed.error or '').strip()}", file=stream)
    print(f"Results: {results_path}", file=stream)


def run(args: argparse.Namespace) -> int:
    import anyio

    from planalign.dbt_invoker import DbtInvoker
    from planalign.manifest import parse_project, select_models
    from planalign.model_dependency_analyzer import ModelDependencyAnalyzer
    from planalign.parallel_execution_engine import EngineSettings, ParallelExecutionEngine
    from planalign.results import RUN_RESULTS_FILENAME, write_run_results

    out = sys.stdout
    project_dir: Path = args.project_dir.resolve()
    if not (project_dir / "dbt_project.yml").is_file():
        raise RunUsageError(f"{args.project_dir} is not a dbt project (no dbt_project.yml)")
    if args.workers < 1:
        raise RunUsageError(f"--workers must be at least 1, got {args.workers}")
    if args.models_per_invocation < 1:
        raise RunUsageError(f"--models-per-invocation must be at least 1, got {args.models_per_invocation}")
    if args.max_retries < 0:
        raise RunUsageError(f"--max-retries must be 0 or more, got {args.max_retries}")
    dbt_vars = parse_vars(args.vars)
    profiles_dir = args.profiles_dir.resolve() if args.profiles_dir is not None else None

    started = time.perf_counter()
    manifest = parse_project(project_dir, profiles_dir=profiles_dir, target=args.target, vars=dbt_vars)
    model_ids = select_models(
        manifest, args.select, args.exclude, profiles_dir=profiles_dir, target=args.target, vars=dbt_vars
    )
    if not model_ids:
        print("Nothing to run: the selection contains no models.", file=out)
        return 0
    classifier = build_classifier(manifest, args.default_class)
    analyzer = ModelDependencyAnalyzer(manifest, classifier)
    runnable = [uid for uid in model_ids if not analyzer.inlined(uid)]
    if len(runnable) < len(model_ids):
        inlined = len(model_ids) - len(runnable)
        print(f"{inlined} ephemeral models are compiled into the models that use them.", file=out)
    model_ids = runnable
    if not model_ids:
        print("Nothing to run: the selection contains only ephemeral models.", file=out)
        return 0
    invoker = DbtInvoker(
        project_dir, profiles_dir, args.target, manifest, dbt_vars, None, full_refresh=args.full_refresh
    )
    if not invoker.supports_concurrency:
        print(f"warning: {invoker.isolation.reason}; models will run one at a time", file=sys.stderr)
    settings = EngineSettings(
        max_workers=args.workers,
        max_retries_per_model=args.max_retries,
        models_per_invocation=args.models_per_invocation,
    )
    progress = RunProgress(len(model_ids), out)
    engine = ParallelExecutionEngine(analyzer, invoker, settings, on_event=progress)
    print(
        f"Running {len(model_ids)} models with up to {args.workers} workers "
        f"(parsed and selected in {time.perf_counter() - started:.1f}s).",
        file=out,
        flush=True,
    )
    results_path = project_dir / "target" / RUN_RESULTS_FILENAME

    async def _execute() -> EngineRunResult:
        return await engine.execute(model_ids, vars={}, label="run")

    try:
        result = anyio.run(_execute)
    except KeyboardInterrupt:
        if engine.last_result is not None:
            write_run_results(results_path, engine.last_result)
            print_summary(engine.last_result, out, results_path)
        raise
    write_run_results(results_path, result)
    print_summary(result, out, results_path)
    return 0 if result.success else 1
