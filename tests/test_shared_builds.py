"""`tests.shared_builds.built_once`: the first of several processes builds, the rest wait and read; a failed
build is not handed out. (The real-dbt fixtures that use it — the five-year dbt build, the reliability
reference runs, the small census — rely on exactly this.)"""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from tests.shared_builds import DONE_MARKER, built_once


class _Factory:
    """The part of pytest's TempPathFactory `built_once` uses, for a child process."""

    def __init__(self, base: Path) -> None:
        self.base = base

    def getbasetemp(self) -> Path:
        return self.base


def _worker(base: str, name: str, log: str) -> None:
    import os

    os.environ["PYTEST_XDIST_WORKER"] = name
    with built_once(_Factory(Path(base) / name), "thing") as (directory, done):  # type: ignore[arg-type]
        if not done:
            time.sleep(0.5)  # long enough for the other process to reach the lock
            (directory / "data.txt").write_text(name)
        with open(log, "a") as handle:
            handle.write(f"{name} {'read' if done else 'built'} {(directory / 'data.txt').read_text()}\n")


def test_two_workers_build_once_and_read_the_same_build(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_worker, args=(str(tmp_path), f"gw{i}", str(log))) for i in range(2)]
    for worker in workers:
        (tmp_path / f"gw{workers.index(worker)}").mkdir()
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    lines = sorted(log.read_text().splitlines())
    built = [line for line in lines if " built " in line]
    read = [line for line in lines if " read " in line]
    assert len(built) == 1 and len(read) == 1, lines
    builder = built[0].split()[0]
    assert read[0].split()[2] == builder, "the reader did not see the builder's files"


def test_a_failed_build_is_built_again_not_handed_out(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    with pytest.raises(RuntimeError), built_once(tmp_path_factory, "failing") as (directory, done):
        assert not done
        (directory / "half.txt").write_text("half")
        raise RuntimeError("the build failed")
    with built_once(tmp_path_factory, "failing") as (directory, done):
        assert not done, "a failed build was marked built"
        assert not (directory / "half.txt").exists(), "the next builder saw half a build"
    with built_once(tmp_path_factory, "failing") as (directory, done):
        assert done and (directory / DONE_MARKER).is_file()
