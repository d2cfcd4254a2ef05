"""`DbtInvoker`: the real `ModelInvoker`, one in-process `dbtRunner(manifest=...).invoke()` per model.

Kept apart from `planalign.invocation` (the protocol) so that the scheduler and its fake invokers never
import dbt.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

from planalign import dbt_isolation
from planalign.errors import ManifestDatabaseMismatchError, ProjectParseError
from planalign.invocation import InvocationOutcome, OutcomeStatus
from planalign.manifest import ManifestNode, ProjectManifest, dbt_common_args

logger = logging.getLogger(__name__)

#: Message prefixes of failures a retry cannot fix: the project itself is wrong.
_NON_RETRYABLE_PREFIXES = ("Compilation Error", "Parsing Error", "Dependency Error")

#: Result statuses that mean the node did what was asked (models: success; tests: pass/warn; no-op).
_OK_STATUSES = frozenset({"success", "pass", "warn", "no-op"})

#: Flags that make each model invocation cheaper, each measured (see the benchmark report):
#: no artifacts (run_results.json/manifest.json rewritten per call, and with a neighbour's invocation id),
#: no console or file logging (outcomes come from the returned result), no adapter cache pre-population
#: (a single-model run only needs its own relations, which dbt then looks up on demand).
FAST_RUN_FLAGS: tuple[str, ...] = (
    "--no-write-json",
    "--log-level",
    "none",
    "--log-level-file",
    "none",
    "--no-populate-cache",
)


def _outcome_from_message(message: str) -> InvocationOutcome:
    retryable = not message.lstrip().startswith(_NON_RETRYABLE_PREFIXES)
    return InvocationOutcome(OutcomeStatus.ERROR, message=message, retryable=retryable)


def _results_of(res: Any) -> list[Any]:
    execution = getattr(res, "result", None)
    results = getattr(execution, "results", None)
    return list(results) if results else []


class DbtInvoker:
    """Runs single models (and whole dbt commands) in this process through `dbtRunner(manifest=...)`.

    Thread-safety: `run_model` may be called from any number of threads at once when `supports_concurrency`
    is True (the isolation layer is active): each call is its own dbt invocation with its own adapter and
    DuckDB cursor, sharing one DuckDB database per file. Calls whose process-global dbt flags would differ
    (another invoker with `full_refresh` set differently, another project or target) wait for each other
    through `dbt_isolation.invocation_slot`; `invoke()` (seed, test, run-operation, ...) always runs alone.
    When the isolation is unavailable every call is serialized, and `supports_concurrency` is False.

    Concurrent calls for the *same* model (e.g. two simulations sharing one manifest) take turns, because
    dbt compiles into the shared manifest's node (`dbt_isolation.exclusive_nodes`).

    Each model's outcome is taken only from the result its own `invoke()` returns — dbt's event callbacks are
    process-global and would mix concurrent invocations.

    The database stays open between calls (dbt-duckdb's `keep_open`, default true), which also holds the
    DuckDB file lock for this process: `close()` releases it when the caller is done.

    Cancellation: a `run_model` call cannot be abandoned half-way by its thread, but `interrupt_all()` makes
    DuckDB abort the statements currently running; those invocations then return errors promptly and DuckDB
    rolls the interrupted statement back, so the database holds each model either as before or as after.

    `database_path`, when given, is passed to every call as the `database_path` var (the profile convention
    of planalign's own project and of generated test projects) and must name a file whose stem is the
    database the manifest was parsed for: dbt fixes each relation's database name at parse time.
    """

    def __init__(
        self,
        project_dir: Path,
        profiles_dir: Path | None,
        target: str | None,
        manifest: ProjectManifest,
        base_vars: Mapping[str, Any] | None = None,
        database_path: Path | None = None,
        *,
        full_refresh: bool = False,
        extra_run_flags: Sequence[str] = FAST_RUN_FLAGS,
    ) -> None:
        if manifest.dbt_manifest is None:
            raise ProjectParseError(
                "DbtInvoker needs a manifest parsed in-process (planalign.manifest.parse_project)"
            )
        self.project_dir = project_dir.resolve()
        self.profiles_dir = profiles_dir
        self.target = target
        self.manifest = manifest
        self.base_vars: dict[str, Any] = dict(base_vars or {})
        self.database_path = database_path
        if database_path is not None:
            self.base_vars["database_path"] = str(database_path)
            self._check_database_matches(database_path)
        self.full_refresh = full_refresh
        self.extra_run_flags = tuple(extra_run_flags)
        self._status = dbt_isolation.install()
        self._serial_lock = threading.Lock()

    def _check_database_matches(self, database_path: Path) -> None:
        expected = database_path.stem
        dbt_manifest: Any = self.manifest.dbt_manifest
        for node in dbt_manifest.nodes.values():
            database = getattr(node, "database", None)
            if getattr(node, "resource_type", None) == "model" and database and database != expected:
                raise ManifestDatabaseMismatchError(
                    f"the manifest was parsed for database {database!r} but the invoker writes "
                    f"{database_path} (database {expected!r}); parse with the same database_path"
                )

    @property
    def supports_concurrency(self) -> bool:
        return self._status.available

    @property
    def isolation(self) -> dbt_isolation.IsolationStatus:
        return self._status

    def _slot_key(self, command: str) -> Hashable:
        return (command, str(self.project_dir), str(self.profiles_dir), self.target, self.full_refresh)

    def _args(self, command: str, vars: Mapping[str, Any] | None) -> list[str]:
        merged = {**self.base_vars, **(vars or {})}
        args = [
            command,
            *dbt_common_args(
                self.project_dir, profiles_dir=self.profiles_dir, target=self.target, vars=merged
            ),
        ]
        if self.full_refresh and command in {"run", "seed", "build"}:
            args.append("--full-refresh")
        return args

    @staticmethod
    def selector_for(node: ManifestNode) -> str:
        """A selector matching exactly this node: its fully qualified name, else its name."""
        return "fqn:" + ".".join(node.fqn) if node.fqn else node.name

    def _invoke(self, args: list[str], *, key: Hashable, exclusive: bool, node_id: str | None = None) -> Any:
        from dbt.cli.main import dbtRunner

        with contextlib.ExitStack() as stack:
            stack.enter_context(dbt_isolation.invocation_slot(key, exclusive=exclusive))
            if node_id is not None:
                stack.enter_context(dbt_isolation.exclusive_nodes(self.manifest.dbt_manifest, node_id))
            if self._status.available:
                return dbtRunner(manifest=self.manifest.dbt_manifest).invoke(args)
            with self._serial_lock:
                return dbtRunner(manifest=self.manifest.dbt_manifest).invoke(args)

    def run_model(self, node: ManifestNode, *, vars: Mapping[str, Any]) -> InvocationOutcome:
        """Run one model; its outcome comes from its own invocation's result. Never raises for a model
        failure (errors are data)."""
        args = [*self._args("run", vars), "--select", self.selector_for(node), *self.extra_run_flags]
        try:
            res = self._invoke(args, key=self._slot_key("run"), exclusive=False, node_id=node.unique_id)
        except Exception as exc:  # dbtRunner itself raising is a failed attempt, not a crashed scheduler
            return InvocationOutcome(OutcomeStatus.ERROR, message=f"dbt invocation raised: {exc!r}")
        mine = [r for r in _results_of(res) if getattr(r.node, "unique_id", None) == node.unique_id]
        if not mine:
            if res.exception is not None:
                return _outcome_from_message(str(res.exception))
            return InvocationOutcome(
                OutcomeStatus.ERROR,
                message=f"dbt ran nothing for {node.unique_id} (selector {self.selector_for(node)!r})",
            )
        result = mine[0]
        status = str(getattr(result.status, "value", result.status))
        if status in _OK_STATUSES:
            response = getattr(result, "adapter_response", None) or {}
            rows = response.get("rows_affected") if isinstance(response, Mapping) else None
            return InvocationOutcome(
                OutcomeStatus.SUCCESS, rows_affected=rows if isinstance(rows, int) else None
            )
        return _outcome_from_message(result.message or f"{node.unique_id} ended with status {status}")

    def invoke(self, args: Sequence[str], *, vars: Mapping[str, Any] | None = None) -> InvocationOutcome:
        """Run a whole dbt command (`["seed"]`, `["test", "--select", "x"]`, `["run-operation", "m"]`)
        alone — no model runs concurrently with it. Project, profile, target and vars are added here."""
        if not args:
            raise ValueError("invoke() needs a dbt command")
        command, rest = args[0], list(args[1:])
        full = [*self._args(command, vars), *rest, "--no-write-json", "--log-level", "none"]
        try:
            res = self._invoke(full, key=self._slot_key(command), exclusive=True)
        except Exception as exc:
            return InvocationOutcome(OutcomeStatus.ERROR, message=f"dbt invocation raised: {exc!r}")
        failures = [
            r.message or f"{getattr(r.node, 'unique_id', '?')}: {r.status}"
            for r in _results_of(res)
            if str(getattr(r.status, "value", r.status)) not in _OK_STATUSES
        ]
        if res.success and not failures:
            return InvocationOutcome(OutcomeStatus.SUCCESS)
        if failures:
            return _outcome_from_message("\n".join(failures))
        detail = str(res.exception) if res.exception is not None else f"dbt {command} failed"
        return _outcome_from_message(detail)

    def apply_duckdb_memory_limit(self, value: str) -> None:
        """Set DuckDB's `memory_limit` (e.g. "4000MB") on this invoker's database, so DuckDB spills to disk
        instead of running out of memory. Applied every time dbt opens the database (every DuckDB file dbt
        opens in this process when the invoker has no `database_path`); needs the isolation layer, otherwise
        a warning says it was not applied."""
        if not dbt_isolation.set_duckdb_instance_setting(self.database_path, "memory_limit", value):
            logger.warning(
                "DuckDB memory_limit %s not applied to %s: isolation layer unavailable",
                value,
                self.database_path or "the project's database",
            )

    def close(self) -> None:
        """Release this invoker's DuckDB database (its file lock) once no invocation uses it. dbt-duckdb
        otherwise keeps it open for the life of the process; a later call reopens it."""
        if self.database_path is not None:
            dbt_isolation.close_idle_databases(self.database_path)

    def interrupt_all(self) -> int:
        """Interrupt the DuckDB statements running in this process's dbt invocations (see class doc)."""
        return dbt_isolation.interrupt_all()
