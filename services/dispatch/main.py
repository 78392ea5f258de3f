"""Composition root of the dispatch service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.dispatch.api import router
from services.dispatch.config import DispatchSettings
from services.dispatch.consumers import handlers
from services.dispatch.models import inbox, outbox
from shared.clock import Clock, SystemClock
from shared.runtime import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: DispatchSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or DispatchSettings()
    clock = clock or SystemClock()
    writer_topic = settings.topics.cases
    runtime = ServiceRuntime(
        settings,
        outbox=outbox,
        inbox=inbox,
        migrations_dir=MIGRATIONS,
        consumers=lambda rt: handlers(settings.topics, rt.writer(writer_topic), clock),
    )
    return runtime.build_app(
        title="供暖诉求调度 · dispatch",
        description="网格吹哨、部门报到: cases, unit assignments on the clock, the unit console API.",
        routers=[router],
        clock=clock,
        writer=runtime.writer(writer_topic),
    )
