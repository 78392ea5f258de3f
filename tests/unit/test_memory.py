"""shared.memory: the started process's heap frozen out of the collector's walks, and given back at stop."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from shared import memory


@pytest.fixture(autouse=True)
def collector() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    memory.release()
    gc.unfreeze()
    gc.set_threshold(*before)


def test_settle_freezes_the_heap_and_raises_the_young_threshold() -> None:
    before = gc.get_threshold()
    survivor = [object()]
    memory.settle(50_000)
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (50_000, before[1], before[2])
    assert not any(o is survivor for o in gc.get_objects())  # out of every generation the collector walks
    memory.release()
    assert any(o is survivor for o in gc.get_objects())


def test_release_gives_the_heap_back_and_restores_the_thresholds() -> None:
    before = gc.get_threshold()
    memory.settle(50_000)
    memory.settle(20_000)  # a second service in the same process: the thresholds to restore stay Python's
    memory.release()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_a_cycle_made_after_settling_is_still_collected() -> None:
    memory.settle(50_000)

    class Node:
        other: object = None

    a, b = Node(), Node()
    a.other, b.other = b, a
    del a, b
    assert gc.collect() > 0


def test_zero_leaves_the_collector_alone() -> None:
    before = gc.get_threshold()
    memory.settle(0)
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
