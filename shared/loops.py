"""The one polling loop of the services' background jobs (the outbox relay, the durable timers, 12345 callbacks,
gauges, clean-ups): do a step; go again at once while it says more is waiting, otherwise wait; a failure is logged,
counted and retried after a pause; a cancellation (the service stopping) ends it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from shared import metrics

log = logging.getLogger(__name__)

Idle = float | Callable[[], Awaitable[None]]


async def poll_forever(
    step: Callable[[], Awaitable[bool]],
    *,
    name: str,
    service: str,
    idle: Idle,
    after_failure: float = 1.0,
    start_idle: bool = False,
    on_failure: Callable[[], None] | None = None,
) -> None:
    """Run ``step`` until cancelled. ``step`` returns True when more work may be waiting (the next step starts at
    once) and False when it is done for now: then the loop sleeps ``idle`` seconds, or awaits ``idle()`` (a wake-up
    or a timeout). ``start_idle``: wait before the first step (a job with nothing to do at start). A step that raises
    is logged, counted in ``background_loop_failures_total`` (and by ``on_failure``), and the loop waits
    ``after_failure`` seconds before the next."""
    failures = metrics.LOOP_FAILURES.labels(service, name)
    if start_idle:
        await _wait(idle)
    while True:
        try:
            more = await step()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("background step failed; retrying", extra={"loop": name}, exc_info=True)
            failures.inc()
            if on_failure is not None:
                on_failure()
            await asyncio.sleep(after_failure)
            continue
        if not more:
            await _wait(idle)


async def _wait(idle: Idle) -> None:
    if callable(idle):
        await idle()
    else:
        await asyncio.sleep(idle)
