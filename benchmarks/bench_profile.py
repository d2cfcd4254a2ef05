"""Profile a Python program across all its threads: `python bench_profile.py OUT.pstats -m module args...`.

`python -m cProfile` only sees the main thread, and planalign runs every dbt invocation in worker threads, so
its profile of `planalign simulate` shows an event loop waiting. This wrapper starts one `cProfile.Profile` in
every thread the program creates (through `threading.setprofile`, which fires once in each new thread) and in
the main thread, and merges them into one pstats file when the program ends. Times are per-thread CPU-ish
wall time (with BENCH_PROFILE_CPU=1, each thread's own CPU time), so under parallelism the cumulative
figures add up across threads — read them as "where the work goes", not as elapsed time.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import runpy
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType
from typing import Any

_profiles: list[cProfile.Profile] = []
_lock = threading.Lock()


def _new_profile() -> cProfile.Profile:
    """With BENCH_PROFILE_CPU=1, each thread's own CPU time (`time.thread_time`) instead of wall time: on a
    loaded machine the wall clock charges a function the time its thread waited for a core."""
    if os.environ.get("BENCH_PROFILE_CPU") == "1":
        return cProfile.Profile(time.thread_time)
    return cProfile.Profile()


def _start_in_thread(frame: FrameType, event: str, arg: Any) -> None:
    sys.setprofile(None)
    profile = _new_profile()
    with _lock:
        _profiles.append(profile)
    profile.enable()


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[1] != "-m":
        print("usage: bench_profile.py OUT.pstats -m MODULE [ARGS...]", file=sys.stderr)
        return 2
    out, module, program_args = args[0], args[2], args[3:]
    sys.argv = [module, *program_args]
    threading.setprofile(_start_in_thread)
    main_profile = _new_profile()
    status: int = 0
    main_profile.enable()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        main_profile.disable()
        threading.setprofile(None)
        stats = pstats.Stats(main_profile)
        with _lock:
            for profile in _profiles:
                profile.create_stats()
                if getattr(profile, "stats", None):
                    stats.add(profile)
        stats.dump_stats(out)
    return status


if __name__ == "__main__":
    sys.exit(main())
