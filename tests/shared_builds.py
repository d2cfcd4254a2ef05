"""Expensive test inputs built once per test run, not once per pytest-xdist worker.

A session fixture is per process: under `make test` (`pytest -n auto --dist loadfile`) each worker that
runs a test needing the shared dbt_project build, or the serial reference run (reliability and product
tests), builds its own copy — the same minutes of dbt twice on a two-core machine. `built_once` gives
every worker of one run the same directory under an exclusive file lock: the first worker to get there
builds into it and marks it done; the others wait for the lock and use what it built. What is shared this
way must be read-only for the tests (a test that changes a shared database copies it first), and built
from inputs that are the same in every worker (a generated census of a fixed seed, a fixed configuration).

Without xdist (a single process: `pytest tests/x.py`, `PYTEST_WORKERS=0`) the directory is in this run's
own temporary directory, so nothing is shared between runs; under xdist it is in the run's directory
that holds every worker's (`pytest-N/`, the parent of `popen-gwK/`), which is new for every run too.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

#: The file whose presence says a shared directory was built completely.
DONE_MARKER = ".built"


def shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory every worker of this run shares (this process's own one without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextlib.contextmanager
def built_once(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[tuple[Path, bool]]:
    """(the shared directory `name`, whether it is already built), held under an exclusive lock.

    The caller builds into the directory when the flag is False; a block that ends normally marks it
    built. A block that raises leaves it unmarked and emptied, so the next worker builds it again (and
    fails the same way, in its own test) instead of using half a build."""
    directory = shared_root(tmp_path_factory) / f"shared-{name}"
    lock_path = directory.with_name(f"{directory.name}.lock")
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            done = (directory / DONE_MARKER).is_file()
            if not done:
                shutil.rmtree(directory, ignore_errors=True)
                directory.mkdir(parents=True)
            try:
                yield directory, done
            except BaseException:
                if not done:
                    shutil.rmtree(directory, ignore_errors=True)
                raise
            if not done:
                (directory / DONE_MARKER).touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
