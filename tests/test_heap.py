"""The garbage-collector policy: the first run freezes what is alive and the last one to end unfreezes;
nested runs do not freeze again (that would freeze pending garbage); a bulk load inside a run is frozen,
outside a run it is left alone."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from planalign.engine.heap import bulk_load, long_lived_heap


@pytest.fixture(autouse=True)
def clean_collector() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def _tracked_objects(n: int) -> list[list[int]]:
    return [[i] for i in range(n)]


def test_a_run_freezes_what_is_alive_and_unfreezes_when_it_ends() -> None:
    keep = _tracked_objects(1000)
    with long_lived_heap():
        assert gc.get_freeze_count() >= len(keep)
    assert gc.get_freeze_count() == 0


def test_a_nested_run_does_not_freeze_again() -> None:
    with long_lived_heap():
        frozen = gc.get_freeze_count()
        made_during_the_run = _tracked_objects(2000)
        with long_lived_heap():
            assert gc.get_freeze_count() < frozen + len(made_during_the_run)
        assert gc.get_freeze_count() > 0, "a nested run's end unfroze the outer run's heap"
    assert gc.get_freeze_count() == 0


def test_concurrent_runs_unfreeze_only_when_the_last_one_ends() -> None:
    other_started = threading.Event()
    outer_may_end = threading.Event()
    frozen_after_other_ended: list[int] = []

    def other_run() -> None:
        with long_lived_heap():
            other_started.set()
            outer_may_end.wait(5)
        frozen_after_other_ended.append(gc.get_freeze_count())

    thread = threading.Thread(target=other_run)
    with long_lived_heap():
        thread.start()
        assert other_started.wait(5)
        outer_may_end.set()
        thread.join(5)
        assert frozen_after_other_ended and frozen_after_other_ended[0] > 0, (
            "the other thread's run ended and unfroze a run still going"
        )
    assert gc.get_freeze_count() == 0


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
