"""A private PostgreSQL server for the tests and the benchmarks, and dbt projects that run on it.

`PostgresServer.start(root)` makes a throw-away cluster with Debian's server binaries: `initdb` and `pg_ctl`
run as the `postgres` user when we are root (initdb refuses root), listen on 127.0.0.1 on a free port and on
a socket directory inside `root`, trust authentication (nobody else can reach a loopback port for the few
seconds of a test that matter here, and there is no password to leak). `stop()` stops it ("fast": active
sessions are ended) — the `postgres_server` session fixture always calls it.

Missing binaries skip the tests with the reason, except in CI (`CI` set), where `.ci/run` installs Debian's
`postgresql` and a missing server is a failure, not a silent skip.

`generate_pg_project` writes `tests.fixtures.genproject`'s random DAG for PostgreSQL (the one DuckDB
construct it uses, `range()`, becomes `generate_series()`), optionally with server-bound models (each
model also sleeps on the server), so the benchmarks and the tests share one generator.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.genproject import PROFILE_NAME, ROOT_ROWS, GeneratedProject, generate_project

#: The role and database the cluster is created with.
SUPERUSER = "postgres"


def find_binaries() -> Path | None:
    """The directory holding `initdb` and `pg_ctl`: on PATH, else Debian's /usr/lib/postgresql/<v>/bin
    (the package does not put them on PATH), newest version first."""
    initdb = shutil.which("initdb")
    if initdb is not None and shutil.which("pg_ctl") is not None:
        return Path(initdb).resolve().parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").is_file() and (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user(cmd: list[str]) -> list[str]:
    """`cmd` as the `postgres` user when we are root (initdb and the server refuse to run as root)."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", SUPERUSER, "--", *cmd]


@dataclass
class PostgresServer:
    """A running private cluster (see the module docstring)."""

    root: Path
    bin_dir: Path
    port: int
    host: str = "127.0.0.1"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @classmethod
    def start(cls, root: Path, bin_dir: Path) -> PostgresServer:
        root.mkdir(parents=True, exist_ok=True)
        server = cls(root=root, bin_dir=bin_dir, port=_free_port())
        server.socket_dir.mkdir()
        if os.geteuid() == 0:
            shutil.chown(root, user=SUPERUSER)
            shutil.chown(server.socket_dir, user=SUPERUSER)
            root.chmod(0o755)
        run = _as_server_user
        subprocess.run(
            run([str(bin_dir / "initdb"), "-D", str(server.data_dir), "-U", SUPERUSER, "--auth=trust"]),
            check=True,
            capture_output=True,
            text=True,
        )
        options = f"-p {server.port} -k {server.socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            run(
                [
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(server.data_dir),
                    "-l",
                    str(root / "server.log"),
                    "-o",
                    options,
                    "-w",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
            text=True,
        )
        return server

    def stop(self) -> None:
        subprocess.run(
            _as_server_user([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "stop"]),
            capture_output=True,
            text=True,
        )

    def connect(self, database: str = SUPERUSER) -> Any:
        """A psycopg2 connection (autocommit) as the superuser."""
        import psycopg2  # type: ignore[import-untyped]

        con = psycopg2.connect(host=self.host, port=self.port, user=SUPERUSER, dbname=database)
        con.autocommit = True
        return con

    def query(self, sql: str, database: str = SUPERUSER) -> list[tuple[Any, ...]]:
        con = self.connect(database)
        try:
            with con.cursor() as cur:
                cur.execute(sql)
                return list(cur.fetchall()) if cur.description else []
        finally:
            con.close()

    def table_digests(self, database: str, tables: list[str]) -> dict[str, str]:
        """Each table's md5 over its rows in a fixed order: equal digests, equal tables (any row order)."""
        sql = "select md5(coalesce(string_agg(r::text, '|' order by r::text), '')) from {} r"
        return {t: str(self.query(sql.format(t), database)[0][0]) for t in tables}

    def create_database(self, name: str) -> str:
        self.query(f'create database "{name}"')
        return name

    def profiles_yml(self, database: str, *, profile: str = PROFILE_NAME, threads: int = 4) -> str:
        return (
            f"{profile}:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n"
            f"      host: {self.host}\n      port: {self.port}\n      user: {SUPERUSER}\n"
            f"      password: ''\n      dbname: {database}\n      schema: public\n      threads: {threads}\n"
        )

    def active_queries(self, database: str, like: str = "%") -> list[tuple[int, str, str]]:
        """(pid, state, query) of the other sessions on `database` running a statement matching `like`."""
        rows = self.query(
            "select pid, state, query from pg_stat_activity "
            f"where datname = '{database}' and pid <> pg_backend_pid() and state = 'active' "
            f"and query like '{like}'"
        )
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]


def _in_ci() -> bool:
    return bool(os.environ.get("CI"))


@contextlib.contextmanager
def running_server(root: Path) -> Iterator[PostgresServer]:
    """A started server, stopped and its directory removed on the way out (benchmarks; the tests use the
    `postgres_server` fixture)."""
    bin_dir = find_binaries()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql")
    server = PostgresServer.start(root, bin_dir)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """One private PostgreSQL cluster for the session (see the module docstring)."""
    if find_binaries() is None:
        if _in_ci():
            pytest.fail("PostgreSQL server binaries not found in CI: .ci/run installs Debian's postgresql")
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed: apt-get install postgresql")
    pytest.importorskip("dbt.adapters.postgres", reason="dbt-postgres not installed: make venv")
    # A fixed short root: the socket path must stay under the 107-byte limit of a Unix socket name.
    root = Path(f"/tmp/planalign-pg-{os.getpid()}-{time.monotonic_ns()}")
    with running_server(root) as server:
        yield server


def generate_pg_project(
    dest: Path,
    server: PostgresServer,
    database: str,
    *,
    n_models: int,
    seed: int,
    sleep_s: float = 0.0,
    sleeps: Callable[[GeneratedProject], Mapping[str, float]] | None = None,
) -> GeneratedProject:
    """`generate_project` for PostgreSQL on `database`: `range(0, N) r(i)` becomes
    `generate_series(0, N - 1) r(i)`, and with `sleep_s` each model also waits `sleep_s` on the server
    (`pg_sleep` in a scalar subquery of its select: server-bound models, whose rows do not change; views
    do not sleep, or every model reading one would sleep again). `sleeps`, given the generated DAG, names
    models that wait another number of seconds instead (a skewed DAG: benchmarks/bench_postgres.py)."""
    project = generate_project(dest, n_models=n_models, seed=seed)
    chosen = dict(sleeps(project)) if sleeps is not None else {}
    for model in project.models:
        path = dest / model.path
        sql = path.read_text().replace(
            f"range(0, {ROOT_ROWS}) r(i)", f"generate_series(0, {ROOT_ROWS - 1}) r(i)"
        )
        wait = chosen.get(model.name, sleep_s)
        if wait and model.materialized != "view":  # a view's sleep would repeat in every reader
            sql = sql.replace(" as v,", f" + (select 0 from pg_sleep({wait})) as v,", 1)
        path.write_text(sql)
    (dest / "profiles.yml").write_text(server.profiles_yml(database))
    return project
