"""Composition root of the intake service."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from services.intake import hotline, metrics, open311, service
from services.intake.api import admin, grid, reports, sensors
from services.intake.api import hotline as hotline_api
from services.intake.config import IntakeSettings
from services.intake.consumers import handlers
from services.intake.deps import IntakeContext
from services.intake.models import HotlineCallback, Photo, Report, inbox, outbox, rate_buckets, token_versions
from services.intake.states import OPEN311_CLOSED
from shared.auth import Role
from shared.clock import SystemClock, TimeSource
from shared.delivery import QueueGauge
from shared.evidence import Evidence, retention
from shared.http.app import build_app
from shared.http.photos import photo_router
from shared.limits import RateLimiter, speak_refusals
from shared.loops import poll_forever
from shared.rate_buckets import SharedBuckets
from shared.revocations import auth_of
from shared.runtime import ServiceRuntime
from shared.states import values

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


def closed_reports(cutoff: datetime) -> Any:
    """The photo keys of reports (一键上报, visit findings) whose case closed (or that were withdrawn) before
    ``cutoff`` (retention)."""
    return select(func.jsonb_array_elements_text(Report.photo_refs)).where(
        Report.status.in_(values(OPEN311_CLOSED)), Report.status_at < cutoff
    )


def create_app(
    settings: IntakeSettings | None = None,
    clock: TimeSource | None = None,
    callback_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    settings = settings or IntakeSettings()
    clock = clock or SystemClock()

    async def deliver_callbacks(runtime: ServiceRuntime) -> None:
        assert runtime.sessions is not None
        delivery = hotline.callback_deliveries(
            settings=settings, sessions=runtime.sessions, clock=clock, transport=callback_transport
        )
        await delivery.run(between_rounds=QueueGauge(runtime.sessions, HotlineCallback, metrics.CALLBACK_QUEUE).refresh)

    async def prune_replays(runtime: ServiceRuntime, every: float = 60.0) -> None:
        sessions = runtime.sessions
        assert sessions is not None

        async def step() -> bool:
            async with sessions() as session, session.begin():
                await hotline.prune_replays(session, now=clock.now())
            return False

        await poll_forever(step, name="12345-replays", service=settings.service_name, idle=every)

    async def prune_rate_buckets(runtime: ServiceRuntime, every: float = 60.0) -> None:
        # Any replica may delete a bucket that has refilled: the next take starts a full one, the same thing.
        async def step() -> bool:
            await rate_limits.prune()
            return False

        await poll_forever(step, name="rate-buckets", service=settings.service_name, idle=every, start_idle=True)

    evidence = Evidence.of(settings, Photo)
    runtime = ServiceRuntime(
        settings,
        outbox=outbox,
        inbox=inbox,
        migrations_dir=MIGRATIONS,
        consumers=lambda rt: handlers(settings.topics, settings.calls_back),
        background=[deliver_callbacks, prune_replays, prune_rate_buckets, retention(evidence, closed_reports)],
    )
    rate_limits = RateLimiter(
        service=settings.service_name,
        rates=settings.rate_limits(),
        clock=clock,
        store=SharedBuckets(rate_buckets, lambda: runtime.engine),
    )
    writer = runtime.writer(settings.topics.complaints)
    app = build_app(
        runtime,
        title="供暖诉求受理 · intake",
        description="Every channel in: grid one-tap reports, 12345 orders, Open311, sensors, the visit ledger.",
        # In this order: the OpenAPI document lists the paths as they are included.
        routers=[
            grid.router,
            reports.router,
            hotline_api.router,
            sensors.router,
            admin.router,
            hotline_api.callbacks,
            open311.router,
            photo_router(Role.GRID_WORKER),
        ],
        body_limits={"/v1/sensor-readings": settings.sensor_max_body_bytes},
        context=IntakeContext(
            runtime=runtime,
            evidence=evidence,
            clock=clock,
            settings=settings,
            writer=writer,
            intake=service.Intake(writer=writer, group_window=timedelta(minutes=settings.group_window_minutes)),
            rate_limits=rate_limits,
            auth=auth_of(settings, runtime, token_versions),
        ),
    )
    speak_refusals(app, open311.router.prefix + "/", open311.plumbing_refusal)
    open311.speak_framework_refusals(app)
    return app
