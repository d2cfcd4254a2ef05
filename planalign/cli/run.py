"""`planalign run`: run the models of any dbt project with the parallel engine, like `dbt run` — the command
line of `planalign.project_run` (`planalign.run_project`), which holds the run itself: the parse and dbt's
selection, the default execution class, the unselected parents check, the hooks, fail-fast and both results
files (`target/run_results.json`, dbt's; `target/planalign_run_results.json`).

This module reads the arguments into a `RunRequest`, prints what the run tells the user (its notices, the
live progress of `planalign.cli.run_display`, the summary) and turns the outcome into an exit status. The
first SIGINT/SIGTERM cancels the run through `planalign.cli._cancel.run_cancellable` — the one cancellation
path of every command — (running queries interrupted), the results are written, and the exit is 130; later
signals are ignored. dbt's other flags: `planalign.cli.run_flags`, docs/run.md. Without `--threads`, the
profile's threads (dbt's rule). A selection of nothing is dbt's "Nothing to do", exit 0.

Exit status: 0 every selected model and hook succeeded (or nothing was selected), 1 any failed or was skipped
(or --fail-fast stopped the run), 2 bad usage (unknown project, unparseable project, invalid selection, bad
--vars, a refused flag, a parent missing from the target, a dbt warning made an error by --warn-error),
130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planalign.cli import run_flags
from planalign.cli._common import ExitStatus
from planalign.cli.run_display import RunProgress, Show, print_summary
from planalign.project_run.request import EXECUTION_CLASS_CHOICES, RunRequest, RunUsageError, artifact_args

if TYPE_CHECKING:
    import signal

    from planalign.project_run import DbtFlags, Notice, PreparedRun, ProjectRunResult

__all__ = ["EXECUTION_CLASS_CHOICES", "RunUsageError", "add_parser", "parse_vars", "run"]

LOG_FORMATS = ("default", "text", "json")


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


def request_from_args(
    args: argparse.Namespace, flags: DbtFlags, dbt_vars: Mapping[str, Any] | None = None
) -> RunRequest:
    """The library's request for these arguments (`--vars` as parsed: `parse_vars`)."""
    return RunRequest(
        project_dir=args.project_dir.resolve(),
        select=tuple(args.select),
        exclude=tuple(args.exclude),
        vars=dict(dbt_vars or {}),
        workers=args.workers,
        target=args.target,
        profile=getattr(args, "profile", None),
        profiles_dir=args.profiles_dir.resolve() if args.profiles_dir is not None else None,
        fail_fast=bool(args.fail_fast),
        full_refresh=bool(args.full_refresh),
        models_per_invocation=args.models_per_invocation,
        default_class=args.default_class,
        max_retries=args.max_retries,
        flags=flags,
        which=getattr(args, "which", "run"),
        log_format=args.log_format,
    )


def _artifact_args(args: argparse.Namespace, dbt_vars: Mapping[str, Any]) -> dict[str, Any]:
    """The flags a run records for `planalign retry` (`planalign.project_run.request.artifact_args`), for
    these arguments. For tests that write such a record by hand."""
    from planalign.project_run import DbtFlags

    return artifact_args(request_from_args(args, DbtFlags(), dbt_vars))


def _printer(show: Show) -> Any:
    """Where the run's notices go: warnings and notes to stderr, progress info to stdout, by log level."""
    from planalign.project_run import NoticeLevel

    def notice(item: Notice) -> None:
        if item.level is NoticeLevel.INFO:
            if show.info:
                print(item.text, file=sys.stdout)
        elif item.level is NoticeLevel.NOTE:
            print(f"note: {item.text}", file=sys.stderr)
        elif show.warn:
            print(f"warning: {item.text}", file=sys.stderr)

    return notice


def configure_output(flags: DbtFlags, log_format: str) -> None:
    """planalign's own log lines (the engine's warnings) in planalign's format, not a library's basicConfig;
    as dbt's console, at the log level asked for (info lines are the progress, not the log's). At debug
    also each invocation: the dbt command line it ran, its models, seconds and outcomes."""
    from planalign.log import PACKAGE_LOGGER, configure_logging
    from planalign.project_run.flags import PYTHON_LOG_LEVELS

    configure_logging(fmt="json" if log_format == "json" else "console", verbose=flags.level == "debug")
    logging.getLogger(PACKAGE_LOGGER).setLevel(
        logging.DEBUG if flags.level == "debug" else PYTHON_LOG_LEVELS[flags.level]
    )


def run(args: argparse.Namespace) -> int:
    from planalign.cli._cancel import run_cancellable
    from planalign.project_run import execute_run, prepare_run
    from planalign.project_run.execute import NOTHING_TO_DO

    out = sys.stdout
    flags = run_flags.flags_from_args(args)
    configure_output(flags, args.log_format)
    show = Show(flags.level)
    request = request_from_args(args, flags)
    request.check()  # before --vars is read, as dbt checks its flags
    request = replace(request, vars=parse_vars(args.vars))
    notice = _printer(show)
    prepared = prepare_run(request, on_notice=notice)
    if prepared.nothing_to_do:
        import anyio

        anyio.run(lambda: execute_run(prepared, on_notice=notice))
        if flags.level in ("debug", "info", "warn"):
            print(NOTHING_TO_DO, file=out)
        return ExitStatus.OK
    progress = RunProgress(
        len(prepared.model_ids), out, json_lines=args.log_format == "json", level=flags.level
    )
    if args.log_format != "json" and show.info:
        print(
            f"Running {len(prepared.model_ids)} models with up to {prepared.workers} workers "
            f"(parsed and selected in {prepared.prepare_s:.1f}s).",
            file=out,
            flush=True,
        )
    results: list[ProjectRunResult] = []
    signals: list[signal.Signals] = []

    def reason() -> str | None:
        return f"the run was interrupted by {signals[0].name}" if signals else None

    async def body() -> None:
        await execute_run(
            prepared, on_event=progress, on_notice=notice, on_finished=results.append, interrupt_reason=reason
        )

    # The live status line is up while hooks and models run, and gone before the summary prints.
    with progress:
        interrupted = run_cancellable(
            body,
            stopping="running queries are interrupted and nothing new starts",
            again="already stopping; writing the results",
            on_signal=signals.append,
        )
    return _report(prepared, results[-1] if results else None, interrupted is not None, reason(), show)


def _report(
    prepared: PreparedRun,
    result: ProjectRunResult | None,
    interrupted: bool,
    reason: str | None,
    show: Show,
) -> int:
    """The hooks' errors, the summary, why the run stopped; the exit status."""
    out = sys.stdout
    if result is None:
        return ExitStatus.INTERRUPTED if interrupted else ExitStatus.FAILURE
    for hook in (h for h in result.hooks if h.status != "success") if show.error else ():
        print(f"ERROR {hook.unique_id}: {(hook.message or '').strip()}", file=out)
    if result.engine is not None:
        models = prepared.manifest.models()
        compiled_dir = prepared.target_dir / "compiled"
        compiled = {
            node.unique_id: _shown(compiled_dir / node.package_name / node.original_file_path, prepared)
            for node in models
            if (compiled_dir / node.package_name / node.original_file_path).is_file()
        }
        paths = {node.unique_id: node.original_file_path for node in models}
        print_summary(result.engine, out, result.planalign_results_path, paths, compiled=compiled, show=show)
    if interrupted:
        if show.error:
            print(f"Stopped: {reason or result.stop_reason}.", file=out)
        return ExitStatus.INTERRUPTED
    if result.failed_fast is not None and show.error:
        print(f"Stopped: {result.stop_reason}.", file=out)
    return ExitStatus.OK if result.success else ExitStatus.FAILURE


def _shown(path: Path, prepared: PreparedRun) -> str:
    """A path as dbt prints it: relative to the project when inside it (dbt's `target/compiled/...`)."""
    try:
        return str(path.relative_to(prepared.request.project_dir))
    except ValueError:
        return str(path)
