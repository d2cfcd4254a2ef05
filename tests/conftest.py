"""Shared fixtures. Real-dbt fixtures that several test packages use live here; the rest live beside their
tests."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog


@pytest.fixture(scope="session")
def small_census(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300-employee generated census (seed 7), shared by the real-dbt simulation tests — one file for
    every xdist worker (`tests.shared_builds`), so that runs in two workers read the same path (the
    reliability tests' shared reference runs are built on it)."""
    from planalign.simulation.census import generate_census, write_census
    from tests.shared_builds import built_once

    with built_once(tmp_path_factory, "small_census") as (directory, done):
        path = directory / "census.parquet"
        if not done:
            write_census(generate_census(300, seed=7), path)
    return path


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Leave logging as the next test expects it: the root logger's handlers and levels, the package
    logger's level, structlog's configuration (the CLI and the displays reconfigure them)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    package_level = logging.getLogger("planalign").level
    saved = structlog.get_config()
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    logging.getLogger("planalign").setLevel(package_level)
    structlog.configure(**saved)


@pytest.fixture
def recorded_runs(monkeypatch: pytest.MonkeyPatch) -> list[argparse.Namespace]:
    """`planalign run` replaced by a recorder of what `planalign retry` hands it (the retry tests)."""
    from planalign.cli import run as run_command
    from planalign.cli._common import ExitStatus

    calls: list[argparse.Namespace] = []

    def fake_run(args: argparse.Namespace) -> int:
        calls.append(args)
        return ExitStatus.OK

    monkeypatch.setattr(run_command, "run", fake_run)
    return calls


@pytest.fixture
def clean_planalign_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No PLANALIGN_* variable of the shell leaks into a test of configuration loading."""
    for name in list(os.environ):
        if name.upper().startswith("PLANALIGN_"):
            monkeypatch.delenv(name)


@pytest.fixture
def config_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with a census file that must never be read: the configuration is refused first."""
    (tmp_path / "census.parquet").write_bytes(b"never read: the config is rejected first")
    monkeypatch.chdir(tmp_path)
    return tmp_path
