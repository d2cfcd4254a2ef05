"""The garbage-collector policy: runs freeze what is alive and the last one to end unfreezes; bulk loads pause
collections and restore the caller's setting; nested and concurrent holders compose."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from planalign.heap import bulk_load, long_lived_heap


@pytest.fixture(autouse=True)
def clean_collector() -> Iterator[None]:
    gc.unfreeze()
    gc.enable()
    yield
    gc.unfreeze()
    gc.enable()


def _tracked_objects(n: int) -> list[list[int]]:
    return [[i] for i in range(n)]


def test_a_run_freezes_what_is_alive_and_unfreezes_when_it_ends() -> None:
    keep = _tracked_objects(1000)
    with long_lived_heap():
        assert gc.get_freeze_count() >= len(keep)
    assert gc.get_freeze_count() == 0


def test_nested_and_concurrent_runs_unfreeze_only_when_the_last_one_ends() -> None:
    inner_done = threading.Event()
    outer_may_end = threading.Event()
    counts: list[int] = []

    def other_run() -> None:
        with long_lived_heap():
            inner_done.set()
            outer_may_end.wait(5)
        counts.append(gc.get_freeze_count())

    with long_lived_heap():
        thread = threading.Thread(target=other_run)
        thread.start()
        assert inner_done.wait(5)
        with long_lived_heap():
            pass
        assert gc.get_freeze_count() > 0, "a nested run's end unfroze the outer run's heap"
        outer_may_end.set()
        thread.join(5)
        assert counts and counts[0] > 0, "the other thread's run ended and unfroze a run still going"
    assert gc.get_freeze_count() == 0


def test_bulk_load_pauses_collections_and_restores_them() -> None:
    with bulk_load():
        assert not gc.isenabled()
        with bulk_load():
            assert not gc.isenabled()
        assert not gc.isenabled(), "the inner load re-enabled collections inside the outer one"
    assert gc.isenabled()


def test_bulk_load_keeps_collections_off_when_the_caller_had_them_off() -> None:
    gc.disable()
    with bulk_load():
        pass
    assert not gc.isenabled()


def test_bulk_load_restores_collections_when_the_load_fails() -> None:
    with pytest.raises(RuntimeError), bulk_load():
        raise RuntimeError("parse failed")
    assert gc.isenabled()


def test_a_bulk_load_inside_a_run_is_frozen_and_outside_a_run_is_not() -> None:
    with bulk_load():
        outside = _tracked_objects(2000)
    assert outside and gc.get_freeze_count() == 0, "a load outside any run froze what nobody unfreezes"

    with long_lived_heap():
        before = gc.get_freeze_count()
        with bulk_load():
            loaded = _tracked_objects(2000)
        assert gc.get_freeze_count() >= before + len(loaded)
    assert gc.get_freeze_count() == 0
