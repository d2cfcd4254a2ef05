"""How many dbt invocations at once, and how many models in each, by where the SQL runs — the one rule.

Concurrency pays only where the work happens outside this process's cores. Two places SQL runs:

* **Embedded** (dbt-duckdb on a local file): the queries run in this process, on this machine's cores, and
  DuckDB already spreads each query over every core; concurrent invocations add dbt's Python work (one
  interpreter lock) on top of cores DuckDB already uses. Measured on the 2-core machine of
  docs/benchmarks.md: `simulate` with 4 workers was 0.84–0.95× as fast as one worker (issue #21), i.e.
  parallel was slower. The rule: at most one worker per `EMBEDDED_CORES_PER_WORKER` cores available to this
  process, never more than configured — one worker on 2 or 3 cores, two on 4, four on 8. (Above 2 cores this
  is not measured here: it keeps a core per worker for DuckDB's own threads, the reason parallel lost on 2.)
* **Server** (any other adapter — PostgreSQL is the tested one): the queries run on the warehouse, this
  process mostly waits for them, so the configured workers are used, whatever this machine's cores — as
  `dbt run --threads N` does. Measured with PostgreSQL 15 on the same 2-core machine (the server sharing
  it), 150-model generated DAG: 4 workers took 0.65–0.90 of one worker's time (issue #21); with
  server-bound models (each waits 0.2 s on the server) see docs/benchmarks.md "PostgreSQL".

An explicit setting always wins (`planalign run --workers`, `simulate --workers`, the configuration's
`worker_rule: fixed` or its environment variable): then exactly the configured workers run. The choice is
said once, in words (`WorkerChoice.reason`), and records keep both numbers.

Batches (models per invocation) amortize dbt's fixed cost per invocation (~30 ms) against concurrency:
models of one batch run one after another. Embedded, the fixed cost matters and batches of up to 64 are the
measured default (docs/benchmarks.md). On a server each model's query is long next to that cost, and a
batch serializes queries the server could run at once. Measured on PostgreSQL (docs/benchmarks.md
"PostgreSQL", 150 server-bound models, 4 workers, after the `behavior-flags-copy` fix — before it one model
per invocation was quadratic and took 355 s): one model per invocation 104.6 s and 106.6 s against 117.7 s
and 125.3 s with batches of up to 8 (two rounds, taken by turns), so a server warehouse runs
`SERVER_MODELS_PER_INVOCATION` = 1 model per invocation unless told otherwise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from planalign.dbt.isolation import IsolationStatus
    from planalign.engine.runner import InvokerCapabilities

#: Adapters whose SQL runs inside this process.
EMBEDDED_ADAPTERS = frozenset({"duckdb"})
#: Cores available per worker on an embedded database (see the module docstring).
EMBEDDED_CORES_PER_WORKER = 2
#: Models per invocation on an embedded database (the engine's own default).
EMBEDDED_MODELS_PER_INVOCATION = 64
#: Models per invocation on a server warehouse (see the module docstring).
SERVER_MODELS_PER_INVOCATION = 1


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, which containers and `taskset` narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no sched_getaffinity (macOS): every core
        return max(1, os.cpu_count() or 1)


def is_embedded(adapter_type: str) -> bool:
    """Whether an adapter's SQL runs in this process (see the module docstring)."""
    return adapter_type in EMBEDDED_ADAPTERS


@dataclass(frozen=True)
class WorkerChoice:
    """The workers configured, the workers that run, and why, in words."""

    configured: int
    effective: int
    reason: str

    def describe(self) -> dict[str, int | str]:
        return {"configured": self.configured, "effective": self.effective, "reason": self.reason}


def choose_workers(
    configured: int, *, adapter_type: str, explicit: bool = False, cores: int | None = None
) -> WorkerChoice:
    """The effective workers for `configured` (the upper bound, `max_workers`) on `adapter_type`'s
    database with `cores` available (default: this process's) — the module docstring's rule."""
    if configured < 1:
        raise ValueError(f"configured workers must be at least 1, got {configured}")
    if explicit:
        return WorkerChoice(configured, configured, f"{configured} worker(s), as set explicitly")
    if not is_embedded(adapter_type):
        return WorkerChoice(
            configured,
            configured,
            f"{configured} worker(s): the SQL runs on the {adapter_type} server, so up to {configured} "
            "queries run there at once whatever this machine's cores",
        )
    cores = available_cores() if cores is None else cores
    cap = max(1, cores // EMBEDDED_CORES_PER_WORKER)
    if cap >= configured:
        return WorkerChoice(
            configured,
            configured,
            f"{configured} worker(s): embedded {adapter_type} with {cores} cores "
            f"(up to one worker per {EMBEDDED_CORES_PER_WORKER} cores)",
        )
    return WorkerChoice(
        configured,
        cap,
        f"{cap} worker(s) of the {configured} configured: embedded {adapter_type} runs every query on this "
        f"machine's {cores} cores, where more workers were measured slower (one worker per "
        f"{EMBEDDED_CORES_PER_WORKER} cores; set worker_rule: fixed or --workers to use {configured})",
    )


def default_models_per_invocation(adapter_type: str) -> int:
    """Models per dbt invocation when the user did not say (see the module docstring)."""
    return EMBEDDED_MODELS_PER_INVOCATION if is_embedded(adapter_type) else SERVER_MODELS_PER_INVOCATION


def adapter_type_of(dbt_manifest: object | None) -> str:
    """The adapter type a parsed dbt manifest was built for (dbt's `metadata.adapter_type`); "duckdb" when
    unknown (a manifest read from JSON without it): the embedded rule is the cautious one."""
    metadata = getattr(dbt_manifest, "metadata", None)
    adapter_type = getattr(metadata, "adapter_type", None)
    return str(adapter_type) if adapter_type else "duckdb"


def capabilities(status: IsolationStatus) -> InvokerCapabilities:
    """What a `DbtInvoker` under this isolation status can do, for the plans of views that run nothing
    (`planalign.engine.runner.plan_for`): invocations at once when the isolation is available, batches up to
    `planalign.dbt.invoker.batch_limit`. A run takes the same from its invoker (`capabilities_of`)."""
    from planalign.dbt.invoker import batch_limit
    from planalign.engine.runner import InvokerCapabilities

    return InvokerCapabilities(bool(status.available), batch_limit(status))
