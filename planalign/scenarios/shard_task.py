"""What one shard of a sharded sweep does where it runs: unpack the project and census it was sent, run one
ordinary sweep pass over its members (`planalign.scenarios.sweep.run_pass`, the one-pass sweep's own
function) into a DuckDB file in a private temporary directory, and send back its tables as Parquet.

No shared file system is assumed: the driver sends the dbt project (a tar of the project directory without
`target/`, `logs/` or database files, and the profiles file when it lives elsewhere) and the census file's
bytes (`ShardBundle`, made once per sweep and shipped once per worker by the executor); the worker sends back
`ShardResult`, whose tables are Parquet bytes with their DuckDB column types (so the merge recreates them
exactly, `planalign.scenarios.shard_merge`). A shard of a sweep that keeps summaries (`ShardTask.keep`,
`--keep summaries`) first stores its members' yearly figures in its own database
(`planalign.scenarios.member_figures`: the comparison's query, on the tables it just built) and sends back
only those, the scenario dimension and the seed tables; the names and column types of the other per-member
tables still travel (without rows), so the merge removes stale ones from the sweep database. The temporary
directory is removed when the shard ends, whatever happened. The project itself is unpacked once per bundle
content per machine and shared read-only (`planalign.scenarios.shard_projects`), and every shard of a sweep
parses with its first shard's `scenarios` var (`ShardTask.parse_members`): so the second and later shards
on a machine start from the first one's cached dbt parse instead of parsing in full.

`run_shard` is the entry point of a Ray or Dask task (a plain function, so the executors can pickle it by
reference; planalign must be installed on the workers); `run_shard_async` is the same in an event loop (the
local executor awaits it, so Ctrl-C interrupts its dbt queries as in a one-pass sweep).
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import io
import os
import resource
import shutil
import socket
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import anyio
import duckdb

from planalign.scenarios.expansion import Member
from planalign.scenarios.member_figures import SUMMARY_TABLE, store_member_figures
from planalign.scenarios.shard_projects import shared_project
from planalign.scenarios.sweep import pass_orchestrator, run_pass
from planalign.scenarios.sweep_directory import Keep
from planalign.simulation.assumptions_resolve import PARAMETER_TABLES
from planalign.simulation.config import SimulationConfig
from planalign.simulation.config_loading import apply_overrides
from planalign.simulation.state import STATUS_SCHEMA, DatabaseIdentity

#: What the project tar leaves out: dbt's build output and logs, and databases (the shard makes its own).
_SKIPPED_DIRS = frozenset({"target", "logs", "__pycache__", ".git"})
_SKIPPED_SUFFIXES = (".duckdb", ".duckdb.wal", ".wal")
_PREFIX = "planalign-shard"
_LOCK = ".planalign-shard.lock"


@dataclass(frozen=True)
class ShardBundle:
    """The files every shard needs, as bytes: the dbt project, the census, the profiles file if separate."""

    project_tar: bytes
    census: bytes
    census_suffix: str
    separate_profiles: bool

    @property
    def size(self) -> int:
        return len(self.project_tar) + len(self.census)


@dataclass(frozen=True)
class ShardTask:
    """One shard's work: its members in the sweep's configuration (whose paths the worker replaces)."""

    index: int
    total: int
    config: SimulationConfig
    members: tuple[Member, ...]
    identity: DatabaseIdentity
    database_name: str
    keep: Keep = "tables"
    parse_members: tuple[Member, ...] | None = None
    """The members whose `scenarios` var the shard's dbt parse sees (the first shard's): every shard of a
    sweep then parses with the same vars and shares one cached parse (`pass_orchestrator`). None: its own."""


@dataclass(frozen=True)
class ShardTable:
    """One table of a shard's database: its DuckDB column types, whether its rows are per member (a
    `scenario_id` column) or the same in every shard (a seed), and its rows as Parquet."""

    schema: str
    name: str
    columns: tuple[tuple[str, str], ...]
    per_member: bool
    parquet: bytes
    kept: bool = True
    """False for a per-member table a summary shard left out: its layout travels, its rows do not."""


@dataclass(frozen=True)
class ShardResult:
    """What a shard sends back: its status (a failed pass is a result, not an exception: a deterministic
    failure must not be retried), its tables when it completed, and what it cost."""

    index: int
    member_ids: tuple[str, ...]
    status: Literal["complete", "failed"]
    error: str | None = None
    tables: tuple[ShardTable, ...] = ()
    seconds: float = 0.0
    peak_rss_bytes: int = 0
    host: str = field(default_factory=socket.gethostname)

    @property
    def size(self) -> int:
        return sum(len(t.parquet) for t in self.tables)


def make_bundle(config: SimulationConfig) -> ShardBundle:
    """The project and census of `config`, as bytes for the shards (see the module docstring)."""
    project = Path(config.dbt.project_dir)
    profiles = Path(config.dbt.profiles_dir)
    separate = profiles.resolve() != project.resolve()
    buffer = io.BytesIO()
    # gzip's header time fixed: the same project gives the same bytes, so its shards on a machine share one
    # unpacked directory and cached parse across sweeps too (`planalign.scenarios.shard_projects`).
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w") as tar,
    ):
        tar.add(project, arcname="project", filter=_keep)
        if separate:
            tar.add(profiles / "profiles.yml", arcname="profiles/profiles.yml")
    census = Path(config.simulation.census_path)
    return ShardBundle(buffer.getvalue(), census.read_bytes(), census.suffix, separate)


def _keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    parts = Path(info.name).parts
    if any(part in _SKIPPED_DIRS for part in parts[1:]) or info.name.endswith(_SKIPPED_SUFFIXES):
        return None
    return info


def run_shard(task: ShardTask, bundle: ShardBundle) -> ShardResult:
    """A shard in its own event loop: the body of a Ray or Dask task."""
    return anyio.run(run_shard_async, task, bundle)


async def run_shard_async(task: ShardTask, bundle: ShardBundle) -> ShardResult:
    """Unpack, run the pass, export the tables; the temporary directory goes whatever happens."""
    started = time.monotonic()
    ids = tuple(m.scenario_id for m in task.members)
    await anyio.to_thread.run_sync(remove_stale_directories, Path(tempfile.gettempdir()))
    with (
        tempfile.TemporaryDirectory(prefix=f"{_PREFIX}{task.index + 1}-") as tmp,
        (Path(tmp) / _LOCK).open("w") as lock,
        contextlib.ExitStack() as stack,
    ):
        # Held while the shard runs: a directory whose lock is free belongs to a shard that was killed.
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        root = Path(tmp)
        # The project is shared read-only by this machine's shards of the same bundle, so their parses hit
        # dbt's parse cache (`planalign.scenarios.shard_projects`); held until the shard ends.
        unpacked = await anyio.to_thread.run_sync(
            stack.enter_context, shared_project(bundle.project_tar, root / "bundle")
        )
        config = await anyio.to_thread.run_sync(_unpack, task, bundle, root, unpacked)
        orchestrator = pass_orchestrator(
            config, task.members, task.identity, parse_members=task.parse_members
        )
        summary = await run_pass(orchestrator, replace_database=True)
        if not summary.success:
            error = summary.error or "the pass did not complete"
            return ShardResult(task.index, ids, "failed", error, (), _since(started))
        database = Path(config.simulation.database_path)
        kept: frozenset[str] | None = None
        if task.keep == "summaries":
            await anyio.to_thread.run_sync(store_member_figures, database)
            kept = SUMMARY_KEPT
        tables = await anyio.to_thread.run_sync(export_tables, database, root / "export", kept)
    return ShardResult(task.index, ids, "complete", None, tables, _since(started), peak_rss_bytes())


def remove_stale_directories(root: Path) -> list[Path]:
    """Remove the temporary directories of shards that were killed (a worker stopped with SIGKILL, a Dask
    worker closed mid-shard): those under `root` whose lock no running shard holds. Returns them."""
    removed: list[Path] = []
    for directory in root.glob(f"{_PREFIX}*-*"):
        try:
            fd = os.open(directory / _LOCK, os.O_RDWR | os.O_NOFOLLOW)
        except OSError:
            continue  # no lock (yet): not a shard's, or one being created
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a running shard's
        finally:
            os.close(fd)
        shutil.rmtree(directory, ignore_errors=True)
        removed.append(directory)
    return removed


def _unpack(task: ShardTask, bundle: ShardBundle, root: Path, unpacked: Path) -> SimulationConfig:
    census = root / f"census{bundle.census_suffix}"
    census.write_bytes(bundle.census)
    (root / "db").mkdir()
    overrides: dict[str, str | None] = {
        "simulation.census_path": str(census),
        "simulation.database_path": str(root / "db" / task.database_name),
        "dbt.project_dir": str(unpacked / "project"),
        "dbt.profiles_dir": str(unpacked / ("profiles" if bundle.separate_profiles else "project")),
        "run.runs_dir": str(root / "runs"),
    }
    return apply_overrides(task.config, overrides)


#: The per-member tables a summary shard sends rows of: the figures, the scenario dimension (one row a
#: member, which `scenarios compare` checks the members against), and the parameters dbt resolved for each
#: member (a few rows a member and year), from which sweep.json lists every design's parameters.
SUMMARY_KEPT = frozenset({SUMMARY_TABLE, "dim_scenarios", *PARAMETER_TABLES})


def export_tables(
    database: Path, directory: Path, per_member_kept: frozenset[str] | None = None
) -> tuple[ShardTable, ...]:
    """Every base table of `database` outside planalign's bookkeeping schema, as `ShardTable`s; with
    `per_member_kept`, the rows of only those per-member tables (the others travel without rows)."""
    directory.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(database), read_only=True)
    try:
        names = con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = current_database() "
            "and schema_name <> ? and not temporary order by 1, 2",
            [STATUS_SCHEMA],
        ).fetchall()
        out: list[ShardTable] = []
        for number, (schema, name) in enumerate(names):
            columns = tuple(
                (str(c), str(t))
                for c, t in con.execute(
                    "select column_name, data_type from duckdb_columns() where database_name = "
                    "current_database() and schema_name = ? and table_name = ? order by column_index",
                    [schema, name],
                ).fetchall()
            )
            per_member = any(c == "scenario_id" for c, _ in columns)
            if per_member and per_member_kept is not None and str(name) not in per_member_kept:
                out.append(ShardTable(str(schema), str(name), columns, per_member, b"", kept=False))
                continue
            path = directory / f"{number}.parquet"
            con.execute(f'copy (select * from "{schema}"."{name}") to \'{path}\' (format parquet)')
            out.append(ShardTable(str(schema), str(name), columns, per_member, path.read_bytes()))
            path.unlink()
        return tuple(out)
    finally:
        con.close()


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far (Linux reports kilobytes)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)
