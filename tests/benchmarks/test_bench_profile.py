"""bench_profile must see work done in threads, which `python -m cProfile` misses."""

from __future__ import annotations

import os
import pstats
import subprocess
import sys
from pathlib import Path

BENCHMARKS_DIR = Path(__file__).resolve().parents[2] / "benchmarks"

PROGRAM = """
import sys
import threading


def work_in_a_thread():
    return sum(i * i for i in range(20000))


def main():
    thread = threading.Thread(target=work_in_a_thread)
    thread.start()
    thread.join()
    sys.exit(int(sys.argv[1]))


if __name__ == "__main__":
    main()
"""


def test_functions_run_in_threads_are_in_the_profile_and_the_exit_status_is_kept(tmp_path: Path) -> None:
    (tmp_path / "threaded_program.py").write_text(PROGRAM)
    out = tmp_path / "out.pstats"
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS_DIR / "bench_profile.py"), str(out), "-m", "threaded_program", "3"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 3, result.stderr
    functions = {name for (_, _, name) in pstats.Stats(str(out)).stats}  # type: ignore[attr-defined]
    assert {"work_in_a_thread", "main"} <= functions
