"""The background jobs' one polling loop (shared.loops.poll_forever)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from prometheus_client import REGISTRY

from shared.loops import poll_forever

pytestmark = pytest.mark.unit


def failures(loop: str) -> float:
    return REGISTRY.get_sample_value("background_loop_failures_total", {"service": "test", "loop": loop}) or 0.0


async def run_until(loop: asyncio.Task[None], done: asyncio.Event) -> None:
    try:
        await asyncio.wait_for(done.wait(), timeout=5)
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop


async def test_more_work_goes_again_at_once_and_idle_waits() -> None:
    answers = [True, True, False, False]
    idles: list[int] = []
    steps = 0
    done = asyncio.Event()

    async def step() -> bool:
        nonlocal steps
        steps += 1
        if steps == len(answers):
            done.set()
        return answers[min(steps, len(answers)) - 1]

    async def idle() -> None:
        idles.append(steps)
        await asyncio.sleep(0)

    await run_until(asyncio.create_task(poll_forever(step, name="a", service="test", idle=idle)), done)
    # No wait after the two "more waiting" steps; one after each idle step.
    assert idles[:1] == [3]


async def test_a_failing_step_is_counted_retried_and_the_loop_goes_on() -> None:
    before = failures("b")
    seen: list[str] = []
    done = asyncio.Event()

    async def step() -> bool:
        seen.append("step")
        if len(seen) < 3:
            raise RuntimeError("database away")
        done.set()
        return False

    told: list[int] = []
    loop = asyncio.create_task(
        poll_forever(step, name="b", service="test", idle=0.001, after_failure=0.001, on_failure=lambda: told.append(1))
    )
    await run_until(loop, done)
    assert failures("b") - before == 2 and told == [1, 1]
    assert len(seen) == 3


async def test_start_idle_waits_before_the_first_step() -> None:
    order: list[str] = []
    done = asyncio.Event()

    async def step() -> bool:
        order.append("step")
        done.set()
        return False

    async def idle() -> None:
        order.append("idle")
        await asyncio.sleep(0)

    await run_until(asyncio.create_task(poll_forever(step, name="c", service="test", idle=idle, start_idle=True)), done)
    assert order[:2] == ["idle", "step"]


async def test_a_cancellation_ends_the_loop_even_mid_step() -> None:
    started = asyncio.Event()

    async def step() -> bool:
        started.set()
        await asyncio.sleep(3600)
        return False

    loop = asyncio.create_task(poll_forever(step, name="d", service="test", idle=0.001))
    await started.wait()
    loop.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop
    assert failures("d") == 0.0
