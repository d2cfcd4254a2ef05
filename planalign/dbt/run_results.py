"""dbt's `target/run_results.json` (schema v6, dbt 1.11) for a `planalign run`.

Tools that read dbt's artifacts (CI checks, `dbt retry`-style scripts, orchestrators, docs sites) read this
file after `dbt run`; `planalign run` replaces it at the start of a run, so a stale one from an earlier dbt
command never looks current, and writes it at the end — also when the run failed or was interrupted.

As dbt's: `args` are the flags dbt writes for the same `dbt run` command line (`dbt_args`, computed by dbt);
each node that ran has dbt's own `compile` and `execute` timing entries (of its last attempt); a node skipped
because a parent failed has a null message, one skipped by `--fail-fast` dbt's "Skipping due to fail_fast";
`elapsed_time` counts from the on-run-start hooks, not the parse.

What is ours rather than dbt's: `execution_time` spans all of a model's attempts; `thread_id` names
planalign's lane; a model never started because of a signal is listed as `skipped` with a message saying so
(dbt omits nodes it never reached on an interrupt); `adapter_response` is dbt-duckdb's constant
`{"_message": "OK"}` for a successful model on DuckDB and empty otherwise, since the engine keeps no adapter
response per model.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from planalign.engine.nodes import ProjectManifest
from planalign.engine.results import EngineRunResult, ModelStatus

SCHEMA_VERSION = "https://schemas.getdbt.com/dbt/run-results/v6.json"
FILENAME = "run_results.json"
#: dbt's message of a node skipped because the run failed fast.
FAIL_FAST_SKIP = "Skipping due to fail_fast"


@dataclass(frozen=True)
class NodeRun:
    """One result row that did not come from the engine (a project hook's invocation)."""

    unique_id: str
    status: str
    message: str | None
    execution_time: float
    timing: tuple[tuple[str, str | None, str | None], ...] = ()  # (name, started_at, completed_at)
    compiled_code: str | None = None


def dbt_timestamp(value: datetime | str | None) -> str | None:
    """dbt's artifact timestamps: UTC, microseconds, a trailing Z (e.g. 2025-01-01T10:00:00.123456Z)."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def project_target_dir(project_dir: Path, target_path: str | None = None) -> Path:
    """dbt's target-path: `target_path` (`--target-path`), else dbt_project.yml's `target-path`, default
    `target`; a relative one is relative to the project (as `planalign run` resolves it)."""
    import yaml

    config = yaml.safe_load((project_dir / "dbt_project.yml").read_text()) or {}
    configured = target_path or (config.get("target-path") if isinstance(config, Mapping) else None)
    path = Path(str(configured)) if configured else Path("target")
    return path if path.is_absolute() else project_dir / path


def remove_stale(target_dir: Path) -> bool:
    """Delete a run_results.json left by an earlier command (returns whether there was one)."""
    path = target_dir / FILENAME
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def _dbt_version() -> str:
    from importlib.metadata import version

    return version("dbt-core")


def _compiled_code(manifest: ProjectManifest, unique_id: str) -> str | None:
    dbt_manifest = manifest.dbt_manifest
    node = getattr(dbt_manifest, "nodes", {}).get(unique_id) if dbt_manifest is not None else None
    code = getattr(node, "compiled_code", None)
    return code if isinstance(code, str) else None


def _adapter_type(manifest: ProjectManifest) -> str | None:
    metadata = getattr(manifest.dbt_manifest, "metadata", None)
    value = getattr(metadata, "adapter_type", None)
    return str(value) if value else None


def _model_rows(
    manifest: ProjectManifest, result: EngineRunResult, cancel_reason: str
) -> list[dict[str, Any]]:
    duckdb = _adapter_type(manifest) == "duckdb"
    rows = []
    for model in result.results:
        node = manifest.nodes.get(model.unique_id)
        status = model.status
        message: str | None
        ran = status in (ModelStatus.SUCCESS, ModelStatus.ERROR) or (
            status is ModelStatus.CANCELLED and model.started_at is not None
        )
        if status is ModelStatus.SUCCESS:
            dbt_status, message = "success", "OK" if duckdb else "success"
        elif status is ModelStatus.ERROR:
            dbt_status, message = "error", (model.error or "error").strip()
        elif status is ModelStatus.SKIPPED:
            # dbt: no message for a node skipped because a parent failed; its own text when failing fast.
            dbt_status = "skipped"
            message = FAIL_FAST_SKIP if result.failed_fast is not None else None
        elif ran:
            dbt_status, message = "error", (model.error or f"interrupted: {cancel_reason}").strip()
        else:
            dbt_status = "skipped"
            message = FAIL_FAST_SKIP if result.failed_fast is not None else f"not started: {cancel_reason}"
        timing = [
            {"name": name, "started_at": dbt_timestamp(start), "completed_at": dbt_timestamp(end)}
            for name, start, end in model.timing
        ]
        if model.started_at is not None and not timing:
            timing.append(
                {
                    "name": "execute",
                    "started_at": dbt_timestamp(model.started_at),
                    "completed_at": dbt_timestamp(model.completed_at),
                }
            )
        rows.append(
            {
                "status": dbt_status,
                "timing": timing,
                "thread_id": f"planalign-lane-{model.worker}" if model.worker is not None else "main",
                "execution_time": float(model.duration_s),
                "adapter_response": {"_message": "OK"} if duckdb and dbt_status == "success" else {},
                "message": message,
                "failures": None,
                "unique_id": model.unique_id,
                "compiled": True if ran else None,
                "compiled_code": _compiled_code(manifest, model.unique_id) if ran else None,
                "relation_name": node.relation_name if node is not None else None,
                "batch_results": None,
            }
        )
    return rows


def _other_row(run: NodeRun) -> dict[str, Any]:
    return {
        "status": run.status,
        "timing": [{"name": n, "started_at": s, "completed_at": c} for n, s, c in run.timing],
        "thread_id": "main",
        "execution_time": float(run.execution_time),
        "adapter_response": {},
        "message": run.message,
        "failures": 0 if run.status == "success" else 1,
        "unique_id": run.unique_id,
        "compiled": run.compiled_code is not None,
        "compiled_code": run.compiled_code,
        "relation_name": None,
        "batch_results": None,
    }


def dbt_args(
    manifest: ProjectManifest,
    run_argv: Sequence[str],
    *,
    select: Sequence[str],
    exclude: Sequence[str],
    warn_error: bool,
    invocation_command: str,
) -> dict[str, Any]:
    """The `args` block dbt writes for `dbt run <run_argv> --select <select> --exclude <exclude>
    [--warn-error]`, as dbt itself computes it (its flags of that command line, with the project's and the
    environment's, through `args_to_dict`): one `dbt run` of the same flags over the parsed manifest that
    selects nothing (`--exclude fqn:*`), which builds its result's `args` and ends. What that invocation
    could not take as given is put back: the selection, `--warn-error` (dbt's "Nothing to do" warning would be
    its error), `write_json` (it writes nothing), and what was typed (dbt writes `dbt ...` from sys.argv).
    Its console output is dropped; it runs alone (nothing else runs at the end of a run anyway).

    `ArtifactArgsError` when dbt does not answer (the caller falls back and says so)."""
    import contextlib
    import io

    from dbt.cli.main import dbtRunner

    from planalign.dbt.isolation import invocation_slot

    args = ["run", *run_argv, "--exclude", "fqn:*", "--no-write-json"]
    with (
        invocation_slot(("run-results-args", str(manifest.project_dir)), exclusive=True),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        res = dbtRunner(manifest=manifest.dbt_manifest).invoke(args)
    recorded = getattr(res.result, "args", None)
    if not isinstance(recorded, dict):
        raise ArtifactArgsError(f"dbt reported no flags for `dbt run {' '.join(run_argv)}`: {res.exception}")
    recorded = dict(recorded)
    recorded["select"], recorded["exclude"] = list(select), list(exclude)
    recorded["write_json"] = True
    if warn_error:
        recorded["warn_error"] = True
    recorded["invocation_command"] = invocation_command
    return recorded


class ArtifactArgsError(RuntimeError):
    """dbt did not report the flags of the equivalent `dbt run` (`dbt_args`)."""


def build_document(
    manifest: ProjectManifest,
    *,
    result: EngineRunResult | None,
    started_at: datetime,
    elapsed_s: float,
    args: Mapping[str, Any],
    before: Sequence[NodeRun] = (),
    after: Sequence[NodeRun] = (),
    cancel_reason: str = "the run was cancelled",
    invocation_id: str | None = None,
    ephemeral: Sequence[str] = (),
) -> dict[str, Any]:
    """The run_results document: `before` (on-run-start hooks), the engine's models, `after` (on-run-end).

    `ephemeral`: the selection's ephemeral models, which the engine compiles into their readers rather than
    running; dbt lists them as skipped when a run fails fast (and not otherwise), so they are listed then."""
    results = [_other_row(r) for r in before]
    if result is not None:
        results += _model_rows(manifest, result, cancel_reason)
        if result.failed_fast is not None:
            results += [_other_row(NodeRun(uid, "skipped", FAIL_FAST_SKIP, 0.0)) for uid in ephemeral]
    results += [_other_row(r) for r in after]
    env = {
        k[len("DBT_ENV_CUSTOM_ENV_") :]: v
        for k, v in os.environ.items()
        if k.startswith("DBT_ENV_CUSTOM_ENV_")
    }
    return {
        "metadata": {
            "dbt_schema_version": SCHEMA_VERSION,
            "dbt_version": _dbt_version(),
            "generated_at": dbt_timestamp(datetime.now(UTC)),
            "invocation_id": invocation_id or str(uuid.uuid4()),
            "invocation_started_at": dbt_timestamp(started_at),
            "env": env,
        },
        "results": results,
        "elapsed_time": float(elapsed_s),
        "args": {str(k): v for k, v in args.items()},
    }


def write(target_dir: Path, document: Mapping[str, Any]) -> Path:
    """Write the document atomically (a reader never sees half a file) and return its path."""
    target_dir.mkdir(parents=True, exist_ok=True)
    path = target_dir / FILENAME
    tmp = path.with_name(f".{FILENAME}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(document, indent=2, default=str))
    os.replace(tmp, path)
    return path
