"""Composition root of the follow-up service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.followup.api import router
from services.followup.config import FollowupSettings
from services.followup.consumers import handlers
from services.followup.models import inbox, outbox
from shared.clock import Clock, SystemClock
from shared.runtime import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: FollowupSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or FollowupSettings()
    topic = settings.topics.followup
    runtime = ServiceRuntime(
        settings,
        outbox=outbox,
        inbox=inbox,
        migrations_dir=MIGRATIONS,
        consumers=lambda rt: handlers(settings, rt.writer(topic)),
    )
    return runtime.build_app(
        title="供暖诉求回访 · followup",
        description="24-hour return visits, the verdict that closes or reopens a case, scorecards and reports.",
        routers=[router],
        clock=clock or SystemClock(),
        writer=runtime.writer(topic),
    )
