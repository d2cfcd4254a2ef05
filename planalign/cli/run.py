"""`planalign run`: run the models of any dbt project with the parallel engine, like `dbt run`.

Models only, selected with dbt's own selection syntax. Each model is one in-process dbt invocation, dispatched
as soon as its parents have succeeded. In a project whose models carry no
`meta: {planalign: {execution: ...}}`
the declared dbt graph is the contract — the same assumption `dbt run --threads N` makes — so unclassified
models are PARALLEL_SAFE there; in a project that classifies its models, unclassified ones fall back to the
specification's CONDITIONAL. `--default-class` overrides either default.

As `dbt run` does, unselected parents that exist in the target count as built (one that does not is a usage
error naming the fix), project hooks run once per run (`planalign.dbt.project_hooks`), and dbt's
`target/run_results.json` is replaced (`planalign.dbt.run_results`). The first SIGINT/SIGTERM cancels the
engine
(running queries interrupted), the results are written, and the exit is 130; later signals are ignored.

dbt's other flags (`--selector`, `--state`, `--empty`, `--target-path`, `--warn-error`, `-q`, ...) go to the
dbt calls where dbt applies them, or are refused (deferral): `planalign.cli.run_flags`, docs/run.md. Without
`--threads`, the profile's threads (dbt's rule). A selection of nothing is dbt's "Nothing to do", exit 0.

Exit status: 0 every selected model and hook succeeded (or nothing was selected), 1 any failed or was skipped
(or --fail-fast stopped the run), 2 bad usage (unknown project, unparseable project, invalid selection, bad
--vars, a refused flag, a parent missing from the target, a dbt warning made an error by --warn-error),
130 interrupted.

Why it is long: it is `dbt run`'s whole command-line contract — every flag and what dbt means by it, the
parents check, the hooks around the engine, signals, and both results files — in the order a run goes
through them; its display is `planalign.cli.run_display`.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from planalign.cli import run_flags
from planalign.cli._common import ExitStatus
from planalign.cli.run_display import RunProgress, Show, print_summary
from planalign.errors import PlanalignUsageError

if TYPE_CHECKING:
    from planalign.dbt.run_results import NodeRun
    from planalign.engine.classification import ModelClassifier
    from planalign.engine.graph import ModelDependencyAnalyzer
    from planalign.engine.nodes import ProjectManifest
    from planalign.engine.results import EngineRunResult
    from planalign.engine.runner import ParallelExecutionEngine


EXECUTION_CLASS_CHOICES = ("parallel_safe", "sequential", "conditional")
LOG_FORMATS = ("default", "text", "json")


class RunUsageError(PlanalignUsageError):
    """Bad arguments to `planalign run` (missing project, malformed --vars)."""


def add_parser(subparsers: Any) -> None:
    from planalign.engine.runner import EngineSettings

    parser = subparsers.add_parser(
        "run",
        help="run a dbt project's models in parallel (like `dbt run`)",
        description=(
            "Run the models of any dbt project with planalign's parallel engine: in-process dbt "
            "invocations of one model or a small batch, dispatched as soon as their dependencies succeed. "
            "Selection uses dbt's syntax. Results go to target/run_results.json (dbt's) and "
            "target/planalign_run_results.json."
        ),
    )
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=Path("."),
        help="the dbt project directory (default: the current directory, as for dbt)",
    )
    parser.add_argument(
        "--profiles-dir",
        type=Path,
        help="directory holding profiles.yml (default: the project's own profiles.yml, else dbt's default)",
    )
    parser.add_argument(
        "--profile",
        help="profile in profiles.yml to use instead of the one dbt_project.yml names (dbt's --profile)",
    )
    parser.add_argument("--target", help="profile target (default: the profile's default target)")
    parser.add_argument(
        "-s",
        "--select",
        "-m",
        "--models",
        dest="select",
        nargs="+",
        action="extend",
        default=[],
        help="dbt selectors (default: all models); -m/--models is dbt's older name for it",
    )
    parser.add_argument("--exclude", nargs="+", action="extend", default=[], help="dbt selectors to exclude")
    parser.add_argument("--vars", default=None, help="dbt vars as a YAML mapping, e.g. '{year: 2025}'")
    parser.add_argument(
        "--workers",
        "--threads",
        dest="workers",
        type=int,
        default=None,
        help="most dbt invocations at once (default: the profile's threads, as dbt); --threads: dbt's name",
        metavar="N",
    )
    parser.add_argument(
        "--fail-fast",
        "-x",
        action="store_true",
        help="stop at the first failed model: running queries are interrupted, nothing new starts",
    )
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default="default",
        help="progress as text lines (default/text) or one JSON object per event (json)",
    )
    parser.add_argument(
        "--models-per-invocation",
        type=int,
        default=None,
        metavar="N",
        help=(
            "largest batch of models one dbt invocation runs, one after another (default "
            f"{EngineSettings.models_per_invocation} on embedded DuckDB, 1 on a server warehouse; "
            "1: one model per invocation)"
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
    run_flags.add_arguments(parser)
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


@dataclass
class _Stop:
    """Why the run is ending early, and how to stop what is running now (the signal handler's state).

    `cancel` is set while something can be cancelled: the engine's scope while it runs, DuckDB's query
    nothing after it (the end hooks finish, then the exit is 130); before the engine starts a first signal
    raises KeyboardInterrupt."""

    signal: int | None = None
    fail_fast: str | None = None
    cancel: Callable[[], object] | None = None

    @property
    def reason(self) -> str:
        if self.signal is not None:
            return f"the run was interrupted by {signal.Signals(self.signal).name}"
        return f"--fail-fast after {self.fail_fast} failed" if self.fail_fast else "the run was cancelled"


def _install_signal_handlers(stop: _Stop, err: TextIO) -> dict[int, Any]:
    """SIGINT/SIGTERM: the first stops the run (see `_Stop`); later ones only say that it is stopping, so a
    second Ctrl-C or a supervisor's repeated SIGTERM cannot kill the clean-up half-way. Only the main thread
    may install handlers; elsewhere (an embedding host) nothing is installed and the host decides."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if stop.signal is not None:
            print(f"{name}: already stopping; writing the results", file=err, flush=True)
            return
        stop.signal = signum
        print(
            f"\n{name}: stopping; running queries are interrupted and nothing new starts",
            file=err,
            flush=True,
        )
        if stop.cancel is None:
            raise KeyboardInterrupt
        stop.cancel()

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}


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
    *,
    project_dir: Path,
    profiles_dir: Path | None,
    target: str | None,
    vars: Mapping[str, Any],
    err: TextIO,
    profile: str | None = None,
) -> tuple[str, ...]:
    """The unselected parents of the selection that exist in the target — which `dbt run` treats as built,
    and so do we. A parent that does not exist is a usage error naming it and the fix (dbt would fail on
    it at run time). A target that cannot be inspected (see `TargetRelations`) is trusted, as dbt does."""
    from planalign.dbt.manifest import target_relations

    parents = analyzer.unselected_parents(selection)
    if not parents:
        return ()
    relations = target_relations(
        project_dir, profiles_dir=profiles_dir, target=target, vars=vars, profile=profile
    )
    if not relations.checked:
        print(
            f"note: {relations.reason}; the {len(parents)} unselected parents are assumed built, "
            "as dbt run does",
            file=err,
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


def _choose_workers(
    args: argparse.Namespace, manifest: ProjectManifest, err: TextIO, *, profile_threads: int
) -> int:
    """The workers to run with, and `--models-per-invocation` filled in when the user left it out; on a
    server warehouse, say how a stopped model's query is cancelled. `args.workers` stays what the user typed
    (None without `--threads`), as dbt's recorded `args` carry `threads` only when it was given.

    Workers: `--threads`, else the profile's `threads` (`DBT_THREADS` first), exactly as `dbt run` takes
    them — for a dbt user the profile is an explicit setting, so `planalign.dbt.workers`' rule (which picks
    fewer workers for `simulate` on embedded DuckDB, docs/warehouses.md) does not override it. The batch
    size (models per invocation) is still chosen by where the SQL runs."""
    from planalign.dbt.workers import adapter_type_of, default_models_per_invocation, is_embedded

    adapter_type = adapter_type_of(manifest.dbt_manifest)
    workers = args.workers or profile_threads
    if not is_embedded(adapter_type):
        print(
            f"note: {workers} worker(s) on the {adapter_type} server (--threads, else the profile's "
            f"threads); a stopped model's query is cancelled through dbt-{adapter_type}",
            file=err,
        )
    if args.models_per_invocation is None:
        args.models_per_invocation = default_models_per_invocation(adapter_type)
    return workers


def _target_dir(project_dir: Path, target_path: str | None = None) -> Path:
    """dbt's target-path (`--target-path`, else dbt_project.yml `target-path`, default `target`; relative to
    the project, as dbt joins it), where artifacts go."""
    import yaml

    config = yaml.safe_load((project_dir / "dbt_project.yml").read_text()) or {}
    configured = target_path or (config.get("target-path") if isinstance(config, Mapping) else None)
    path = Path(str(configured)) if configured else Path("target")
    return path if path.is_absolute() else project_dir / path


def run(args: argparse.Namespace) -> int:
    from planalign.dbt.invoker import FAST_RUN_FLAGS, DbtInvoker
    from planalign.dbt.manifest import dbt_common_args, parse_project, resolve_selection
    from planalign.dbt.run_results import remove_stale
    from planalign.engine.graph import ModelDependencyAnalyzer
    from planalign.engine.runner import EngineSettings, ParallelExecutionEngine
    from planalign.log import PACKAGE_LOGGER, configure_logging

    out, err = sys.stdout, sys.stderr
    flags = run_flags.DbtFlags.from_args(args)
    # planalign's own log lines (the engine's warnings) in planalign's format, not a library's basicConfig;
    # as dbt's console, at the log level asked for (info lines are the progress below, not the log's).
    configure_logging(fmt="json" if args.log_format == "json" else "console", verbose=flags.level == "debug")
    if flags.level != "debug":
        logging.getLogger(PACKAGE_LOGGER).setLevel(run_flags.PYTHON_LOG_LEVELS[flags.level])
    show = Show(flags.level)
    project_dir: Path = args.project_dir.resolve()
    if not (project_dir / "dbt_project.yml").is_file():
        raise RunUsageError(f"{args.project_dir} is not a dbt project (no dbt_project.yml)")
    if args.workers is not None and args.workers < 1:
        raise RunUsageError(f"--workers/--threads must be at least 1, got {args.workers}")
    if args.models_per_invocation is not None and args.models_per_invocation < 1:
        raise RunUsageError(f"--models-per-invocation must be at least 1, got {args.models_per_invocation}")
    if args.max_retries < 0:
        raise RunUsageError(f"--max-retries must be 0 or more, got {args.max_retries}")
    flags.check(project_dir)
    dbt_vars = parse_vars(args.vars)
    profiles_dir = args.profiles_dir.resolve() if args.profiles_dir is not None else None
    # Every dbt call of the run (parse, ls, the models, the hooks) and the parents check use one profile.
    profile: str | None = getattr(args, "profile", None)
    dbt_target = {"profiles_dir": profiles_dir, "target": args.target, "vars": dbt_vars, "profile": profile}

    started_at = datetime.now(UTC)
    started = time.perf_counter()
    manifest = parse_project(project_dir, **dbt_target, extra_args=flags.parse_args())
    selection = resolve_selection(
        manifest, args.select, args.exclude, **dbt_target, extra_args=flags.selection_args()
    )
    if show.warn:
        for warning in selection.warnings:
            print(f"warning: {warning}", file=err)
    selected = list(selection.unique_ids)
    target_dir = _target_dir(project_dir, flags.target_path)
    workers = _choose_workers(
        args,
        manifest,
        err,
        profile_threads=args.workers or run_flags.profile_threads(project_dir, **dbt_target),
    )
    record = run_flags.RunRecord(args, flags, project_dir, profiles_dir, dbt_vars, workers)
    classifier = build_classifier(manifest, args.default_class)
    analyzer = ModelDependencyAnalyzer(manifest, classifier)
    if not selected:
        return run_flags.nothing_to_do(
            manifest, record, target_dir, started_at, warn_error=flags.warn_error, out=out
        )
    model_ids = [uid for uid in selected if not analyzer.inlined(uid)]
    if len(model_ids) < len(selected) and show.info:
        inlined = len(selected) - len(model_ids)
        print(f"{inlined} ephemeral models are compiled into the models that use them.", file=out)
    built = built_parents(analyzer, selected, project_dir=project_dir, err=err, **dbt_target)
    invoker = DbtInvoker(
        project_dir,
        profiles_dir,
        args.target,
        manifest,
        dbt_vars,
        None,
        full_refresh=args.full_refresh,
        profile=profile,
        extra_run_flags=(*FAST_RUN_FLAGS, *flags.model_args()),
    )
    if not invoker.supports_concurrency and show.warn:
        print(f"warning: {invoker.isolation.reason}; models will run one at a time", file=err)
    settings = EngineSettings(
        max_workers=workers,
        max_retries_per_model=args.max_retries,
        models_per_invocation=args.models_per_invocation,
    )
    stop = _Stop()
    progress = RunProgress(len(model_ids), out, json_lines=args.log_format == "json", level=flags.level)
    remove_stale(target_dir)
    previous = _install_signal_handlers(stop, err)
    try:
        engine = ParallelExecutionEngine(analyzer, invoker, settings, on_event=progress)
        if args.log_format != "json" and show.info:
            print(
                f"Running {len(model_ids)} models with up to {workers} workers "
                f"(parsed and selected in {time.perf_counter() - started:.1f}s).",
                file=out,
                flush=True,
            )
        return _execute(
            args,
            manifest=manifest,
            engine=engine,
            model_ids=model_ids,
            built=built,
            stop=stop,
            progress=progress,
            common_args=[*dbt_common_args(project_dir, **dbt_target), *flags.hook_args()],
            selectors=[DbtInvoker.selector_for(analyzer.node(uid)) for uid in selected],
            ephemeral=[uid for uid in selected if analyzer.inlined(uid)],
            target_dir=target_dir,
            started_at=started_at,
            record=record,
            show=show,
        )
    finally:
        # After a signal the process is on its way out (exit 130). Python resets its own handlers to the
        # default during interpreter shutdown, so a repeated SIGTERM then would kill the process: the
        # signals are ignored from here on (SIG_IGN survives the shutdown). Otherwise the caller's return.
        for sig, handler in previous.items():
            signal.signal(sig, handler if stop.signal is None else signal.SIG_IGN)


def _execute(
    args: argparse.Namespace,
    *,
    manifest: ProjectManifest,
    engine: ParallelExecutionEngine,
    model_ids: list[str],
    ephemeral: list[str],
    built: tuple[str, ...],
    stop: _Stop,
    progress: RunProgress,
    common_args: list[str],
    selectors: list[str],
    target_dir: Path,
    started_at: datetime,
    record: run_flags.RunRecord,
    show: Show,
) -> int:
    """Hooks, engine, hooks — as one `dbt run` — then dbt's run_results.json and planalign's own results,
    written whatever happened (success, failure, interrupt, or an error escaping). The artifact's
    `elapsed_time` counts from here, as dbt's counts from its hooks: the parse and selection are not in it."""
    import anyio

    from planalign.dbt import isolation as dbt_isolation
    from planalign.dbt.run_results import build_document, write
    from planalign.engine.results import RUN_RESULTS_FILENAME, write_run_results

    out = sys.stdout
    before: list[NodeRun] = []
    after: list[NodeRun] = []
    result: EngineRunResult | None = None

    engine.on_event = progress
    started = time.perf_counter()

    async def _engine() -> EngineRunResult | None:
        import asyncio

        loop = asyncio.get_running_loop()
        scope = anyio.CancelScope()
        stop.cancel = lambda: loop.call_soon_threadsafe(scope.cancel)
        try:
            with scope:
                if stop.signal is not None:
                    scope.cancel()
                # The engine fails fast itself: the first final failure stops the rest of its batch too.
                return await engine.execute(
                    model_ids, vars={}, label="run", already_built=built, fail_fast=bool(args.fail_fast)
                )
            return None
        finally:
            # After the engine: a first signal lets the end hooks (short statements) finish, then exits 130.
            stop.cancel = lambda: None

    from planalign.dbt.project_hooks import end_hook_extras, run_project_hooks

    try:
        # The live status line is up while hooks and models run, and gone before the summary prints.
        with progress, dbt_isolation.suppress_project_hooks(manifest.dbt_manifest):
            before = run_project_hooks(
                "on-run-start", manifest, common_args, selectors, full_refresh=args.full_refresh
            )
            result = anyio.run(_engine) or engine.last_result
            if stop.signal is None:
                after = run_project_hooks(
                    "on-run-end",
                    manifest,
                    common_args,
                    selectors,
                    full_refresh=args.full_refresh,
                    extras=end_hook_extras(manifest, result),
                )
    except KeyboardInterrupt:
        if stop.signal is None:
            stop.signal = signal.SIGINT
    finally:
        result = result or engine.last_result
        if result is not None and result.failed_fast is not None and stop.signal is None:
            stop.fail_fast = manifest.nodes[result.failed_fast].name
        document = build_document(
            manifest,
            result=result,
            started_at=started_at,
            elapsed_s=time.perf_counter() - started,
            args=record.dbt_args(manifest),
            before=before,
            after=after,
            cancel_reason=stop.reason,
            invocation_id=record.invocation_id,
            ephemeral=ephemeral,
        )
        write(target_dir, document)
        if result is not None:
            write_run_results(target_dir / RUN_RESULTS_FILENAME, result, args=record.planalign_args())
    hooks_failed = [r for r in (*before, *after) if r.status != "success"]
    for hook in hooks_failed if show.error else ():
        print(f"ERROR {hook.unique_id}: {(hook.message or '').strip()}", file=out)
    if result is not None:
        paths = {node.unique_id: node.original_file_path for node in manifest.models()}
        compiled = {
            node.unique_id: _shown(
                target_dir / "compiled" / node.package_name / node.original_file_path, args
            )
            for node in manifest.models()
            if (target_dir / "compiled" / node.package_name / node.original_file_path).is_file()
        }
        print_summary(result, out, target_dir / RUN_RESULTS_FILENAME, paths, compiled=compiled, show=show)
    if stop.signal is not None:
        if show.error:
            print(f"Stopped: {stop.reason}.", file=out)
        return ExitStatus.INTERRUPTED
    if stop.fail_fast is not None and show.error:
        print(f"Stopped: {stop.reason}.", file=out)
    ok = result is not None and result.success and not hooks_failed and not stop.fail_fast
    return ExitStatus.OK if ok else ExitStatus.FAILURE


def _shown(path: Path, args: argparse.Namespace) -> str:
    """A path as dbt prints it: relative to the project when inside it (dbt's `target/compiled/...`)."""
    try:
        return str(path.relative_to(args.project_dir.resolve()))
    except ValueError:
        return str(path)


def _artifact_args(args: argparse.Namespace, dbt_vars: Mapping[str, Any]) -> dict[str, Any]:
    """The flags `planalign retry` reads back from a run: dbt's `args` of run_results.json (`which` to
    `profile`) merged with planalign's own from planalign_run_results.json (`RunRecord.planalign_args`), so
    that it runs the failed models again exactly as this run ran them — with the same `--vars`, which
    `dbt retry` gets wrong (dbt-labs/dbt-core#9112). For tests that write such a record by hand."""
    return {
        "which": getattr(args, "which", "run"),
        "invocation_command": "planalign " + " ".join(sys.argv[1:]),
        "project_dir": str(args.project_dir.resolve()),
        "select": list(args.select),
        "exclude": list(args.exclude),
        # the effective count: `--threads`, else dbt's default of 1 (the profile is not read here)
        "threads": args.workers if args.workers is not None else 1,
        "full_refresh": bool(args.full_refresh),
        "fail_fast": bool(args.fail_fast),
        "vars": dict(dbt_vars),
        "target": args.target,
        "profile": getattr(args, "profile", None),
        "profiles_dir": str(args.profiles_dir.resolve()) if args.profiles_dir is not None else None,
        "log_format": args.log_format,
        "models_per_invocation": args.models_per_invocation,
        "default_class": args.default_class,
        "max_retries": args.max_retries,
    }
