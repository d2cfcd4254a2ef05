"""`planalign retry`: run again the models that failed or were skipped in the last `planalign run`.

Reads the project's `target/run_results.json`, which `planalign run` writes with every flag it ran with
(`run._artifact_args`), and runs `planalign run` over the models listed there as `error` or `skipped`, with
the same `--vars`, target, profiles directory, threads, batch size, retries, execution-class default,
`--full-refresh`, `--fail-fast` and log format. The models that succeeded are not run again: they exist in
the target, so they count as built parents, as in `dbt run`.

Why not `dbt retry`: it re-runs with the vars of its own command line rather than those of the run it
retries (dbt-labs/dbt-core#9112), so a run parameterised with `--vars` is retried with different (usually
default) values. Here the recorded vars are the only ones used; `retry` takes no `--vars`.

The retry writes run_results.json again, like any `planalign run` (its `which` is `retry`, its selection
the retried models), so a second `planalign retry` picks up whatever still failed. Models are selected by
name (dbt's unqualified selector), which in a project with packages matches a model of that name in every
package. Exit statuses are `planalign run`'s; 0 with nothing to retry.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from planalign.errors import PlanalignUsageError

#: run_results.json statuses of a model that did not build.
RETRIED_STATUSES = ("error", "skipped", "fail", "runtime error")


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
    parser.set_defaults(handler=handle)


def _model_name(unique_id: str) -> str:
    """`model.pkg.orders` → `orders`; a versioned `model.pkg.orders.v2` → `orders.v2` (dbt's selector)."""
    return ".".join(unique_id.split(".")[2:])


def retry_namespace(document: dict[str, Any], source: Path) -> argparse.Namespace | None:
    """The `planalign run` arguments that retry the run `document` records; None when every model built."""
    recorded = document.get("args")
    if not isinstance(recorded, dict) or "models_per_invocation" not in recorded:
        raise RetryUsageError(
            f"{source} was not written by `planalign run` (it does not record the run's flags); "
            "run `planalign run` first"
        )
    failed = [
        _model_name(str(row["unique_id"]))
        for row in document.get("results") or []
        if str(row.get("unique_id", "")).startswith("model.") and row.get("status") in RETRIED_STATUSES
    ]
    if not failed:
        return None
    profiles_dir = recorded.get("profiles_dir")
    dbt_vars = recorded.get("vars") or {}
    return argparse.Namespace(
        which="retry",
        project_dir=Path(str(recorded["project_dir"])),
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
        max_retries=int(recorded.get("max_retries", 2)),
    )


def handle(args: argparse.Namespace) -> int:
    from planalign.cli import run as run_command
    from planalign.dbt.run_results import FILENAME

    project_dir: Path = args.project_dir.resolve()
    if not (project_dir / "dbt_project.yml").is_file():
        raise RetryUsageError(f"{args.project_dir} is not a dbt project (no dbt_project.yml)")
    path = run_command._target_dir(project_dir) / FILENAME
    if not path.is_file():
        raise RetryUsageError(f"there is no {path} to retry from; run `planalign run` first")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise RetryUsageError(f"{path} is not valid JSON ({exc}); run `planalign run` again") from exc
    if not isinstance(document, dict):
        raise RetryUsageError(f"{path} is not a run_results document; run `planalign run` again")
    namespace = retry_namespace(document, path)
    if namespace is None:
        print(f"Nothing to retry: every model in {path} succeeded.")
        return 0
    print(f"Retrying {len(namespace.select)} models: {' '.join(namespace.select)}", flush=True)
    return run_command.run(namespace)
