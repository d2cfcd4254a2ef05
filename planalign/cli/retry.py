"""`planalign retry`: run again the models that failed or were skipped in the last `planalign run`.

Reads the project's `target/run_results.json`, which `planalign run` writes with every flag it ran with
(`planalign.project_run.request.artifact_args`), and runs `planalign run` over the models listed there
as `error` or `skipped`, with the same `--vars`, target, profiles directory, threads, batch size,
retries, execution-class default, `--full-refresh`, `--fail-fast`, log format and dbt's pass-through flags
(`--empty`, `--log-level`, `-q`, `--[no-]partial-parse`, `--target-path`, `--warn-error[-options]`: what
`planalign.project_run.flags.RETRIED_FLAGS` names; not the selection flags, as the failed models are
selected by name). A run with `--target-path` wrote its files there: retry takes the same `--target-path`
to find them, as `dbt retry` does. The models that
succeeded are not run again: they exist in the target, so they count as built parents, as in `dbt run`.

Why not `dbt retry`: it re-runs with the vars of its own command line rather than those of the run it
retries (dbt-labs/dbt-core#9112), so a run parameterised with `--vars` is retried with different (usually
default) values. Here the recorded vars are the only ones used; `retry` takes no `--vars`.

The retry writes run_results.json again, like any `planalign run` (its `which` is `retry`, its selection
the retried models), so a second `planalign retry` picks up whatever still failed. Models are selected by
name (dbt's unqualified selector), which in a project with packages matches a model of that name in every
package. Exit statuses are `planalign run`'s; 0 with nothing to retry.

run_results.json is a file anyone can edit, so it is checked before anything runs (`check_document`): it
must be the object `planalign run` writes, each result with a text `unique_id` and a known `status`, and
every model to retry a plain `model.<package>.<name>` — a name with selector syntax in it (`+m020`,
`tag:x`, `a b`) would make dbt select other models, so it is refused, not passed on. The project run is
always the `--project-dir` given: the `project_dir` recorded in the file (of a project since moved or
copied, or edited) is only mentioned when it differs. Every problem is exit status 2 naming the file.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from planalign.errors import PlanalignUsageError

#: run_results.json statuses of a model that did not build.
RETRIED_STATUSES = ("error", "skipped", "fail", "runtime error")
#: Every status dbt's run_results.json schema (v6) gives a result.
KNOWN_STATUSES = frozenset(
    {"success", "error", "skipped", "fail", "runtime error", "pass", "warn", "no-op", "partial success"}
)
#: A model's unique_id, as dbt writes it: `model.<package>.<name>`, or `model.<package>.<name>.v<N>`.
MODEL_UNIQUE_ID = re.compile(r"model\.[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z0-9_][A-Za-z0-9_-]*(?:\.v[0-9]+)?")


class RetryUsageError(PlanalignUsageError):
    """Nothing to retry from: no run_results.json, or one that `planalign run` did not write."""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "retry",
        help="run again what failed in the last `planalign run`, with the same vars and flags",
        description=(
            "Run again the models that failed or were skipped in the last `planalign run` of the project, "
            "read from its target/run_results.json, with that run's --vars and flags (unlike dbt retry, "
            "which takes the vars of its own command line, dbt-labs/dbt-core#9112)."
        ),
    )
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=Path("."),
        help="the dbt project directory (default: the current directory, as for dbt)",
    )
    parser.add_argument(
        "--target-path",
        default=None,
        help="where the run to retry wrote its artifacts, if it was given --target-path (default: the "
        "project's target-path)",
    )
    parser.set_defaults(handler=handle)


def _model_name(unique_id: str) -> str:
    """`model.pkg.orders` → `orders`; a versioned `model.pkg.orders.v2` → `orders.v2` (dbt's selector)."""
    return ".".join(unique_id.split(".")[2:])


def _optional_text(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _whole(minimum: int) -> Callable[[Any], bool]:
    return lambda value: type(value) is int and value >= minimum


#: The recorded flags retry uses (`planalign.project_run.request.artifact_args`), and what each must be.
_ARGS: Mapping[str, tuple[str, Callable[[Any], bool]]] = {
    "threads": ("a whole number of at least 1", _whole(1)),
    "models_per_invocation": ("a whole number of at least 1", _whole(1)),
    "max_retries": ("a whole number from 0", lambda v: v is None or _whole(0)(v)),
    "vars": ("an object of dbt vars", lambda v: v is None or isinstance(v, dict)),
    "target": ("a text", _optional_text),
    "profile": ("a text", _optional_text),
    "profiles_dir": ("a directory path", _optional_text),
    "log_format": ("a text", _optional_text),
    "default_class": ("a text", _optional_text),
    "full_refresh": ("true or false", lambda v: v is None or isinstance(v, bool)),
    "fail_fast": ("true or false", lambda v: v is None or isinstance(v, bool)),
}


def _check_dbt_flags(recorded: Any) -> str | None:
    """What is wrong with a recorded `dbt_flags` object (`DbtFlags.retried`), or None. A record without one
    (an older run) retries with none of them."""
    from planalign.project_run.flags import LOG_LEVELS, RETRIED_FLAGS

    if recorded is None:
        return None
    if not isinstance(recorded, dict):
        return f"args.dbt_flags must be an object of flags, got {recorded!r}"
    expected: dict[str, tuple[str, Callable[[Any], bool]]] = {
        "empty": ("true or false", lambda v: isinstance(v, bool)),
        "quiet": ("true or false", lambda v: isinstance(v, bool)),
        "warn_error": ("true or false", lambda v: isinstance(v, bool)),
        "partial_parse": ("true, false or null", lambda v: v is None or isinstance(v, bool)),
        "log_level": (f"one of {', '.join(LOG_LEVELS)} or null", lambda v: v is None or v in LOG_LEVELS),
        "target_path": ("a text or null", _optional_text),
        "warn_error_options": ("a text or null", _optional_text),
    }
    for key in recorded:
        if key not in RETRIED_FLAGS:
            return (
                f"args.dbt_flags has {key!r}, which is not a flag retry carries ({', '.join(RETRIED_FLAGS)})"
            )
    for key, (what, valid) in expected.items():
        if key in recorded and not valid(recorded[key]):
            return f"args.dbt_flags.{key} must be {what}, got {recorded[key]!r}"
    return None


def check_document(document: Any, source: Path) -> list[str]:
    """Check a run_results.json as parsed JSON; the unique_ids of the models to retry, or `RetryUsageError`
    naming the file and the first thing that is not what `planalign run` writes."""

    def refuse(problem: str) -> RetryUsageError:
        return RetryUsageError(
            f"{source}: {problem}"[:400] + "; run `planalign run` again to write a new one"
        )

    if not isinstance(document, dict):
        raise refuse(f"must hold a JSON object, found {type(document).__name__}")
    recorded = document.get("args")
    if not isinstance(recorded, dict) or "models_per_invocation" not in recorded:
        raise RetryUsageError(
            f"{source} was not written by `planalign run` (it does not record the run's flags); "
            "run `planalign run` first"
        )
    for key, (expected, valid) in _ARGS.items():
        if not valid(recorded.get(key)):
            raise refuse(f"args.{key} must be {expected}, got {recorded.get(key)!r}")
    flags_problem = _check_dbt_flags(recorded.get("dbt_flags"))
    if flags_problem is not None:
        raise refuse(flags_problem)
    results = document.get("results")
    if not isinstance(results, list):
        raise refuse(f"'results' must be a list of results, found {type(results).__name__}")
    failed: list[str] = []
    for index, row in enumerate(results):
        if not isinstance(row, dict):
            raise refuse(f"results[{index}] must be an object, found {type(row).__name__}")
        unique_id, status = row.get("unique_id"), row.get("status")
        if not isinstance(unique_id, str) or not unique_id:
            raise refuse(f"results[{index}] has no unique_id (a text), got {unique_id!r}")
        if not isinstance(status, str) or status not in KNOWN_STATUSES:
            raise refuse(
                f"results[{index}] ({unique_id!r}) has status {status!r}, which dbt does not write (one of "
                f"{', '.join(sorted(KNOWN_STATUSES))})"
            )
        if not unique_id.startswith("model.") or status not in RETRIED_STATUSES:
            continue
        if not MODEL_UNIQUE_ID.fullmatch(unique_id):
            raise refuse(
                f"results[{index}] has unique_id {unique_id!r}, which is not a model's "
                "(`model.<package>.<name>`: letters, digits, '_' and '-'); it is not passed on as a selector"
            )
        failed.append(unique_id)
    return failed


def retry_namespace(
    document: dict[str, Any], source: Path, project_dir: Path | None = None
) -> argparse.Namespace | None:
    """The `planalign run` arguments that retry the run `document` records, in `project_dir` (default: the
    one recorded); None when every model built. `RetryUsageError` when the document is not one `planalign
    run` wrote (`check_document`)."""
    failed = [_model_name(unique_id) for unique_id in check_document(document, source)]
    if not failed:
        return None
    recorded = document["args"]
    if project_dir is None:
        if not isinstance(recorded.get("project_dir"), str):
            raise RetryUsageError(f"{source}: args.project_dir must be the project's path")
        project_dir = Path(recorded["project_dir"])
    profiles_dir = recorded.get("profiles_dir")
    dbt_vars = recorded.get("vars") or {}
    return argparse.Namespace(
        which="retry",
        project_dir=project_dir,
        profiles_dir=Path(str(profiles_dir)) if profiles_dir else None,
        target=recorded.get("target"),
        profile=recorded.get("profile"),
        select=sorted(set(failed)),
        exclude=[],
        vars=json.dumps(dbt_vars) if dbt_vars else None,
        workers=int(recorded["threads"]),
        fail_fast=bool(recorded.get("fail_fast")),
        log_format=recorded.get("log_format") or "default",
        models_per_invocation=int(recorded["models_per_invocation"]),
        full_refresh=bool(recorded.get("full_refresh")),
        default_class=recorded.get("default_class"),
        max_retries=int(recorded.get("max_retries") if recorded.get("max_retries") is not None else 2),
        **(recorded.get("dbt_flags") or {}),
    )


def _read(path: Path) -> Any:
    """run_results.json as parsed JSON, or `RetryUsageError` naming the file and why it cannot be read."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except IsADirectoryError:
        raise RetryUsageError(
            f"{path} is a directory, not a run_results.json; remove it and run `planalign run`"
        ) from None
    except OSError as exc:
        raise RetryUsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # not JSON, not UTF-8, a number too long to convert
        raise RetryUsageError(
            f"{path} is not valid JSON ({str(exc)[:160]}); run `planalign run` again"
        ) from None
    except RecursionError:
        raise RetryUsageError(
            f"{path} is nested too deeply to be a run_results.json; run `planalign run` again"
        ) from None


def _with_planalign_args(document: Any, path: Path) -> Any:
    """dbt's run_results.json holds dbt's flags only; planalign's own (`models_per_invocation`, the
    effective threads, ...) are in planalign_run_results.json next to it
    (`planalign.project_run.request.RunRecord`). They are merged in when both files are of one run (the same
    invocation_id); otherwise the document is as read, and
    `check_document` says whether `planalign run` wrote it."""
    from planalign.engine.results import RUN_RESULTS_FILENAME

    sidecar = path.with_name(RUN_RESULTS_FILENAME)
    if not isinstance(document, dict) or not isinstance(document.get("args"), dict) or not sidecar.is_file():
        return document
    ours = _read(sidecar)
    extra = ours.get("args") if isinstance(ours, dict) else None
    metadata = document.get("metadata")
    invocation = metadata.get("invocation_id") if isinstance(metadata, dict) else None
    if not isinstance(extra, dict) or invocation is None or extra.get("invocation_id") != invocation:
        return document
    return {**document, "args": {**document["args"], **extra}}


def handle(args: argparse.Namespace) -> int:
    from planalign.cli import run as run_command
    from planalign.cli._common import printable
    from planalign.dbt.run_results import FILENAME
    from planalign.project_run.request import target_dir

    project_dir: Path = args.project_dir.resolve()
    if not (project_dir / "dbt_project.yml").is_file():
        raise RetryUsageError(f"{args.project_dir} is not a dbt project (no dbt_project.yml)")
    path = target_dir(project_dir, args.target_path) / FILENAME
    if not path.exists():
        raise RetryUsageError(
            f"there is no {path} to retry from; run `planalign run` first (a run given --target-path wrote "
            "it there: give retry the same --target-path)"
        )
    document = _with_planalign_args(_read(path), path)
    namespace = retry_namespace(document, path, project_dir)
    if namespace is None:
        print(f"Nothing to retry: every model in {path} succeeded.")
        return 0
    recorded = document["args"].get("project_dir")
    if isinstance(recorded, str) and Path(recorded) != project_dir:
        print(
            f"note: {path} was written for the project at {printable(recorded)}; retrying in {project_dir} "
            "(--project-dir)",
            flush=True,
        )
    print(f"Retrying {len(namespace.select)} models: {' '.join(namespace.select)}", flush=True)
    return run_command.run(namespace)
