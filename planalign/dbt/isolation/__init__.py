"""Concurrent in-process dbt invocations: the only code that touches dbt's internals.

dbt-core does not support several `dbtRunner().invoke()` calls running at once in one process. On dbt-duckdb
they fail with "connection is busy with another call" / "cannot start a transaction within a transaction",
because every invocation shares one adapter and tears it down for everyone else. This package makes each
invocation own its adapter while all of them share one DuckDB database per file, and makes the rest of what
the engine needs from dbt safe under concurrency. One job per module, each docstring naming exactly the
dbt-core / dbt-adapters / dbt-common / dbt-duckdb internals it patches or reads:

* `gate` — version detection for the four packages, the install-time checks of every internal, install /
  uninstall, `IsolationStatus`;
* `adapters` — the per-invocation adapter registry (`dbt.adapters.factory.FACTORY`);
* `duckdb` — per-database DuckDB environments, instance settings, `close_idle_databases`;
* `nodes` — `exclusive_nodes`: the shared manifest's compiled node state, reset and locked per invocation;
* `stop` — stop tokens, scoped interrupts, per-node time limits, the batch stop;
* `speedups` — the optional speed-ups (plugin discovery, graph, unobserved events, schemas);
* `slots` — `invocation_slot`: which invocations may share the process-global flags;
* `hooks` — the project's hooks once per run, `render_target_output`.

This module is the public surface: callers use only the names below.
"""

from __future__ import annotations

from pathlib import Path

from planalign.dbt.isolation import adapter_reuse as _adapter_reuse
from planalign.dbt.isolation._base import current_installation as _current_installation
from planalign.dbt.isolation.adapters import live_adapter_count as _live_adapter_count
from planalign.dbt.isolation.duckdb import ANY_DATABASE
from planalign.dbt.isolation.duckdb import close_idle as _close_idle
from planalign.dbt.isolation.duckdb import set_instance_setting as _set_instance_setting
from planalign.dbt.isolation.gate import (
    SUPPORTED_SERIES,
    DbtVersions,
    IsolationStatus,
    install,
    isolation_status,
    probe,
    uninstall,
)
from planalign.dbt.isolation.hooks import (
    hook_run_results,
    only_project_hooks,
    render_target_output,
    suppress_project_hooks,
)
from planalign.dbt.isolation.nodes import exclusive_nodes
from planalign.dbt.isolation.slots import invocation_slot
from planalign.dbt.isolation.speedups import LAZY_DEBUG_EVENTS
from planalign.dbt.isolation.stop import REINTERRUPT_S, StopToken, running_nodes, stoppable_invocation

__all__ = [
    "ANY_DATABASE",
    "LAZY_DEBUG_EVENTS",
    "REINTERRUPT_S",
    "SUPPORTED_SERIES",
    "DbtVersions",
    "IsolationStatus",
    "StopToken",
    "close_idle_databases",
    "exclusive_nodes",
    "finish_invocation",
    "hook_run_results",
    "install",
    "invocation_slot",
    "isolation_status",
    "live_adapter_count",
    "only_project_hooks",
    "probe",
    "render_target_output",
    "running_nodes",
    "set_duckdb_instance_setting",
    "stoppable_invocation",
    "suppress_project_hooks",
    "uninstall",
]


def close_idle_databases(database_path: Path | None = None) -> int:
    """Close the DuckDB databases (all, or the one at `database_path`) that no dbt connection is using.

    dbt-duckdb 1.11 keeps a database open for the life of the process once opened (`keep_open` defaults to
    true), which holds DuckDB's file lock; call this when a run is over and another process needs the file.
    A later invocation simply reopens it. Returns how many were closed.
    """
    return _close_idle(_current_installation(), database_path)


def set_duckdb_instance_setting(database_path: Path | None, name: str, value: str) -> bool:
    """Apply a DuckDB instance-wide setting (e.g. `memory_limit`) to `database_path` — or, when None, to
    every database file — whenever dbt opens it (and at once to databases already open).

    Returns False — and changes nothing — when the isolation is not installed (then no hook sees the
    database being opened; the caller should say the setting was not applied).
    """
    return _set_instance_setting(_current_installation(), database_path, name, value)


def live_adapter_count() -> int:
    """Adapters currently held in the per-invocation registry (diagnostics and tests)."""
    return _live_adapter_count(_current_installation())


def finish_invocation(token: StopToken, *, clean: bool) -> int:
    """Call when a dbt invocation inside `stoppable_invocation()` has returned (in its thread): its server
    adapters are parked for the next invocation of the engine run when it ended `clean` — dbt reported
    success and nothing raised — and it was not stopped and timed nothing out; else dropped
    (`planalign.dbt.isolation.adapter_reuse`). Returns how many were parked."""
    context = token.context() if token.context is not None else None
    clean = clean and not token.stopped and not token.timed_out
    return _adapter_reuse.finish_invocation(_current_installation(), context, clean=clean)
