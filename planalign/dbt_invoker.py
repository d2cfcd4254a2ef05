"""`DbtInvoker`: the real `BatchModelInvoker` — one in-process `dbtRunner(manifest=...).invoke()` per model,
or per batch of models.

Kept apart from `planalign.invocation` (the protocol) so that the scheduler and its fake invokers never
import dbt.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from collections.abc import Hashable, Mapping, Sequence
from datetime import UTC, datetime
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
#: (a run of a few models only needs their own relations, which dbt then looks up on demand), and one dbt
#: thread: the engine supplies the concurrency, and dbt's relation cache is not safe without pre-population
#: when its own threads rename relations at once (observed: "Cache inconsistency detected: in rename").
FAST_RUN_FLAGS: tuple[str, ...] = (
    "--no-write-json",
    "--log-level",
    "none",
    "--log-level-file",
    "none",
    "--no-populate-cache",
    "--threads",
    "1",
)

#: The largest batch `run_models` accepts when the isolation can stop a batch (`IsolationStatus.batch_stop`).
MAX_MODELS_PER_INVOCATION = 1024


def batch_limit(status: dbt_isolation.IsolationStatus) -> int:
    """The largest batch an invoker may run under this isolation status: batches need the batch stop, so
    that a cancelled batch does not run to its end; without it, one model per invocation."""
    return MAX_MODELS_PER_INVOCATION if status.available and status.batch_stop else 1


def _outcome_from_message(message: str) -> InvocationOutcome:
    retryable = not message.lstrip().startswith(_NON_RETRYABLE_PREFIXES)
    return InvocationOutcome(OutcomeStatus.ERROR, message=message, retryable=retryable)


def _epoch(value: Any) -> float | None:
    """dbt's timing datetimes are naive UTC."""
    if not isinstance(value, datetime):
        return None
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()


def _node_span(result: Any) -> tuple[float | None, float | None]:
    """(start, end) in epoch seconds of a node result: from its first timing step to its last."""
    steps = getattr(result, "timing", None) or ()
    starts = [t for t in (_epoch(getattr(step, "started_at", None)) for step in steps) if t is not None]
    ends = [t for t in (_epoch(getattr(step, "completed_at", None)) for step in steps) if t is not None]
    if not starts or not ends:
        return None, None
    return min(starts), max(ends)


def _results_of(res: Any) -> list[Any]:
    execution = getattr(res, "result", None)
    results = getattr(execution, "results", None)
    return list(results) if results else []


class DbtInvoker:
    """Runs models (one, or a batch per invocation) and whole dbt commands in this process through
    `dbtRunner(manifest=...)`.

    Thread-safety: `run_model` and `run_models` may be called from any number of threads at once when
    `supports_concurrency` is True (the isolation layer is active): each call is its own dbt invocation with
    its own adapter and DuckDB cursor, sharing one DuckDB database per file. Calls whose process-global dbt
    flags would differ (another invoker with `full_refresh` set differently, another project or target)
    wait for each other through `dbt_isolation.invocation_slot`; `invoke()` (seed, test, run-operation,
    ...) always runs alone.
    When the isolation is unavailable every call is serialized, and `supports_concurrency` is False.

    Concurrent calls for the *same* model (e.g. two simulations sharing one manifest) take turns, because
    dbt compiles into the shared manifest's node (`dbt_isolation.exclusive_nodes`).

    A batch (`run_models`) is one `dbt run --select <each model> --threads 1`: dbt runs its models one after
    another in dependency order and skips those whose dependency in the batch failed; each model's outcome
    and timing come from its own node result.

    Each model's outcome is taken only from the result its own `invoke()` returns — dbt's event callbacks are
    process-global and would mix concurrent invocations.

    The database stays open between calls (dbt-duckdb's `keep_open`, default true), which also holds the
    DuckDB file lock for this process: `close()` releases it when the caller is done.

    Cancellation: a call cannot be abandoned half-way by its thread, but `interrupt_all()` makes DuckDB abort
    the statements currently running and running invocations start no further model (the rest of a batch is
    NOT_RUN); those invocations then return promptly and DuckDB rolls the interrupted statement back, so the
    database holds each model either as before or as after.

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

    @property
    def max_models_per_invocation(self) -> int:
        return batch_limit(self._status)

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

    def _invoke(
        self, args: list[str], *, key: Hashable, exclusive: bool, node_ids: Sequence[str] = ()
    ) -> Any:
        from dbt.cli.main import dbtRunner

        with contextlib.ExitStack() as stack:
            stack.enter_context(dbt_isolation.invocation_slot(key, exclusive=exclusive))
            if node_ids:
                stack.enter_context(dbt_isolation.exclusive_nodes(self.manifest.dbt_manifest, node_ids))
            stack.enter_context(dbt_isolation.stoppable_invocation())
            if self._status.available:
                return dbtRunner(manifest=self.manifest.dbt_manifest).invoke(args)
            with self._serial_lock:
                return dbtRunner(manifest=self.manifest.dbt_manifest).invoke(args)

    def run_model(self, node: ManifestNode, *, vars: Mapping[str, Any]) -> InvocationOutcome:
        """Run one model; its outcome comes from its own invocation's result. Never raises for a model
        failure (errors are data)."""
        return self.run_models([node], vars=vars)[node.unique_id]

    def run_models(
        self, nodes: Sequence[ManifestNode], *, vars: Mapping[str, Any]
    ) -> dict[str, InvocationOutcome]:
        """Run the models in one invocation (see the class docstring); an outcome for each, never raises for
        a model failure. More than `max_models_per_invocation` models is a programming error."""
        if not nodes:
            return {}
        if len(nodes) > self.max_models_per_invocation:
            limit = self.max_models_per_invocation
            raise ValueError(f"{len(nodes)} models in one invocation; this invoker accepts {limit}")
        selectors = [self.selector_for(node) for node in nodes]
        args = [*self._args("run", vars), "--select", *selectors, *self.extra_run_flags]
        ids = [node.unique_id for node in nodes]
        try:
            res = self._invoke(args, key=self._slot_key("run"), exclusive=False, node_ids=ids)
        except Exception as exc:  # dbtRunner itself raising is a failed attempt, not a crashed scheduler
            failed = InvocationOutcome(OutcomeStatus.ERROR, message=f"dbt invocation raised: {exc!r}")
            return dict.fromkeys(ids, failed)
        by_id = {getattr(r.node, "unique_id", None): r for r in _results_of(res)}
        return {node.unique_id: self._outcome(node, by_id.get(node.unique_id), res) for node in nodes}

    def _outcome(self, node: ManifestNode, result: Any, res: Any) -> InvocationOutcome:
        if result is None:
            if res.exception is not None:
                return _outcome_from_message(str(res.exception))
            return InvocationOutcome(
                OutcomeStatus.ERROR,
                message=f"dbt ran nothing for {node.unique_id} (selector {self.selector_for(node)!r})",
            )
        status = str(getattr(result.status, "value", result.status))
        started, completed = _node_span(result)
        if status in _OK_STATUSES:
            response = getattr(result, "adapter_response", None) or {}
            rows = response.get("rows_affected") if isinstance(response, Mapping) else None
            return InvocationOutcome(
                OutcomeStatus.SUCCESS,
                rows_affected=rows if isinstance(rows, int) else None,
                started_at=started,
                completed_at=completed,
            )
        if status == "skipped":
            return InvocationOutcome(OutcomeStatus.NOT_RUN, message=result.message or "skipped by dbt")
        outcome = _outcome_from_message(result.message or f"{node.unique_id} ended with status {status}")
        return dataclasses.replace(outcome, started_at=started, completed_at=completed)

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
