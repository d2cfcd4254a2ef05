"""Fixtures of the real-dbt engine tests: the private PostgreSQL server (`tests.engine_real.postgres`)."""

from tests.engine_real.postgres import postgres_server

__all__ = ["postgres_server"]
