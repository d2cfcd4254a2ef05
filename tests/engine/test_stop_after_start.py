"""A node that starts while its invocation is being stopped counts as interrupted by the stop, not failed.

Found in a loaded run of tests/engine_real/test_run_like_dbt.py (fail-fast, 4 threads): a second model was
reported as a second error beside the one that failed. The window: the node passed dbt's "stopped?" check,
the stop then recorded the nodes running at that moment (not yet this one), and the node registered with
the reaper right after — which, the token being stopped, interrupted it. Its INTERRUPT error was then taken
for a failure of its own, because only the nodes running at the stop were recorded as interrupted. The
reaper now records every node it interrupts for a stop, so the invoker reports it as not run, as dbt does.
"""

from __future__ import annotations

import threading

from planalign.dbt.isolation import stop as stop_module


class WatchedToken(stop_module.StopToken):
    """A token whose interrupt records which nodes were marked interrupted when it was called."""

    def __init__(self) -> None:
        super().__init__(model_timeout_s=None)
        self.seen: list[set[str]] = []
        self.called = threading.Event()

    def interrupt_queries(self) -> int:
        self.seen.append(set(self.interrupted))
        self.called.set()
        return 0


def test_a_node_registered_after_the_stop_is_recorded_as_interrupted_by_it() -> None:
    token = WatchedToken()
    token.stop()  # nothing running yet: nothing recorded
    assert token.interrupted == set()
    token.called.clear()
    token.seen.clear()
    key = stop_module._REAPER.add(token, "model.p.late")  # the node that slipped past the stop
    try:
        assert token.called.wait(timeout=60), "the reaper never interrupted the node of a stopped token"
    finally:
        stop_module._REAPER.remove(key)
    assert token.seen[0] == {"model.p.late"}  # recorded before its query was interrupted
    assert token.interrupted == {"model.p.late"}


def test_a_timed_out_node_is_not_recorded_as_interrupted_by_a_stop() -> None:
    token = WatchedToken()
    token.model_timeout_s = 0.0
    key = stop_module._REAPER.add(token, "model.p.slow")
    try:
        assert token.called.wait(timeout=60)
    finally:
        stop_module._REAPER.remove(key)
    assert token.timed_out == {"model.p.slow": 0.0} and token.interrupted == set()
