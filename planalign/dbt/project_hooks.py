"""The project's `on-run-start` / `on-run-end` hooks, once per `planalign run`, as `dbt run` runs them.

`planalign run` splits one `dbt run` into many invocations; each would run the hooks again. The model
invocations run none (`planalign.dbt.isolation.suppress_project_hooks`), and these functions run each kind
once, in one `dbt run` invocation of the selection that runs no model (`only_project_hooks`), with the
context dbt gives them: the selection's schemas exist, `flags.FULL_REFRESH` is set, and the end hooks get the
run's `schemas`, `database_schemas` and `results` (`end_hook_extras`). Uses dbt's public `dbtRunner` and
the result objects it returns; the patches it needs live in `planalign.dbt.isolation.hooks`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from planalign.dbt.run_results import NodeRun
    from planalign.engine.nodes import ProjectManifest
    from planalign.engine.results import EngineRunResult


def _has_hooks(manifest: ProjectManifest, hook_type: str) -> bool:
    return any(n.resource_type == "operation" and hook_type in n.tags for n in manifest.nodes.values())


def run_project_hooks(
    hook_type: str,
    manifest: ProjectManifest,
    common_args: Sequence[str],
    selectors: Sequence[str],
    *,
    full_refresh: bool,
    extras: Mapping[str, Any] | None = None,
) -> list[NodeRun]:
    """Run the project's `on-run-start` or `on-run-end` hooks once, in one `dbt run` invocation of the
    selection that runs no model (`dbt_isolation.only_project_hooks`), so they see the same context as in
    dbt: the selection's schemas exist, `flags.FULL_REFRESH` is set, and the end hooks get the run's
    `schemas`, `database_schemas` and `results`. One result per hook, as dbt lists them."""
    from dbt.cli.main import dbtRunner

    from planalign.dbt.isolation import invocation_slot, only_project_hooks
    from planalign.dbt.run_results import NodeRun, dbt_timestamp

    if not _has_hooks(manifest, hook_type):
        return []
    args = ["run", *common_args, "--select", *selectors, "--threads", "1", "--no-write-json"]
    args += ["--log-level", "none", "--log-level-file", "none", "--no-populate-cache"]
    if full_refresh:
        args.append("--full-refresh")
    slot = invocation_slot(("hooks", str(manifest.project_dir)), exclusive=True)
    with slot, only_project_hooks(hook_type, dict(extras or {})):
        res = dbtRunner(manifest=manifest.dbt_manifest).invoke(args)
    rows = []
    for r in getattr(res.result, "results", None) or []:
        rows.append(
            NodeRun(
                unique_id=r.node.unique_id,
                status=str(getattr(r.status, "value", r.status)),
                message=r.message,
                execution_time=float(r.execution_time or 0.0),
                timing=tuple(
                    (t.name, dbt_timestamp(t.started_at), dbt_timestamp(t.completed_at)) for t in r.timing
                ),
                compiled_code=getattr(r.node, "compiled_code", None),
            )
        )
    if not rows or (not res.success and all(row.status == "success" for row in rows)):
        detail = str(res.exception) if res.exception is not None else f"dbt ran no {hook_type} hook"
        rows.append(NodeRun(f"operation.{manifest.project_dir.name}.{hook_type}", "error", detail, 0.0))
    return rows


def end_hook_extras(manifest: ProjectManifest, result: EngineRunResult | None) -> dict[str, Any]:
    """What dbt's `RunTask.after_run` hands on-run-end: the (database, schema) pairs of models that
    succeeded, their schemas, and the node results."""
    from planalign.dbt.isolation import hook_run_results
    from planalign.engine.results import ModelStatus

    if result is None or manifest.dbt_manifest is None:
        return {"schemas": [], "database_schemas": [], "results": []}
    nodes = manifest.dbt_manifest.nodes
    pairs = {
        (nodes[r.unique_id].database, nodes[r.unique_id].schema)
        for r in result.results
        if r.status is ModelStatus.SUCCESS and r.unique_id in nodes
    }
    status = {ModelStatus.SUCCESS: "success", ModelStatus.ERROR: "error"}
    rows = [(r.unique_id, status.get(r.status, "skipped"), r.error, r.duration_s) for r in result.results]
    return {
        "schemas": sorted({s for _, s in pairs}),
        "database_schemas": sorted(pairs, key=str),
        "results": hook_run_results(manifest.dbt_manifest, rows),
    }
