"""A service stops in bounded time even when part of it will not: each step of the stop gets
``shutdown_step_seconds``, and what overstays is logged with its stack instead of holding the process forever."""

from __future__ import annotations

import asyncio
import time

import pytest
from fastapi import FastAPI

from services.intake.config import IntakeSettings
from services.intake.main import MIGRATIONS
from services.intake.models import inbox, outbox
from shared.auth import Auth, verifier_from_settings
from shared.clock import SystemClock
from shared.http.context import ServiceContext
from shared.runtime import ServiceRuntime
from tests.harness import KAFKA, check_stack, drop_database, fresh_database, new_prefix, run_db

LINGER = 3.0


async def stubborn(_: ServiceRuntime) -> None:
    """A background job that swallows its cancellation and lingers (the bug a stop must survive). It ends at last, so
    the test's event loop can close: a task that never ends would hold ``asyncio.run``'s own cleanup, past any stop."""
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        await asyncio.sleep(LINGER)


async def test_a_task_that_ignores_its_cancellation_does_not_hold_the_stop(caplog: pytest.LogCaptureFixture) -> None:
    await check_stack()
    db = run_db("shutdown")
    settings = IntakeSettings(
        database_url=await fresh_database(db),
        kafka_bootstrap=KAFKA,
        kafka_topic_prefix=new_prefix("sd"),
        environment="test",
        shutdown_step_seconds=0.5,
    )
    runtime = ServiceRuntime(settings, outbox=outbox, inbox=inbox, migrations_dir=MIGRATIONS, background=[stubborn])
    app = FastAPI()
    app.state.context = ServiceContext(
        runtime=runtime, clock=SystemClock(), auth=Auth(verifier_from_settings(settings))
    )
    try:
        async with runtime.lifespan(app):
            await asyncio.sleep(0.1)  # the job is sleeping when the stop comes
            started = time.monotonic()
        took = time.monotonic() - started
    finally:
        await drop_database(db)

    stuck = [r for r in caplog.records if r.getMessage() == "background task did not stop"]
    assert [r.__dict__["task"] for r in stuck] == ["stubborn"]
    assert "stubborn" in stuck[0].__dict__["stack"]
    # The stop waited one step for the job, not until it ended; the producer and the pool still stopped.
    assert took < LINGER
    assert any(r.getMessage() == "service stopped" for r in caplog.records)
    assert runtime.producer is not None and runtime.producer._closed
    lingering = [task for task in runtime._tasks if not task.done()]
    assert [task.get_name() for task in lingering] == ["stubborn"]
    await asyncio.wait(lingering)
