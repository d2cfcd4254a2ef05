"""`DbtInvoker`: the real `BatchModelInvoker` — one in-process `dbtRunner(manifest=...).invoke()` per model,
or per batch of models.

Kept apart from `planalign.engine.invocation` (the protocol) so that the scheduler and its fake invokers never
import dbt.

Why it is long: the class docstring is the invoker's contract with the engine (isolation, batches,
cancellation, time limits, retries) and `is_transient` the error classification with the messages it
recognizes; the code itself is a few short methods.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import re
import threading
import traceback
from collections.abc import Hashable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from planalign.dbt import isolation as dbt_isolation
from planalign.dbt.catalog import catalog_name
from planalign.dbt.files import DbtFiles
from planalign.dbt.manifest import dbt_common_args
from planalign.dbt.run_results import project_target_dir
from planalign.engine.invocation import (
    MODEL_TIMEOUT_SETTING,
    InvocationOutcome,
    InvocationScope,
    OutcomeStatus,
    current_scope,
)
from planalign.engine.nodes import ManifestNode, ProjectManifest
from planalign.engine.results import RUN_RESULTS_FILENAME, load_durations
from planalign.errors import ManifestDatabaseMismatchError, ProjectParseError

logger = logging.getLogger(__name__)

#: dbt's own errors about the project (message prefixes): a retry compiles the same project again.
_DBT_PROJECT_ERRORS = ("Compilation Error", "Parsing Error", "Dependency Error")

#: DuckDB error classes (the "<class> Error: ..." its messages start with, which dbt-duckdb passes through
#: inside "Runtime Error in model ...") that depend only on the SQL and the data it reads, so a retry fails
#: the same way: bad SQL (parser, syntax, binder, catalog), bad data (conversion, out of range, constraint,
#: invalid input, ...), and DuckDB's own internal and fatal errors (a fatal error invalidates the database
#: instance, which no retry in this process can reopen).
DETERMINISTIC_DUCKDB_ERRORS: frozenset[str] = frozenset(
    {
        "Binder",
        "Catalog",
        "Constraint",
        "Conversion",
        "Decimal",
        "Dependency",
        "Divide by Zero",
        "Expression",
        "FATAL",
        "INTERNAL",
        "Invalid",
        "Invalid Configuration",
        "Invalid Input",
        "Invalid type",
        "Mismatch Type",
        "Missing Extension",
        "Not implemented",
        "Object Size",
        "Optimizer",
        "Out of Range",
        "Parameter Not Allowed",
        "Parameter Not Resolved",
        "Parser",
        "Permission",
        "Planner",
        "Sequence",
        "Settings",
        "Syntax",
        "Unknown Type",
    }
)

#: DuckDB error classes a retry may fix: the file lock held by another process ("IO Error: Could not set
#: lock on file"), other I/O, memory, a write-write conflict between concurrent transactions, a network or
#: HTTP failure of an extension, an interrupt that was neither a cancellation nor a time limit.
TRANSIENT_DUCKDB_ERRORS: frozenset[str] = frozenset(
    {"Connection", "HTTP", "INTERRUPT", "IO", "Network", "Out of Memory", "TransactionContext"}
)

_KNOWN_CLASSES = sorted(DETERMINISTIC_DUCKDB_ERRORS | TRANSIENT_DUCKDB_ERRORS, key=len, reverse=True)
_DUCKDB_ERROR_CLASS = re.compile(r"(?<![A-Za-z])(" + "|".join(map(re.escape, _KNOWN_CLASSES)) + r") Error:")

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


def is_transient(message: str) -> bool:
    """Whether a failed model's message (dbt's, with DuckDB's inside) names a failure a retry may fix.

    Transient: any DuckDB error class in `TRANSIENT_DUCKDB_ERRORS` (it wins when the message also holds a
    deterministic one, e.g. an I/O error while reporting a catalog error). Deterministic: dbt's errors about
    the project (compilation, parsing, dependencies) and the classes in `DETERMINISTIC_DUCKDB_ERRORS`.
    Anything else — an error of dbt itself or of Python, with no DuckDB class — is treated as transient, as
    the errors of concurrent dbt internals are; it is retried at most `max_retries_per_model` times.
    """
    text = message.lstrip()
    classes = {m.group(1) for m in _DUCKDB_ERROR_CLASS.finditer(text)}
    if classes & TRANSIENT_DUCKDB_ERRORS:
        return True
    if text.startswith(_DBT_PROJECT_ERRORS):
        return False
    return not classes & DETERMINISTIC_DUCKDB_ERRORS


#: The logger an invocation's exception traceback is logged to, at DEBUG (the CLI's `--debug` shows it).
TRACEBACK_LOGGER = "planalign.dbt.tracebacks"
_traceback_log = logging.getLogger(TRACEBACK_LOGGER)
#: Each dbt command line an invocation runs, at DEBUG (`planalign run --log-level debug` shows them).
_command_log = logging.getLogger("planalign.dbt.invoker")


def _outcome_from_message(message: str, exc: BaseException | None = None) -> InvocationOutcome:
    """A failed attempt; with `exc` (dbt raised, or returned an exception) its traceback is kept in the
    outcome and logged at DEBUG to `TRACEBACK_LOGGER` — `repr(exc)` alone does not say where dbt failed."""
    trace = None
    if exc is not None:
        trace = "".join(traceback.format_exception(exc))
        _traceback_log.debug("dbt invocation failed: %s\n%s", message, trace)
    return InvocationOutcome(
        OutcomeStatus.ERROR, message=message, retryable=is_transient(message), traceback=trace
    )


def _report_failure(
    scope: InvocationScope, token: dbt_isolation.StopToken, unique_id: str, message: str | None
) -> None:
    """A node of a fail-fast scope's invocation ended in an error (dbt's pool thread, before the next node
    of the batch starts): tell the scope, which stops every invocation of the run when the failure is
    final. A node over its time limit is never retried; otherwise the message's class decides."""
    retryable = unique_id not in token.timed_out and is_transient(message or "")
    scope.model_failed(unique_id, retryable=retryable)


def timed_out_message(name: str, limit_s: float) -> str:
    """The error of a model interrupted for running longer than its limit."""
    return (
        f"{name} timed out after {limit_s:g} s and was interrupted; if it needs longer, raise "
        f"{MODEL_TIMEOUT_SETTING}"
    )


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


def _node_steps(result: Any) -> tuple[tuple[str, float, float], ...]:
    """dbt's timing steps of a node result (compile, execute) as (name, start, end) epoch seconds."""
    steps = []
    for step in getattr(result, "timing", None) or ():
        start, end = _epoch(getattr(step, "started_at", None)), _epoch(getattr(step, "completed_at", None))
        if start is not None and end is not None:
            steps.append((str(getattr(step, "name", "")), start, end))
    return tuple(steps)


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

    Cancellation is scoped: each call registers its invocation under the caller's current
    `planalign.engine.invocation.InvocationScope` (the engine's run), and stopping that scope makes DuckDB
    abort the
    statements of those invocations only — never another engine's — and makes them start no further model
    (the rest of a batch is NOT_RUN); they then return promptly and DuckDB rolls the interrupted statement
    back, so the database holds each model either as before or as after.

    Time limit: a model running longer than the scope's `model_timeout_s` (else the invoker's own
    `model_timeout_s`) is interrupted the same way — only its own invocation's connection — and fails with a
    non-retryable error saying so (`timed_out_message`); the models after it in a batch still run. The limit
    counts from the moment dbt starts the model (compiling included), for each model of a batch on its own.

    `database_path`, when given, is passed to every call as the `database_path` var (the profile convention
    of planalign's own project and of generated test projects) and must name a file whose catalog name
    (`planalign.dbt.catalog`) is the database the manifest was parsed for: dbt fixes each relation's
    database name at parse time.
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
        model_timeout_s: float | None = None,
        profile: str | None = None,
        files: DbtFiles | None = None,
    ) -> None:
        if manifest.dbt_manifest is None:
            raise ProjectParseError(
                "DbtInvoker needs a manifest parsed in-process (planalign.dbt.manifest.parse_project)"
            )
        self.project_dir = project_dir.resolve()
        self.profiles_dir = profiles_dir
        self.target = target
        self.profile = profile  # dbt's --profile; None: the one dbt_project.yml names
        #: Where dbt writes its target (compiled SQL) and logs; None: dbt's defaults, in the project.
        self.files = files
        self.manifest = manifest
        self.base_vars: dict[str, Any] = dict(base_vars or {})
        self.database_path = database_path
        if database_path is not None:
            self.base_vars["database_path"] = str(database_path)
            self._check_database_matches(database_path)
        self.full_refresh = full_refresh
        self.extra_run_flags = tuple(extra_run_flags)
        if model_timeout_s is not None and not model_timeout_s > 0:
            raise ValueError(f"model_timeout_s must be positive, got {model_timeout_s}")
        #: The per-model limit of calls made outside any scope (whole commands such as `dbt test` included),
        #: None: unlimited. Inside a scope, the scope's limit applies.
        self.model_timeout_s = model_timeout_s
        self._status = dbt_isolation.install()
        self._serial_lock = threading.Lock()

    def _check_database_matches(self, database_path: Path) -> None:
        # DuckDB's catalog name, not the stem: `sim.v2.duckdb` is catalog `sim`, as dbt-duckdb parsed it.
        expected = catalog_name(database_path)
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

    @property
    def target_dir(self) -> Path:
        """Where dbt writes this invoker's artifacts: `files`' target path, else the last `--target-path` of
        the run flags, else dbt_project.yml's `target-path` (relative to the project), else `target`."""
        if self.files is not None:
            return self.files.target_path
        flags = self.extra_run_flags
        given = [flags[i + 1] for i, flag in enumerate(flags[:-1]) if flag == "--target-path"]
        return project_target_dir(self.project_dir, given[-1] if given else None)

    def recorded_durations(self) -> dict[str, float]:
        """The per-model seconds of the previous `planalign run` into this target (its
        `planalign_run_results.json`; `{}` when there is none), which the engine plans priorities with
        (`planalign.engine.invocation.RecordsDurations`)."""
        return load_durations(self.target_dir / RUN_RESULTS_FILENAME)

    def _slot_key(self, command: str) -> Hashable:
        """What makes dbt's process-global flags differ between invocations (see
        `planalign.dbt.isolation.slots`): the command, project, profiles, profile, target, `--full-refresh`,
        and the extra run flags, which are dbt flags too — `--no-populate-cache`, `--threads`, the log levels
        and `--no-write-json` are read from the global flags while models run, so two invokers with different
        `extra_run_flags` must not run together; so are the target and log paths (`files`).
        (`invoke()` runs alone whatever its key.)"""
        return (
            command,
            str(self.project_dir),
            str(self.profiles_dir),
            self.profile,
            self.target,
            self.full_refresh,
            self.extra_run_flags,
            self.files,
        )

    def _args(self, command: str, vars: Mapping[str, Any] | None) -> list[str]:
        merged = {**self.base_vars, **(vars or {})}
        args = [
            command,
            *dbt_common_args(
                self.project_dir,
                profiles_dir=self.profiles_dir,
                target=self.target,
                vars=merged,
                profile=self.profile,
            ),
            *(self.files.args() if self.files is not None else ()),
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
    ) -> tuple[Any, dbt_isolation.StopToken]:
        """One dbt invocation in the caller's scope: (dbt's result, the invocation's stop token)."""
        from dbt.cli.main import dbtRunner

        scope = current_scope()
        timeout = scope.model_timeout_s if scope is not None else self.model_timeout_s
        with contextlib.ExitStack() as stack:
            stack.enter_context(dbt_isolation.invocation_slot(key, exclusive=exclusive))
            if node_ids:
                stack.enter_context(dbt_isolation.exclusive_nodes(self.manifest.dbt_manifest, node_ids))
            token = stack.enter_context(dbt_isolation.stoppable_invocation(scope, model_timeout_s=timeout))
            if scope is not None and scope.fail_fast:
                token.on_node_error = functools.partial(_report_failure, scope, token)
            if not self._status.available:
                stack.enter_context(self._serial_lock)
            res = dbtRunner(manifest=self.manifest.dbt_manifest).invoke(args)
            dbt_isolation.finish_invocation(token, clean=bool(res.success) and res.exception is None)
            return res, token

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
        _command_log.debug("dbt %s", " ".join(args))
        try:
            res, token = self._invoke(args, key=self._slot_key("run"), exclusive=False, node_ids=ids)
        except Exception as exc:  # dbtRunner itself raising is a failed attempt, not a crashed scheduler
            failed = _outcome_from_message(f"dbt invocation raised: {exc!r}", exc)
            return dict.fromkeys(ids, failed)
        by_id = {getattr(r.node, "unique_id", None): r for r in _results_of(res)}
        outcomes = {node.unique_id: self._outcome(node, by_id.get(node.unique_id), res) for node in nodes}
        whole = token.timed_out.get(None) if len(nodes) == 1 else None  # nodes not timed one by one
        failed_fast = scope.failed_fast if (scope := current_scope()) is not None else None
        for node in nodes:
            exceeded = token.timed_out.get(node.unique_id, whole)
            outcome = outcomes[node.unique_id]
            if exceeded is not None and outcome.status is OutcomeStatus.ERROR:
                outcomes[node.unique_id] = dataclasses.replace(
                    outcome, message=timed_out_message(node.name, exceeded), retryable=False
                )
            elif (
                failed_fast is not None
                and node.unique_id != failed_fast
                and node.unique_id in token.interrupted
                and outcome.status is OutcomeStatus.ERROR
            ):
                # Interrupted because another model failed fast: dbt skips such a node, it did not fail.
                outcomes[node.unique_id] = InvocationOutcome(
                    OutcomeStatus.NOT_RUN, message="interrupted: the run failed fast"
                )
        return outcomes

    def _outcome(self, node: ManifestNode, result: Any, res: Any) -> InvocationOutcome:
        if result is None:
            if res.exception is not None:
                return _outcome_from_message(str(res.exception), res.exception)
            return InvocationOutcome(
                OutcomeStatus.ERROR,
                message=f"dbt ran nothing for {node.unique_id} (selector {self.selector_for(node)!r})",
            )
        status = str(getattr(result.status, "value", result.status))
        started, completed = _node_span(result)
        steps = _node_steps(result)
        if status in _OK_STATUSES:
            return InvocationOutcome(
                OutcomeStatus.SUCCESS, started_at=started, completed_at=completed, steps=steps
            )
        if status == "skipped":
            return InvocationOutcome(OutcomeStatus.NOT_RUN, message=result.message or "skipped by dbt")
        outcome = _outcome_from_message(result.message or f"{node.unique_id} ended with status {status}")
        return dataclasses.replace(outcome, started_at=started, completed_at=completed, steps=steps)

    def invoke(self, args: Sequence[str], *, vars: Mapping[str, Any] | None = None) -> InvocationOutcome:
        """Run a whole dbt command (`["seed"]`, `["test", "--select", "x"]`, `["run-operation", "m"]`)
        alone — no model runs concurrently with it. Project, profile, target and vars are added here."""
        if not args:
            raise ValueError("invoke() needs a dbt command")
        command, rest = args[0], list(args[1:])
        full = [*self._args(command, vars), *rest, "--no-write-json", "--log-level", "none"]
        try:
            res, token = self._invoke(full, key=self._slot_key(command), exclusive=True)
        except Exception as exc:
            return _outcome_from_message(f"dbt invocation raised: {exc!r}", exc)
        failures = []
        for r in _results_of(res):
            if str(getattr(r.status, "value", r.status)) in _OK_STATUSES:
                continue
            unique_id = getattr(r.node, "unique_id", "?")
            limit = token.timed_out.get(unique_id)
            if limit is not None:
                failures.append(timed_out_message(getattr(r.node, "name", unique_id), limit))
            else:
                failures.append(r.message or f"{unique_id}: {r.status}")
        if res.success and not failures:
            return InvocationOutcome(OutcomeStatus.SUCCESS)
        if token.timed_out:
            return InvocationOutcome(OutcomeStatus.ERROR, message="\n".join(failures), retryable=False)
        if failures:
            return _outcome_from_message("\n".join(failures))
        if res.exception is not None:
            return _outcome_from_message(str(res.exception), res.exception)
        return _outcome_from_message(f"dbt {command} failed")

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
