"""The longest test files first, so that the `make test` workers finish together.

`make test` runs `pytest -n auto --dist loadfile`: each test file goes whole to one xdist worker (its module
fixtures, often a real dbt build, are made once), and a worker takes the next file when it runs low. Which
file comes next is the collection's order when xdist is told not to reorder (`--no-loadscope-reorder`);
xdist's own reorder puts the files with the most tests first, which on this suite is the many-test unit
files, leaving single long real-dbt files (the README's run as written: 75 s) for the end, where one
worker runs them alone while the other has nothing left to do.

This plugin (`-p tests.schedule`, on the Makefile's `test:` line) sorts the collected tests by file, the
files by their measured seconds (`file_seconds.json`, longest first: the longest-processing-time rule,
which leaves at most about one file's time between the workers' ends), and keeps the collection's order
within a file and among the files not measured (they go last; the new ones are usually short). It changes
only the order, never what runs, and only under xdist (a plain `pytest` keeps its usual order). Stale
figures only cost balance, never a result; refresh them from a full run's durations:

    .venv/bin/python -m pytest -n auto --dist loadfile --durations=0 -q > durations.log
    .venv/bin/python -m tests.schedule durations.log
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import defaultdict
from pathlib import Path

import pytest

#: Seconds per test file (setup + call + teardown of its tests, from `--durations=0`), by path from the
#: repository root.
SECONDS_FILE = Path(__file__).with_name("file_seconds.json")

_DURATION = re.compile(r"^\s*([0-9.]+)s (?:setup|call|teardown)\s+(\S+?\.py)::")


def file_seconds(durations_log: str) -> dict[str, float]:
    """Seconds per test file from pytest's `--durations` lines ("12.3s call tests/x.py::test_y")."""
    totals: dict[str, float] = defaultdict(float)
    for line in durations_log.splitlines():
        match = _DURATION.match(line)
        if match:
            totals[match.group(2)] += float(match.group(1))
    return {path: round(seconds, 1) for path, seconds in sorted(totals.items(), key=lambda kv: -kv[1])}


def _measured() -> dict[str, float]:
    try:
        data = json.loads(SECONDS_FILE.read_text())
    except (OSError, ValueError):
        return {}
    return {str(path): float(seconds) for path, seconds in data.items()}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    seconds = _measured()
    root = config.rootpath

    def rank(item: pytest.Item) -> tuple[int, float]:
        try:
            path = item.path.relative_to(root).as_posix()
        except ValueError:
            return (1, 0.0)
        measured = seconds.get(path)
        return (1, 0.0) if measured is None else (0, -measured)

    items.sort(key=rank)  # stable: the collection's order within a file and among equal ranks


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.schedule DURATIONS_LOG", file=sys.stderr)
        return 2
    totals = file_seconds(Path(argv[0]).read_text())
    if not totals:
        print(f"no `--durations` lines in {argv[0]}", file=sys.stderr)
        return 2
    SECONDS_FILE.write_text(json.dumps(totals, indent=1) + "\n")
    print(f"{len(totals)} files, {sum(totals.values()):.0f} s, written to {SECONDS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
