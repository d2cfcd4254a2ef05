"""The `config-cache` speed-up: what all invocations of one engine run load identically, loaded once.

Why: `dbt run` loads the profile, the project and the project's dependencies (dbt's internal packages —
`dbt`, `dbt_postgres` / `dbt_duckdb` — and installed packages, each a `RuntimeConfig` of its own built from
its `dbt_project.yml`, rendered and validated) once per run. The engine makes one dbt invocation per model
on a server warehouse (`planalign.dbt.workers`), and each paid all of it again. Profiled on PostgreSQL (150
models, docs/benchmarks.md "PostgreSQL: the per-run config cache"): `RuntimeConfig.load_dependencies`
(reached from the first `var()` a node renders,
`dbt.context.providers.ModelConfiguredVar.packages_for_node`) was the largest single item of the client's
CPU, then `load_project` and `load_profile`.

What is cached, per engine run (the caller's `planalign.engine.invocation.InvocationScope`, the epoch also
used by `planalign.dbt.isolation.server_cache`; outside a scope nothing is cached and dbt loads as usual),
each under a key holding every input that can differ between two invocations of one run:

* dbt-core `dbt.config.runtime.load_profile(project_root, cli_vars, profile_name_override, target_override,
  threads_override)` as `dbt.cli.requires` imported it — key: those arguments (vars as canonical JSON), the
  profiles directory of the invocation's flags (`dbt.flags.get_flags().PROFILES_DIR`) and the invocation's
  environment (dbt-common `get_invocation_context().env`: a profile may read `env_var()`);
* `load_project(project_root, version_check, profile, cli_vars, validate, require_vars)`, likewise — key:
  those arguments, the profile by content (`Profile.to_profile_info(serialize_credentials=True)`), the
  environment;
* `RuntimeConfig.load_dependencies(self, base_only)` (not `base_only`, which only parsing uses) — key: the
  root config's project root and packages path, its profile by content, its vars, its flags other than the
  node selection (`SELECTION_FLAGS`: a dependency's config carries a deep copy of the flags that loaded it,
  whose selection nothing reads once the manifest is given), and the environment. The cached mapping holds
  the dependencies only; each config gets its own dict with itself as the root project, as dbt builds it.

Why sharing is safe: the cached objects are the same kind dbt itself shares between the threads of one `dbt
run` (one profile, one project, one dependency mapping for every node of the run, read concurrently by the
node threads) — each invocation still builds its own `RuntimeConfig` (`RuntimeConfig.from_parts`), its own
flags and its own adapter (`planalign.dbt.isolation.adapters`). Nothing dbt runs after loading writes to a
`Profile`, a `Project` or a dependency's `RuntimeConfig` (their credentials are read by the connection
managers; the dependencies' `vars` by `var()`). tests/engine_real/test_config_cache.py runs invocations of
one run at once with vars, targets and profiles differing between them, and compares with `dbt run`. A file
edited while a run is going (profiles.yml, dbt_project.yml) is read again by the next run, not by the rest
of this one — as `dbt run` reads them once.

Relies on `dbt.cli.requires.load_profile` / `load_project` (module names, replaced there), and
`RuntimeConfig.load_dependencies(self, base_only)` with the dataclass field `dependencies`, verified by
`check()`.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Any

from planalign.dbt.isolation._base import Installation, missing_attrs, missing_fields, missing_parameters

#: dbt flags that choose the nodes of an invocation — the one thing that differs between the invocations of a
#: run and does not reach a dependency's config in any way dbt reads after parsing.
#: (Flags holds each flag twice, upper and lower case; compared upper case.)
SELECTION_FLAGS = frozenset(
    {"SELECT", "EXCLUDE", "SELECTOR", "MODELS", "RESOURCE_TYPE", "EXCLUDE_RESOURCE_TYPE"}
)

# engine run (InvocationScope) -> {key: loaded object}; weak, so a run's entries go with the run.
_CACHES: weakref.WeakKeyDictionary[Any, dict[Hashable, Any]] = weakref.WeakKeyDictionary()
# dbt invocation context -> the engine run it belongs to (see `_run_cache`); weak, gone with the invocation.
_SCOPES: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def check() -> list[str]:
    """What `install()` relies on, as problems (empty: as expected)."""
    import dbt.cli.requires as requires
    import dbt.flags
    from dbt.config.runtime import RuntimeConfig
    from dbt_common.context import InvocationContext

    problems = missing_attrs(requires, ("load_profile", "load_project"), own=True)
    problems += missing_attrs(RuntimeConfig, ("load_dependencies",), own=True)
    problems += missing_attrs(dbt.flags, ("get_flags",))
    problems += missing_attrs(InvocationContext, ("env",))
    problems += missing_fields(RuntimeConfig, ("dependencies", "project_root", "packages_install_path"))
    if problems:
        return problems
    problems += missing_parameters(
        vars(requires)["load_profile"],
        ("project_root", "cli_vars", "profile_name_override", "target_override", "threads_override"),
        where="load_profile",
    )
    problems += missing_parameters(
        vars(requires)["load_project"],
        ("project_root", "version_check", "profile", "cli_vars", "validate", "require_vars"),
        where="load_project",
    )
    problems += missing_parameters(
        RuntimeConfig.load_dependencies, ("base_only",), where="RuntimeConfig.load_dependencies"
    )
    return problems


def _canonical(value: Any) -> str:
    """A deterministic text of vars, flags and profiles (dict order ignored; objects by their repr)."""
    return json.dumps(value, sort_keys=True, default=repr)


def _environment() -> tuple[tuple[str, str], ...]:
    from dbt_common.context import get_invocation_context

    try:
        env = get_invocation_context().env
    except LookupError:
        return ()
    return tuple(sorted((str(k), str(v)) for k, v in env.items()))


def _profile_key(profile: Any) -> str:
    return _canonical(profile.to_profile_info(serialize_credentials=True))


def _run_cache() -> dict[Hashable, Any] | None:
    """The current engine run's cache, None outside an engine run.

    The run is the caller's scope in the invoking thread; dbt's own pool threads (where nodes render `var()`,
    hence load the dependencies) do not see that context variable, but do carry the invocation's dbt context
    (`_pool_thread_initializer` copies it), so the scope is remembered per dbt invocation context when the
    invoking thread first asks (its profile is loaded there, before any node runs)."""
    from planalign.dbt.isolation.adapters import current_invocation_context
    from planalign.engine.invocation import current_scope

    scope = current_scope()
    context = current_invocation_context()
    with _LOCK:
        if context is not None:
            if scope is not None:
                _SCOPES[context] = scope
            else:
                scope = _SCOPES.get(context)
        if scope is None:
            return None
        cache = _CACHES.get(scope)
        if cache is None:
            cache = _CACHES[scope] = {}
        return cache


def _cached(key: Hashable, load: Callable[[], Any]) -> Any:
    """`load()` once per engine run and key (concurrent first calls may both load; one result is kept)."""
    cache = _run_cache()
    if cache is None:
        return load()
    with _LOCK:
        if key in cache:
            return cache[key]
    value = load()
    with _LOCK:
        return cache.setdefault(key, value)


def install(inst: Installation) -> None:
    import dbt.cli.requires as requires
    from dbt.config.runtime import RuntimeConfig
    from dbt.flags import get_flags

    original_profile = requires.__dict__["load_profile"]
    original_project = requires.__dict__["load_project"]
    original_dependencies = RuntimeConfig.__dict__["load_dependencies"]

    def load_profile(
        project_root: str,
        cli_vars: dict[str, Any],
        profile_name_override: str | None = None,
        target_override: str | None = None,
        threads_override: int | None = None,
    ) -> Any:
        key = (
            "profile",
            str(project_root),
            _canonical(cli_vars),
            profile_name_override,
            target_override,
            threads_override,
            str(getattr(get_flags(), "PROFILES_DIR", None)),  # type: ignore[no-untyped-call]
            _environment(),
        )
        return _cached(
            key,
            lambda: original_profile(
                project_root, cli_vars, profile_name_override, target_override, threads_override
            ),
        )

    def load_project(
        project_root: str,
        version_check: bool,
        profile: Any,
        cli_vars: dict[str, Any] | None = None,
        validate: bool = False,
        require_vars: bool = True,
    ) -> Any:
        key = (
            "project",
            str(project_root),
            version_check,
            _profile_key(profile),
            _canonical(cli_vars),
            validate,
            require_vars,
            _environment(),
        )
        return _cached(
            key,
            lambda: original_project(
                project_root, version_check, profile, cli_vars, validate=validate, require_vars=require_vars
            ),
        )

    def load_dependencies(self: Any, base_only: bool = False) -> Any:
        if self.dependencies is not None or base_only or _run_cache() is None:
            return original_dependencies(self, base_only)
        key = ("dependencies", *runtime_config_key(self))

        def load() -> dict[str, Any]:
            loaded = original_dependencies(self, base_only)
            return {name: config for name, config in loaded.items() if name != self.project_name}

        self.dependencies = {self.project_name: self, **_cached(key, load)}
        return self.dependencies

    inst.patch(requires, "load_profile", load_profile)
    inst.patch(requires, "load_project", load_project)
    inst.patch(RuntimeConfig, "load_dependencies", load_dependencies)


def runtime_config_key(config: Any) -> tuple[Any, ...]:
    """Everything of a dbt `RuntimeConfig` two invocations must share for one's dependencies to serve the
    other: project, packages path, profile (credentials, target), vars, the flags but the node selection,
    the environment. `planalign.dbt.isolation.adapter_reuse` keys its adapters on it too."""
    flags = {k: v for k, v in vars(config.args).items() if k.upper() not in SELECTION_FLAGS}
    return (
        str(config.project_root),
        str(config.packages_install_path),
        _profile_key(config),
        _canonical(config.cli_vars),
        _canonical(flags),
        _environment(),
    )


def cached_runs() -> int:
    """Engine runs with a live cache (diagnostics and tests)."""
    with _LOCK:
        return len(_CACHES)
