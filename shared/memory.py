"""The garbage collector of a long-running service process.

CPython's cyclic collector runs its youngest generation every 700 net allocations of container objects, and every
tenth of those the middle one, each pass walking what survived before. A service allocates in bursts (a batch of
500 readings is some 2,500 objects; a poll of 200 events, their payloads and rows) and keeps a large, permanent
heap of imported modules, compiled statements, the registry: at the default thresholds the collector walks that heap
over and over for garbage that is almost all acyclic (freed by reference counting anyway).

``settle`` is called once the process has started (imports done, pools and clients built): it collects once, moves
every object alive then out of the collector's sight (``gc.freeze``: never walked again, never freed, as forked
workers do to keep pages shared), and raises the youngest generation's threshold so a burst is collected once, at
its end, not thirty times through it. Cycles are still found: the older generations keep their defaults. The
collections are counted by prometheus-client's default ``python_gc_collections_total``.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


_before: tuple[int, int, int] | None = None


def settle(young_threshold: int) -> None:
    """Freeze the started process's heap; collect the youngest generation every ``young_threshold`` allocations
    (0: leave the collector as Python set it)."""
    global _before
    if young_threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    if _before is None:
        _before = gc.get_threshold()
    gc.set_threshold(young_threshold, _before[1], _before[2])
    log.info("heap settled", extra={"frozen_objects": gc.get_freeze_count(), "gc_young_threshold": young_threshold})


def release() -> None:
    """Undo ``settle`` when the service stops: what was frozen can be collected again. A process that exits loses
    nothing by it; one that starts services again and again (a test run, the benchmarks) does not keep every stopped
    service's cycles for good."""
    global _before
    gc.unfreeze()
    if _before is not None:
        gc.set_threshold(*_before)
        _before = None
