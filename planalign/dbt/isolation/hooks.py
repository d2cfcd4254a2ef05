"""Two things a caller splitting one `dbt run` into many invocations needs outside any invocation: the
target's rendered profile output, and the project's hooks run once per run.

The target's rendered profile output, without an invocation (`planalign run` finds its database). Relies on
dbt-core's `dbt.config.profile.read_profile(profiles_dir)` (the raw profiles.yml mapping) and
`Profile.render_profile(raw_profile, profile_name, target_override, renderer)` → (target_name, rendered
output dict), with `dbt.config.renderer.ProfileRenderer(cli_vars)` and
`dbt.cli.resolvers.default_profiles_dir`; rendering calls `env_var()`, which reads the invocation context
of dbt-common's `dbt_common.context` — so a fresh one is set (`set_invocation_context`) inside a private
`contextvars.Context`, leaving the caller's untouched. Nothing is patched.

Project hooks (`on-run-start` / `on-run-end`) once per run of many invocations. dbt-core 1.11 runs a
project's hooks inside each `dbt run` invocation: `RunTask.before_run` calls
`safe_run_hooks(adapter, RunHookType.Start, {})` before `execute_nodes()`, `RunTask.after_run` calls
`safe_run_hooks(adapter, RunHookType.End, extras)` after it (extras: `schemas`, `database_schemas`,
`results`), and `safe_run_hooks` takes the hooks from `RunTask.get_hooks_by_type(hook_type)` (the
manifest's `operation` nodes tagged with the hook type). `GraphRunnableTask.execute_with_hooks` skips all of
it when nothing is selected. A caller that splits one run into many invocations would run the hooks in each.
So (patching dbt-core's `dbt.task.run.RunTask.get_hooks_by_type`, `safe_run_hooks` — its own methods, or the
first use raises — and `execute_nodes`, delegating to `GraphRunnableTask.execute_nodes` when `RunTask`
does not define its own):

* `RunTask.get_hooks_by_type` returns no hooks for a task whose `self.manifest` is a manifest registered
  with `suppress_project_hooks(manifest)` (the model invocations of a run);
* inside `only_project_hooks(hook_type, extras)` (set in the thread that calls `dbtRunner().invoke`, where
  dbt calls before_run/execute_nodes/after_run), `get_hooks_by_type` returns the hooks of `hook_type` only,
  `RunTask.execute_nodes` runs no node (returns []), and `safe_run_hooks` of the end hooks sees `extras` in
  place of the (empty) extras of that invocation.

The patches are installed once, independently of `install()`, and delegate to the methods current at call
time (so they compose with the batch-stop patch of `GraphRunnableTask.execute_nodes`). `hook_run_results`
builds dbt-core's `dbt.artifacts.schemas.run.RunResult` / `dbt.artifacts.schemas.results.RunStatus`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any


def render_target_output(
    project_dir: Path,
    profiles_dir: Path | None,
    target: str | None,
    vars: dict[str, Any] | None,
    *,
    profile: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """(target name, rendered output mapping, e.g. {"type": "duckdb", "path": ...}) of the project's profile.

    `profiles_dir` None means dbt's default (`DBT_PROFILES_DIR`, else the working directory if it holds a
    profiles.yml, else ~/.dbt). Raises dbt's own exception when the profile does not render.
    """
    import contextvars
    import os

    import yaml

    project = yaml.safe_load((project_dir / "dbt_project.yml").read_text()) or {}
    profile_name = profile or str(project.get("profile") or "")  # dbt's --profile overrides the project's
    if profiles_dir is None:
        from dbt.cli.resolvers import default_profiles_dir

        profiles_dir = Path(os.environ.get("DBT_PROFILES_DIR") or default_profiles_dir())

    def render() -> tuple[str, dict[str, Any]]:
        from dbt.config.profile import Profile, read_profile
        from dbt.config.renderer import ProfileRenderer
        from dbt_common.context import set_invocation_context

        set_invocation_context(dict(os.environ))
        raw = read_profile(str(profiles_dir))
        if profile_name not in raw:
            raise KeyError(f"no profile named {profile_name!r} in {profiles_dir}/profiles.yml")
        name, output = Profile.render_profile(
            raw[profile_name], profile_name, target, ProfileRenderer(vars or {})
        )
        return str(name), dict(output)

    return contextvars.Context().run(render)


_HOOKS_SUPPRESSED: dict[int, Any] = {}
_HOOKS_SUPPRESSED_LOCK = threading.Lock()
_HOOKS_ONLY: ContextVar[tuple[str, dict[str, Any]] | None] = ContextVar("planalign_hooks_only", default=None)
_HOOK_PATCH_LOCK = threading.Lock()
_hook_patch_installed = False
# dbt-core's own `RunTask.safe_run_hooks`, before any patch (what `adapter_reuse.check` reads).
_DBT_SAFE_RUN_HOOKS: list[Any] = []


def dbt_safe_run_hooks() -> Any:
    """dbt-core's own `RunTask.safe_run_hooks` (the one these patches wrap, once installed)."""
    from dbt.task.run import RunTask

    return _DBT_SAFE_RUN_HOOKS[0] if _DBT_SAFE_RUN_HOOKS else RunTask.__dict__["safe_run_hooks"]


def install_hook_control() -> None:
    """Install the hook patches now (idempotent; also done on first use)."""
    _install_hook_control()


def _install_hook_control() -> None:
    global _hook_patch_installed
    with _HOOK_PATCH_LOCK:
        if _hook_patch_installed:
            return
        from dbt.task.run import RunTask
        from dbt.task.runnable import GraphRunnableTask

        for name in ("get_hooks_by_type", "safe_run_hooks"):
            if name not in RunTask.__dict__:
                raise RuntimeError(f"dbt's RunTask has no {name}; project hooks cannot be run once per run")
        original_get_hooks = RunTask.__dict__["get_hooks_by_type"]
        original_safe_run_hooks = RunTask.__dict__["safe_run_hooks"]
        _DBT_SAFE_RUN_HOOKS.append(original_safe_run_hooks)
        own_execute_nodes = RunTask.__dict__.get("execute_nodes")

        def get_hooks_by_type(self: Any, hook_type: Any) -> Any:
            only = _HOOKS_ONLY.get()
            if only is not None:
                return original_get_hooks(self, hook_type) if str(hook_type) == only[0] else []
            with _HOOKS_SUPPRESSED_LOCK:
                suppressed = _HOOKS_SUPPRESSED.get(id(self.manifest)) is self.manifest
            return [] if suppressed else original_get_hooks(self, hook_type)

        def safe_run_hooks(self: Any, adapter: Any, hook_type: Any, extra_context: Any) -> Any:
            only = _HOOKS_ONLY.get()
            if only is not None and str(hook_type) == only[0] and only[1]:
                extra_context = {**(extra_context or {}), **only[1]}
            return original_safe_run_hooks(self, adapter, hook_type, extra_context)

        def execute_nodes(self: Any) -> Any:
            if _HOOKS_ONLY.get() is not None:
                return []
            run_nodes: Any = own_execute_nodes or GraphRunnableTask.execute_nodes
            return run_nodes(self)

        RunTask.get_hooks_by_type = get_hooks_by_type  # type: ignore[method-assign]
        RunTask.safe_run_hooks = safe_run_hooks  # type: ignore[method-assign]
        RunTask.execute_nodes = execute_nodes  # type: ignore[method-assign]
        _hook_patch_installed = True


@contextmanager
def suppress_project_hooks(dbt_manifest: Any) -> Iterator[None]:
    """While inside, `dbt run` invocations given this `Manifest` object run no on-run-start/-end hooks."""
    _install_hook_control()
    with _HOOKS_SUPPRESSED_LOCK:
        _HOOKS_SUPPRESSED[id(dbt_manifest)] = dbt_manifest
    try:
        yield
    finally:
        with _HOOKS_SUPPRESSED_LOCK:
            _HOOKS_SUPPRESSED.pop(id(dbt_manifest), None)


@contextmanager
def only_project_hooks(hook_type: str, extras: dict[str, Any] | None = None) -> Iterator[None]:
    """While inside (in this thread), a `dbt run` invocation runs only the project hooks of `hook_type`
    ("on-run-start" or "on-run-end") and no node; `extras` replace the end hooks' `schemas`,
    `database_schemas` and `results` (which that invocation, having run nothing, would leave empty)."""
    if hook_type not in ("on-run-start", "on-run-end"):
        raise ValueError(f"hook_type must be on-run-start or on-run-end, got {hook_type!r}")
    _install_hook_control()
    token = _HOOKS_ONLY.set((hook_type, dict(extras or {})))
    try:
        yield
    finally:
        _HOOKS_ONLY.reset(token)


def hook_run_results(dbt_manifest: Any, rows: Iterable[tuple[str, str, str | None, float]]) -> list[Any]:
    """dbt `RunResult`s for the end hooks' `results` (unique_id, status, message, execution time), the
    way dbt hands a run's node results to on-run-end. Relies on `dbt.artifacts.schemas.run.RunResult` and
    `dbt.artifacts.schemas.results.RunStatus`."""
    from dbt.artifacts.schemas.results import RunStatus
    from dbt.artifacts.schemas.run import RunResult

    results = []
    for unique_id, status, message, execution_time in rows:
        results.append(
            RunResult(
                status=RunStatus(status),
                timing=[],
                thread_id="planalign",
                execution_time=execution_time,
                adapter_response={},
                message=message,
                failures=None,
                node=dbt_manifest.nodes[unique_id],
                batch_results=None,
            )
        )
    return results
