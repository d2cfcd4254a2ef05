"""`tests.schedule`: the measured seconds per file read from `--durations` lines, and the order it gives the
collected tests under xdist (longest file first; within a file and among unmeasured files, as collected)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests import schedule

LOG = """
============================= slowest durations =============================
75.71s call     tests/test_readme_commands.py::test_the_readme_runs_as_written
49.78s setup    tests/reliability/test_sweep_safety.py::test_the_chain_starts
1.50s call     tests/reliability/test_sweep_safety.py::test_a_sweep_is_refused[x-y]
0.60s teardown tests/reliability/test_sweep_safety.py::test_a_sweep_is_refused[x-y]
12.00s call     tests/engine/test_heap.py::TestHeap::test_pop
(1200 durations < 0.005s hidden.  Use -vv to show these durations.)
====================== 1875 passed in 1119.04s (0:18:39) =======================
"""


def test_seconds_per_file_add_setup_call_and_teardown() -> None:
    assert schedule.file_seconds(LOG) == {
        "tests/test_readme_commands.py": 75.7,
        "tests/reliability/test_sweep_safety.py": 51.9,
        "tests/engine/test_heap.py": 12.0,
    }


def _items(root: Path, names: list[str]) -> list[Any]:
    return [SimpleNamespace(path=root / name.split("::")[0], name=name) for name in names]


def test_under_xdist_the_longest_measured_file_comes_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seconds = tmp_path / "file_seconds.json"
    seconds.write_text(json.dumps({"tests/b.py": 10.0, "tests/c.py": 50.0}))
    monkeypatch.setattr(schedule, "SECONDS_FILE", seconds)
    config: Any = SimpleNamespace(rootpath=tmp_path)
    collected = ["tests/a.py::1", "tests/b.py::1", "tests/b.py::2", "tests/c.py::1", "tests/d.py::1"]

    items = _items(tmp_path, collected)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    schedule.pytest_collection_modifyitems(config, items)
    assert [i.name for i in items] == collected, "without xdist the order is pytest's"

    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    schedule.pytest_collection_modifyitems(config, items)
    assert [i.name for i in items] == [
        "tests/c.py::1",
        "tests/b.py::1",
        "tests/b.py::2",
        "tests/a.py::1",
        "tests/d.py::1",
    ]


def test_the_shipped_figures_are_seconds_by_test_file() -> None:
    """A stale entry (a file renamed or split since) only costs balance, so it is not an error here."""
    measured = json.loads(schedule.SECONDS_FILE.read_text())
    assert measured, "no figures: every file keeps the collection's order"
    assert all(path.startswith("tests/") and path.endswith(".py") for path in measured)
    assert all(isinstance(seconds, float | int) and seconds > 0 for seconds in measured.values())
