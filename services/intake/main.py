"""Composition root of the intake service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.intake.api import router
from services.intake.config import IntakeSettings
from services.intake.consumers import handlers
from services.intake.models import inbox, outbox
from shared.clock import Clock, SystemClock
from shared.runtime import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: IntakeSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    runtime = ServiceRuntime(
        settings,
        outbox=outbox,
        inbox=inbox,
        migrations_dir=MIGRATIONS,
        consumers=lambda rt: handlers(settings.topics),
    )
    return runtime.build_app(
        title="供暖诉求受理 · intake",
        description="Every channel in: grid one-tap reports, 12345 orders, Open311, sensors, the visit ledger.",
        routers=[router],
        clock=clock or SystemClock(),
        writer=runtime.writer(settings.topics.complaints),
    )
