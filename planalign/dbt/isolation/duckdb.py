"""One DuckDB environment per database file, so two databases can be used at the same time in one process;
instance-wide DuckDB settings applied whenever a database is opened; closing idle databases.

dbt-duckdb keeps the one DuckDB environment of the process in a class attribute and replaces (closes) it
whenever credentials differ — i.e. whenever an invocation uses another database file, even while another
invocation is still using the first. We keep one environment per set of credentials (per database file),
chosen through the invocation's own adapter (`planalign.dbt.isolation.adapters`). Each dbt connection still
gets its own DuckDB cursor from the shared database.

Relies on (each verified by `check()`; anything else fails the gate):

* dbt-duckdb `dbt.adapters.duckdb.connections.DuckDBConnectionManager` — its own class attributes `_ENV`
  (the one environment) and `_LOCK`, and its own methods `open`, `env`, `cancel` and
  `close_all_connections`, which we replace with per-database versions (restored by `uninstall()`), and
  `get_credentials`.
* dbt-duckdb `dbt.adapters.duckdb.environments.create(credentials)` and `LocalEnvironment` (also the base
  of `MotherDuckEnvironment`): `handle()`, `close()`, `cancel(connection)`, and the instance attributes set
  by its `__init__`: `conn` (the DuckDB connection of the open database, None once closed) and
  `handle_count` (dbt connections using it). Other environments (remote Buenavista) have neither: they are
  never closed here and get no instance settings.
* dbt-duckdb `DuckDBCredentials.path` (a dataclass field: the database file) and its `type` property.
* dbt-adapters `dbt.adapters.contracts.connection.Connection` (`state`, `handle`, `credentials`),
  `ConnectionState.OPEN`/`FAIL`, `dbt.adapters.exceptions.connection.FailedToConnectError`, and
  `BaseAdapter.__init__` setting `config`, whose `credentials` (dbt-core's `RuntimeConfig` field) name the
  adapter's database.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from planalign.dbt.isolation import adapters
from planalign.dbt.isolation._base import (
    Installation,
    missing_assignments,
    missing_attrs,
    missing_fields,
)

logger = logging.getLogger(__name__)

#: `set_duckdb_instance_setting` key for "every DuckDB database file dbt opens in this process".
ANY_DATABASE = "*"


def check() -> list[str]:
    """What `install()` relies on, as problems (empty: as expected)."""
    try:
        from dbt.adapters.base.impl import BaseAdapter
        from dbt.adapters.contracts.connection import Connection, ConnectionState
        from dbt.adapters.duckdb import environments
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
        from dbt.adapters.duckdb.credentials import DuckDBCredentials
        from dbt.adapters.duckdb.environments.local import LocalEnvironment
        from dbt.adapters.exceptions.connection import FailedToConnectError  # noqa: F401
        from dbt.config.runtime import RuntimeConfig
    except ImportError as exc:
        return [f"dbt-duckdb internals could not be imported: {exc}"]
    problems = missing_attrs(
        DuckDBConnectionManager, ("open", "env", "cancel", "close_all_connections", "_ENV", "_LOCK"), own=True
    )
    problems += missing_attrs(DuckDBConnectionManager, ("get_credentials",))
    problems += missing_attrs(environments, ("create",))
    problems += missing_attrs(LocalEnvironment, ("handle", "close", "cancel"))
    problems += missing_assignments(
        LocalEnvironment.__init__, ("conn", "handle_count"), where="LocalEnvironment.__init__"
    )
    problems += missing_fields(DuckDBCredentials, ("path",))
    problems += missing_attrs(DuckDBCredentials, ("type",))
    problems += missing_fields(Connection, ("state",))
    problems += missing_attrs(Connection, ("handle", "credentials"))
    problems += missing_attrs(ConnectionState, ("OPEN", "FAIL"))
    problems += missing_assignments(BaseAdapter.__init__, ("config",), where="BaseAdapter.__init__")
    problems += missing_fields(RuntimeConfig, ("credentials",))
    return problems


def path_key(path: object) -> str | None:
    """The resolved database file of a DuckDB `path`, None for none or an in-memory database."""
    if not isinstance(path, str) or not path or path == ":memory:":
        return None
    return str(Path(path).resolve())


def _local(env: Any) -> bool:
    from dbt.adapters.duckdb.environments.local import LocalEnvironment

    return isinstance(env, LocalEnvironment)


def _is_idle(env: Any) -> bool:
    """No dbt connection uses the environment (a remote one is never considered idle)."""
    return _local(env) and env.handle_count == 0


def _open_conn(env: Any) -> Any | None:
    """The DuckDB connection of the environment's open database, None when closed (or remote)."""
    return env.conn if _local(env) else None


def install(cm: Any, inst: Installation) -> None:
    """Per-database DuckDB environments in place of dbt-duckdb's single `_ENV`."""
    from dbt.adapters.contracts.connection import ConnectionState
    from dbt.adapters.duckdb import environments
    from dbt.adapters.exceptions.connection import FailedToConnectError

    def env_for(credentials: Any) -> Any:
        # Caller holds cm._LOCK.
        for creds, env in inst.duckdb_envs:
            if creds == credentials:
                return env
        # Like dbt-duckdb dropping its old environment when credentials change — but only environments no
        # connection is using any more (handle count 0; with keep_open, the default, they stay open until
        # closed here).
        keep: list[tuple[Any, Any]] = []
        for creds, env in inst.duckdb_envs:
            if _is_idle(env):
                try:
                    env.close()
                except Exception as exc:  # closing an idle database must not stop opening another
                    logger.debug("ignoring error closing idle DuckDB environment: %s", exc)
            else:
                keep.append((creds, env))
        env = environments.create(credentials)
        keep.append((credentials, env))
        inst.duckdb_envs[:] = keep
        return env

    def apply_instance_settings(credentials: Any, env: Any, handle: Any) -> None:
        # Caller holds cm._LOCK. Instance-wide settings (e.g. memory_limit) set once per opened database.
        path = path_key(credentials.path)
        if path is None:
            return
        wanted = {**inst.instance_settings.get(ANY_DATABASE, {}), **inst.instance_settings.get(path, {})}
        conn = _open_conn(env)
        if not wanted or conn is None or inst.applied_to.get(path) is conn:
            return
        cursor = handle.cursor()
        for name, value in wanted.items():
            cursor.execute(f"SET {name} = '{value}'")
        inst.applied_to[path] = conn

    def isolated_open(cls: Any, connection: Any) -> Any:
        if connection.state == ConnectionState.OPEN:
            return connection
        credentials = cls.get_credentials(connection.credentials)
        with cls._LOCK:
            try:
                env = env_for(credentials)
                connection.handle = env.handle()
                connection.state = ConnectionState.OPEN
                apply_instance_settings(credentials, env, connection.handle)
                # dbt-duckdb's relation.py tests `_ENV is not None` before calling env(); keep it truthy.
                cls._ENV = env
            except RuntimeError as e:
                connection.handle = None
                connection.state = ConnectionState.FAIL
                raise FailedToConnectError(str(e)) from e
        return connection

    def isolated_env(cls: Any) -> Any:
        ctx = adapters.current_invocation_context()
        adapter = None if ctx is None else adapters.adapter_of_type(inst, ctx, "duckdb")
        with cls._LOCK:
            if adapter is not None:
                return env_for(cls.get_credentials(adapter.config.credentials))
            if len(inst.duckdb_envs) == 1:
                return inst.duckdb_envs[0][1]
            if cls._ENV is not None:
                return cls._ENV
            raise RuntimeError("DuckDBConnectionManager environment requested before creation!")

    def isolated_cancel(self: Any, connection: Any) -> None:
        env = isolated_env(type(self))
        env.cancel(connection)

    def isolated_close_all_connections(cls: Any) -> None:
        with cls._LOCK:
            inst.duckdb_envs.clear()
            cls._ENV = None

    for name in ("open", "env", "cancel", "close_all_connections"):
        inst.original_duckdb_methods[name] = cm.__dict__[name]
    inst.duckdb_cm = cm
    cm.open = classmethod(isolated_open)
    cm.env = classmethod(isolated_env)
    cm.close_all_connections = classmethod(isolated_close_all_connections)
    cm.cancel = isolated_cancel


def restore(inst: Installation) -> None:
    cm = inst.duckdb_cm
    if cm is not None:
        for name, original in inst.original_duckdb_methods.items():
            setattr(cm, name, original)
        with cm._LOCK:
            # Hand dbt-duckdb back a single environment (the most recently used), as it expects.
            envs = inst.duckdb_envs
            cm._ENV = envs[-1][1] if envs else None
    inst.duckdb_envs.clear()
    inst.applied_to.clear()


def open_connection_of(inst: Installation, adapter: Any) -> tuple[str, Any] | None:
    """(database path, DuckDB connection) of the open database a DuckDB adapter uses, else None."""
    cm = inst.duckdb_cm
    credentials = adapter.config.credentials
    if cm is None or credentials.type != "duckdb":
        return None
    path = path_key(credentials.path)
    if path is None:
        return None
    with cm._LOCK:
        for creds, env in inst.duckdb_envs:
            if creds == credentials:
                conn = _open_conn(env)
                return (path, conn) if conn is not None else None
    return None


def set_instance_setting(
    inst: Installation | None, database_path: Path | None, name: str, value: str
) -> bool:
    """See `planalign.dbt.isolation.set_duckdb_instance_setting`."""
    if not name.replace("_", "").isalnum() or "'" in value:
        raise ValueError(f"refusing unsafe DuckDB setting {name!r}={value!r}")
    if inst is None or inst.duckdb_cm is None:
        return False
    key = ANY_DATABASE if database_path is None else path_key(str(database_path))
    if key is None:
        return False
    with inst.duckdb_cm._LOCK:
        inst.instance_settings.setdefault(key, {})[name] = value
        for creds, env in inst.duckdb_envs:
            path = path_key(creds.path)
            conn = _open_conn(env)
            if path is not None and conn is not None and key in (ANY_DATABASE, path):
                conn.execute(f"SET {name} = '{value}'")
    return True


def close_idle(inst: Installation | None, database_path: Path | None) -> int:
    """See `planalign.dbt.isolation.close_idle_databases`."""
    if inst is None or inst.duckdb_cm is None:
        return 0
    key = None if database_path is None else path_key(str(database_path))
    closed = 0
    with inst.duckdb_cm._LOCK:
        for creds, env in inst.duckdb_envs:
            if key is not None and path_key(creds.path) != key:
                continue
            if _is_idle(env) and _open_conn(env) is not None:
                env.close()
                closed += 1
    return closed
