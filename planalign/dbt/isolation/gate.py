"""The gate: whether this process may run dbt invocations concurrently, decided once, loudly.

`install()` checks, in order, and installs the isolation only when every check passes:

1. **Versions** — dbt-core, dbt-duckdb, dbt-adapters and dbt-common are each in a `major.minor` series in
   `SUPPORTED_SERIES` (the series the isolation has been tested against; `requirements.lock` pins the exact
   versions). The patched internals live in all four packages, and any of them can change what they are
   between minor versions. dbt-duckdb may be absent (another adapter): nothing of it is patched then.
2. **Internals** — every attribute, dataclass field, parameter and instance attribute the patches read or
   replace is where they expect it (`adapters.check`, `duckdb.check`, `nodes.check`, `stop.check_interrupt`;
   each module's docstring lists what it relies on). The code then uses them directly, never through
   `hasattr` or `getattr(..., default)`: an internal renamed upstream fails here, by name, instead of
   silently no longer being reset (the known failure mode: wrong tables, no error).

Any failure yields `IsolationStatus(available=False, reason=...)` and a WARNING; callers then serialize
every invocation (`invocation_slot` is exclusive) — slower, but safe. (`exclusive_nodes` also refuses to run
when the node check fails, since resetting nodes matters with one invocation at a time too.)

Then, with the isolation installed: the batch stop (`stop.check_batch_stop`; skipped → one model per
invocation) and each speed-up (`speedups`; skipped → slower), each skipped one logged at WARNING with its
reason and listed in the status (`planalign info` shows it all).
"""

from __future__ import annotations

import importlib.metadata
import logging
import threading
from dataclasses import dataclass
from typing import Any

from planalign.dbt.isolation import adapters, nodes, speedups, stop
from planalign.dbt.isolation import duckdb as duckdb_envs
from planalign.dbt.isolation._base import Installation, current_installation, set_current_installation

logger = logging.getLogger(__name__)

#: The `major.minor` series of each package the isolation has been tested against (requirements.lock pins
#: the exact versions; pyproject.toml declares the same ranges).
SUPPORTED_SERIES: dict[str, frozenset[str]] = {
    "dbt-core": frozenset({"1.11"}),
    "dbt-duckdb": frozenset({"1.11"}),
    "dbt-adapters": frozenset({"1.24"}),
    "dbt-common": frozenset({"1.39"}),
}


@dataclass(frozen=True)
class DbtVersions:
    """The installed versions of the four packages the isolation patches ("unknown" / None: not found)."""

    dbt_core: str
    dbt_duckdb: str | None
    dbt_adapters: str
    dbt_common: str

    def by_package(self) -> dict[str, str | None]:
        return {
            "dbt-core": self.dbt_core,
            "dbt-duckdb": self.dbt_duckdb,
            "dbt-adapters": self.dbt_adapters,
            "dbt-common": self.dbt_common,
        }


@dataclass(frozen=True)
class IsolationStatus:
    """Whether concurrent invocations are safe in this process, and why (or why not)."""

    available: bool
    reason: str
    dbt_version: str
    dbt_duckdb_version: str | None = None
    #: Names of the speed-ups installed (see `planalign.dbt.isolation.speedups`).
    speedups: tuple[str, ...] = ()
    batch_stop: bool = False
    dbt_adapters_version: str = "unknown"
    dbt_common_version: str = "unknown"
    #: (name, reason) of each speed-up not installed.
    skipped_speedups: tuple[tuple[str, str], ...] = ()
    #: Why the batch stop is not installed ("" when it is).
    batch_stop_reason: str = ""
    #: Each dbt adapter plugin installed → its version (`installed_adapters()`).
    adapters: tuple[tuple[str, str], ...] = ()

    def describe(self) -> dict[str, Any]:
        """The status as plain data (`planalign info`): `available`, `reason`, `batch_stop` (bool) and
        `batch_stop_reason`, the four `versions`, and each of `speedups` installed or skipped with its
        reason."""
        return {
            "available": self.available,
            "reason": self.reason,
            "batch_stop": self.batch_stop,
            "batch_stop_reason": self.batch_stop_reason or None,
            "versions": {
                "dbt-core": self.dbt_version,
                "dbt-duckdb": self.dbt_duckdb_version,
                "dbt-adapters": self.dbt_adapters_version,
                "dbt-common": self.dbt_common_version,
            },
            "speedups": {
                **{name: {"installed": True, "reason": None} for name in self.speedups},
                **{name: {"installed": False, "reason": why} for name, why in self.skipped_speedups},
            },
            "adapters": {
                name: adapter_support(name, version, self.available, batch_stop=self.batch_stop)
                for name, version in self.adapters
            },
        }


#: The adapters whose concurrent invocations and stops have been tested (tests/engine_real/test_postgres.py
#: for PostgreSQL; everything else for DuckDB).
TESTED_ADAPTERS = frozenset({"duckdb", "postgres"})


def adapter_support(name: str, version: str, available: bool, *, batch_stop: bool) -> dict[str, Any]:
    """What the isolation does for one adapter, in words (`planalign info`): which of its pieces apply, how
    a stopped model's query is stopped, where its SQL runs, and whether it is tested."""
    from planalign.dbt.workers import is_embedded

    if not available:
        pieces = ["none: the isolation is unavailable, invocations run one at a time"]
    else:
        pieces = ["per-invocation adapter registry"]
        pieces += ["per-database DuckDB environments"] if name == "duckdb" else []
        pieces += ["batch stop"] if batch_stop else []
    if name == "duckdb":
        stop_by = "DuckDB's cursor interrupt on the invocation's own connections"
    else:
        stop_by = (
            "the adapter's own cancel (dbt's Ctrl-C path: cancel_open_connections, on PostgreSQL "
            "pg_terminate_backend), when the adapter is cancelable"
        )
    return {
        "version": version,
        "sql_runs": "embedded, in this process" if is_embedded(name) else "on the server",
        "isolation": pieces,
        "queries_stopped_by": stop_by if available else "nothing: a stop waits for the running query",
        "tested": name in TESTED_ADAPTERS,
    }


def installed_adapters() -> tuple[tuple[str, str], ...]:
    """(name, version) of each dbt adapter plugin installed (`dbt.adapters.<name>` with a `dbt-<name>`
    distribution)."""
    import pkgutil

    import dbt.adapters

    found = []
    for module in pkgutil.iter_modules(dbt.adapters.__path__):
        version = _package_version(f"dbt-{module.name}")
        if module.ispkg and version is not None and module.name not in {"core", "common"}:
            found.append((module.name, version))
    return tuple(sorted(found))


def _package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def detect_versions() -> DbtVersions:
    """The installed versions. A seam for tests that simulate other versions."""
    return DbtVersions(
        dbt_core=_package_version("dbt-core") or "unknown",
        dbt_duckdb=_package_version("dbt-duckdb"),
        dbt_adapters=_package_version("dbt-adapters") or "unknown",
        dbt_common=_package_version("dbt-common") or "unknown",
    )


def _series(version: str) -> str:
    return ".".join(version.split(".")[:2])


def version_problems(versions: DbtVersions) -> list[str]:
    """Each package outside its supported series, as a reason."""
    problems = []
    for package, version in versions.by_package().items():
        if version is None and package == "dbt-duckdb":
            continue
        supported = SUPPORTED_SERIES[package]
        if version is None or _series(version) not in supported:
            series = ", ".join(sorted(f"{s}.x" for s in supported))
            problems.append(f"{package} {version or 'not installed'} is not a supported version ({series})")
    return problems


def internals_problems(with_duckdb: bool) -> list[str]:
    """Every required internal not as expected, as a reason (checks that themselves fail say so)."""
    checks = [adapters.check, nodes.check, stop.check_interrupt]
    if with_duckdb:
        checks.insert(1, duckdb_envs.check)
    problems: list[str] = []
    for check in checks:
        try:
            problems += check()
        except Exception as exc:  # an import error or a reshaped class: the gate fails, it does not crash
            problems.append(f"{check.__module__}.{check.__qualname__} failed: {exc!r}")
    return problems


_STATE_LOCK = threading.RLock()
_status: IsolationStatus | None = None


def _check_and_install() -> IsolationStatus:
    versions = detect_versions()

    def unavailable(reason: str) -> IsolationStatus:
        logger.warning(
            "dbt invocation isolation unavailable (%s); dbt invocations will run one at a time", reason
        )
        return IsolationStatus(
            False,
            reason,
            versions.dbt_core,
            versions.dbt_duckdb,
            dbt_adapters_version=versions.dbt_adapters,
            dbt_common_version=versions.dbt_common,
            adapters=_adapters_or_none(),
        )

    problems = version_problems(versions)
    if problems:
        return unavailable("; ".join(problems))
    problems = internals_problems(with_duckdb=versions.dbt_duckdb is not None)
    if problems:
        return unavailable("; ".join(problems))

    inst = Installation()
    try:
        if versions.dbt_duckdb is not None:
            from dbt.adapters.duckdb.connections import DuckDBConnectionManager

            duckdb_envs.install(DuckDBConnectionManager, inst)
        adapters.install(inst, stop.note_invocation_context)
        installed, skipped = speedups.install(inst)
        batch_stop_problems = stop.check_batch_stop()
        if batch_stop_problems:
            batch_stop_reason = "; ".join(batch_stop_problems)
            logger.warning(
                "dbt batch stop not installed (one model per invocation, slower): %s", batch_stop_reason
            )
        else:
            batch_stop_reason = ""
            stop.install_batch_stop(inst)
    except Exception as exc:  # a failed patch must leave dbt untouched and fall back, not crash
        _restore(inst)
        return unavailable(f"installing the isolation failed: {exc!r}")

    set_current_installation(inst)
    installed_for = "; DuckDB: per-database environments" if versions.dbt_duckdb is not None else ""
    return IsolationStatus(
        True,
        f"per-invocation adapter registry installed (every adapter){installed_for}",
        versions.dbt_core,
        versions.dbt_duckdb,
        tuple(installed),
        inst.batch_stop,
        dbt_adapters_version=versions.dbt_adapters,
        dbt_common_version=versions.dbt_common,
        skipped_speedups=tuple(skipped),
        batch_stop_reason=batch_stop_reason,
        adapters=_adapters_or_none(),
    )


def _adapters_or_none() -> tuple[tuple[str, str], ...]:
    try:
        return installed_adapters()
    except Exception as exc:  # a report only: a broken plugin directory must not fail the gate
        logger.warning("could not list the installed dbt adapters: %r", exc)
        return ()


def _restore(inst: Installation) -> None:
    for owner, name, original in reversed(inst.patches):
        setattr(owner, name, original)
    inst.patches.clear()
    inst.graphs.clear()
    inst.known_schemas.clear()
    inst.batch_stop = False
    adapters.restore(inst)
    duckdb_envs.restore(inst)


def install() -> IsolationStatus:
    """Install the isolation once per process (idempotent, thread-safe) and report whether it is active."""
    global _status
    with _STATE_LOCK:
        if _status is None:
            _status = _check_and_install()
            if _status.available:
                logger.info("dbt invocation isolation active: dbt-core %s", _status.dbt_version)
        return _status


def isolation_status() -> IsolationStatus:
    """The isolation status of this process, installing it on first use."""
    return install()


def uninstall() -> None:
    """Restore dbt's own adapter registry and DuckDB environment handling (tests; re-`install()` after).

    Call it only while no dbt invocation is running.
    """
    global _status
    with _STATE_LOCK:
        inst = current_installation()
        if inst is not None:
            _restore(inst)
        set_current_installation(None)
        nodes.forget_check()
        _status = None


def probe() -> IsolationStatus:
    """The status `install()` gives, decided without installing anything: the views that prepare a project
    and run nothing (`planalign plan`, `info`, `validate`) must leave dbt unpatched. Once installed in this
    process, the installed status. The checks are `install()`'s own (versions, internals, the batch stop,
    each speed-up's), so a probe says available exactly when an install would succeed, barring a patch that
    fails while being applied."""
    with _STATE_LOCK:
        if _status is not None:
            return _status
    versions = detect_versions()
    problems = version_problems(versions) or internals_problems(with_duckdb=versions.dbt_duckdb is not None)
    adapters_installed = _adapters_or_none()
    if problems:
        return IsolationStatus(
            False,
            "; ".join(problems),
            versions.dbt_core,
            versions.dbt_duckdb,
            dbt_adapters_version=versions.dbt_adapters,
            dbt_common_version=versions.dbt_common,
            adapters=adapters_installed,
        )
    ready: list[str] = []
    skipped: list[tuple[str, str]] = []
    for speedup in speedups.SPEEDUPS:
        try:
            speedup_problems = speedup.check()
        except (ImportError, AttributeError, KeyError, TypeError) as exc:
            speedup_problems = [f"checking it failed: {exc!r}"]
        if speedup_problems:
            skipped.append((speedup.name, "; ".join(speedup_problems)))
        else:
            ready.append(speedup.name)
    batch_stop_problems = stop.check_batch_stop()
    installed_for = "; DuckDB: per-database environments" if versions.dbt_duckdb is not None else ""
    return IsolationStatus(
        True,
        f"per-invocation adapter registry (every adapter){installed_for}: checked, installed at first run",
        versions.dbt_core,
        versions.dbt_duckdb,
        tuple(ready),
        not batch_stop_problems,
        skipped_speedups=tuple(skipped),
        batch_stop_reason="; ".join(batch_stop_problems),
        dbt_adapters_version=versions.dbt_adapters,
        dbt_common_version=versions.dbt_common,
        adapters=adapters_installed,
    )
