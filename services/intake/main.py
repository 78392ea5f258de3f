"""Composition root of the intake service."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI

from services.intake import hotline, open311, service
from services.intake.api import router
from services.intake.config import IntakeSettings
from services.intake.consumers import handlers
from services.intake.models import inbox, outbox, token_versions
from shared.clock import Clock, SystemClock
from shared.limits import RateLimiter, speak_refusals
from shared.revocations import auth_of
from shared.runtime import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


def create_app(
    settings: IntakeSettings | None = None,
    clock: Clock | None = None,
    callback_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    settings = settings or IntakeSettings()
    clock = clock or SystemClock()

    async def deliver_callbacks(runtime: ServiceRuntime) -> None:
        assert runtime.sessions is not None
        delivery = hotline.CallbackDelivery(
            settings=settings, sessions=runtime.sessions, clock=clock, transport=callback_transport
        )
        await delivery.run()

    async def prune_replays(runtime: ServiceRuntime, every: float = 60.0) -> None:
        assert runtime.sessions is not None
        while True:
            try:
                async with runtime.sessions() as session, session.begin():
                    await hotline.prune_replays(session, now=clock.now())
            except Exception:
                log.warning("pruning the replay store failed", exc_info=True)
            await asyncio.sleep(every)

    runtime = ServiceRuntime(
        settings,
        outbox=outbox,
        inbox=inbox,
        migrations_dir=MIGRATIONS,
        consumers=lambda rt: handlers(settings.topics),
        background=[deliver_callbacks, prune_replays],
    )
    writer = runtime.writer(settings.topics.complaints)
    app = runtime.build_app(
        title="供暖诉求受理 · intake",
        description="Every channel in: grid one-tap reports, 12345 orders, Open311, sensors, the visit ledger.",
        routers=[router, open311.router],
        body_limits={"/v1/sensor-readings": settings.sensor_max_body_bytes},
        clock=clock,
        settings=settings,
        writer=writer,
        intake=service.Intake(writer=writer, group_window=timedelta(minutes=settings.group_window_minutes)),
        rate_limits=RateLimiter(service=settings.service_name, rates=settings.rate_limits(), clock=clock),
        auth=auth_of(settings, runtime, token_versions),
    )
    speak_refusals(app, open311.router.prefix + "/", open311.plumbing_refusal)
    open311.speak_framework_refusals(app)
    return app
