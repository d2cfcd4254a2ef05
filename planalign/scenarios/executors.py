"""Where a sharded sweep's shards run: one after another in this process (`local`), or as tasks of a Ray or
Dask cluster — a local one started for the sweep, or the user's (`--address`). docs/scaling.md.

Every executor runs the same shard body (`planalign.scenarios.shard_task`) and reports each result as it
arrives. The first failed shard stops the sweep: the shards still queued or running are cancelled (their
results would be thrown away: nothing is merged unless every shard succeeded). A lost worker is not a failed
shard: Ray re-runs the task (`max_retries`), Dask too (`retries=`, and the scheduler re-schedules the tasks
of a worker that died). Cancellation of the calling task (Ctrl-C) cancels the remote tasks — Ray interrupts
a running shard (`ray.cancel`), Dask releases it (a Dask worker cannot interrupt a running task; a local
cluster's workers are stopped with it) — and re-raises.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, Protocol

import anyio

from planalign.errors import PlanalignUsageError
from planalign.scenarios.shard_task import ShardBundle, ShardResult, ShardTask, run_shard, run_shard_async

ExecutorName = Literal["local", "ray", "dask"]
EXECUTORS: tuple[ExecutorName, ...] = ("local", "ray", "dask")
#: How often a shard whose worker was lost is run again.
LOST_WORKER_RETRIES = 3
#: How long one wait for remote results lasts before the loop looks at cancellation again.
_POLL_SECONDS = 0.5

ShardFunction = Callable[[ShardTask, ShardBundle], ShardResult]
AsyncShardFunction = Callable[[ShardTask, ShardBundle], Awaitable[ShardResult]]
OnResult = Callable[[ShardResult], None]


class ExecutorUnavailableError(PlanalignUsageError):
    """The executor asked for is not installed, or `--address` was given to one that takes none."""


def check_executor(name: str, address: str | None) -> None:
    """Refuse, before anything runs, an executor that is not installed or an address it cannot use."""
    if name not in EXECUTORS:
        raise ExecutorUnavailableError(f"--executor must be one of {', '.join(EXECUTORS)} (got {name!r})")
    if address is not None and name == "local":
        raise ExecutorUnavailableError(
            "--address names a Ray or Dask cluster to join; give it with --executor ray or --executor dask"
        )
    module = {"ray": "ray", "dask": "distributed"}.get(name)
    if module is not None and importlib.util.find_spec(module) is None:
        raise ExecutorUnavailableError(
            f"--executor {name} needs {name} installed: pip install 'planalign[{name}]'"
        )


class ShardExecutor(Protocol):
    name: str

    def slots(self) -> int:
        """How many shards can run at once (the default shard count spreads the sweep over them)."""
        ...

    async def run(
        self, tasks: Sequence[ShardTask], bundle: ShardBundle, on_result: OnResult
    ) -> list[ShardResult]:
        """Every task's result in the order they finished; stops at the first failed shard."""
        ...

    def close(self) -> None: ...


class LocalExecutor:
    """The shards one after another in this process: a sweep too big for one pass, on one machine."""

    name = "local"

    def __init__(self, function: AsyncShardFunction = run_shard_async) -> None:
        self._function = function

    def slots(self) -> int:
        return 1

    async def run(
        self, tasks: Sequence[ShardTask], bundle: ShardBundle, on_result: OnResult
    ) -> list[ShardResult]:
        results: list[ShardResult] = []
        for task in tasks:
            result = await self._function(task, bundle)
            results.append(result)
            on_result(result)
            if result.status != "complete":
                break
        return results

    def close(self) -> None:
        return None


class _RemoteExecutor:
    """Submit every shard, collect results as they finish, cancel the rest on failure or cancellation."""

    name = "remote"

    async def run(
        self, tasks: Sequence[ShardTask], bundle: ShardBundle, on_result: OnResult
    ) -> list[ShardResult]:
        pending = self._submit(tasks, bundle)
        results: list[ShardResult] = []
        try:
            while pending:
                done, pending = await anyio.to_thread.run_sync(self._wait, pending, abandon_on_cancel=True)
                for handle in done:
                    result = self._result(handle, tasks)
                    results.append(result)
                    on_result(result)
                    if result.status != "complete":
                        return results
        finally:
            if pending:
                self._cancel(pending)
        return results

    def _submit(self, tasks: Sequence[ShardTask], bundle: ShardBundle) -> list[Any]:
        raise NotImplementedError

    def _wait(self, pending: list[Any]) -> tuple[list[Any], list[Any]]:
        raise NotImplementedError

    def _outcome(self, handle: Any) -> ShardResult:
        raise NotImplementedError

    def _cancel(self, pending: list[Any]) -> None:
        raise NotImplementedError

    def _result(self, handle: Any, tasks: Sequence[ShardTask]) -> ShardResult:
        """The shard's result, or a failed result naming the error a task raised after its retries."""
        try:
            return self._outcome(handle)
        except Exception as exc:  # the task raised (a crash, a lost worker after its retries): a failure
            task = tasks[self._index[handle]]
            first = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
            return ShardResult(
                task.index,
                tuple(m.scenario_id for m in task.members),
                "failed",
                f"{type(exc).__name__}: {first}"[:500],
            )

    _index: dict[Any, int]


class RayExecutor(_RemoteExecutor):
    """Shards as Ray tasks; without `address`, a local Ray cluster of `workers` CPUs started here."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        workers: int | None = None,
        function: ShardFunction = run_shard,
        init_options: dict[str, Any] | None = None,
    ) -> None:
        ray: Any = importlib.import_module("ray")  # untyped; optional (planalign[ray])

        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            if address is None:
                # A private local cluster: no token file under $HOME (Ray 2.5x's default), no dashboard.
                os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            options |= init_options or {}
            ray.init(address=address, num_cpus=None if address else workers, **options)
            self._started = True
        self._remote = ray.remote(max_retries=LOST_WORKER_RETRIES, retry_exceptions=False, num_cpus=1)(
            function
        )
        self._index = {}

    def slots(self) -> int:
        return max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    def _submit(self, tasks: Sequence[ShardTask], bundle: ShardBundle) -> list[Any]:
        shared = self._ray.put(bundle)  # once in the object store, fetched once per node
        refs = [self._remote.remote(task, shared) for task in tasks]
        self._index = {r: i for i, r in enumerate(refs)}
        return refs

    def _wait(self, pending: list[Any]) -> tuple[list[Any], list[Any]]:
        done, rest = self._ray.wait(pending, num_returns=1, timeout=_POLL_SECONDS)
        return list(done), list(rest)

    def _outcome(self, handle: Any) -> ShardResult:
        result: ShardResult = self._ray.get(handle)
        return result

    def _cancel(self, pending: list[Any]) -> None:
        for ref in pending:
            self._ray.cancel(ref, recursive=True)

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False


class DaskExecutor(_RemoteExecutor):
    """Shards as Dask futures; without `address`, a local cluster of `workers` one-thread processes."""

    name = "dask"

    def __init__(
        self,
        address: str | None = None,
        *,
        workers: int | None = None,
        function: ShardFunction = run_shard,
    ) -> None:
        distributed: Any = importlib.import_module("distributed")  # untyped; optional (planalign[dask])
        Client, LocalCluster = distributed.Client, distributed.LocalCluster
        self._distributed = distributed
        self._cluster: Any = None
        if address is None:
            self._cluster = LocalCluster(
                n_workers=workers or os.cpu_count() or 1,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            self._client: Any = Client(self._cluster)
        else:
            self._client = Client(address)
        self._function = function
        self._index = {}

    def slots(self) -> int:
        workers = self._client.scheduler_info().get("workers", {})
        return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))

    def _submit(self, tasks: Sequence[ShardTask], bundle: ShardBundle) -> list[Any]:
        # In each task, not scattered: scattered data dies with the worker holding it, and the retry of a
        # lost worker's shard would then fail; a task's own arguments stay with the scheduler.
        futures = [
            self._client.submit(self._function, task, bundle, retries=LOST_WORKER_RETRIES, pure=False)
            for task in tasks
        ]
        self._index = {f: i for i, f in enumerate(futures)}
        return futures

    def _wait(self, pending: list[Any]) -> tuple[list[Any], list[Any]]:
        try:
            done, rest = self._distributed.wait(pending, timeout=_POLL_SECONDS, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return [], pending
        return list(done), list(rest)

    def _outcome(self, handle: Any) -> ShardResult:
        result: ShardResult = handle.result()
        return result

    def _cancel(self, pending: list[Any]) -> None:
        for future in pending:
            future.cancel()

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def make_executor(name: ExecutorName, address: str | None = None) -> ShardExecutor:
    """The executor `name` (checked with `check_executor` first)."""
    check_executor(name, address)
    if name == "ray":
        return RayExecutor(address)
    if name == "dask":
        return DaskExecutor(address)
    return LocalExecutor()
