"""Composition root of the dispatch service."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import accounts, admin_api, assignee_api, console, escalation, field, oversight_api, rules
from services.dispatch.clocks import timer_kind
from services.dispatch.config import DispatchSettings
from services.dispatch.consumers import handlers
from services.dispatch.deps import DispatchContext
from services.dispatch.domain import CHAIN, Clock, load_rules
from services.dispatch.gauges import refresh_gauges
from services.dispatch.models import Case, Photo, inbox, outbox, timers
from services.dispatch.notify import api as notify_api
from services.dispatch.notify.channels.registry import adapters
from services.dispatch.notify.sending import Sending
from services.dispatch.passwords import HashGate
from services.dispatch.states import FINISHED
from shared.auth import Auth, Role, TokenIssuer, TokenVersions, verifier_from_settings
from shared.clock import SystemClock, TimeSource
from shared.evidence import Evidence, retention
from shared.http.app import build_app
from shared.http.photos import photo_router
from shared.outbox import OutboxWriter
from shared.runtime import ServiceRuntime
from shared.states import values
from shared.timers import TimerEngine

MIGRATIONS = Path(__file__).parent / "migrations"


def timer_engine(runtime: ServiceRuntime, writer: OutboxWriter, clock: TimeSource) -> TimerEngine:
    """The deadline engine: every clock × escalation step of every assignment."""

    async def fire(session: AsyncSession, rows: list[Row[Any]], now: datetime) -> None:
        await escalation.on_clock_breaches(session, writer, rows, now)

    settings = runtime.settings
    assert isinstance(settings, DispatchSettings) and runtime.sessions is not None
    return TimerEngine(
        service=settings.service_name,
        sessions=runtime.sessions,
        timers=timers,
        batch_handlers={timer_kind(c, level): fire for c in Clock for level in CHAIN},
        clock=clock,
        batch_size=settings.timer_batch_size,
        poll_seconds=settings.timer_poll_seconds,
    )


def closed_cases(cutoff: datetime) -> Any:
    """The photo keys of cases closed before ``cutoff`` (the retention job's due list)."""
    return (
        select(Photo.key)
        .join(Case, Case.id == Photo.case_id)
        .where(Case.status.in_(values(FINISHED)), Case.closed_at < cutoff)
    )


def create_app(
    settings: DispatchSettings | None = None,
    clock: TimeSource | None = None,
    notify_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    settings = settings or DispatchSettings()
    time_source = clock or SystemClock()

    async def on_start(rt: ServiceRuntime) -> None:
        assert rt.sessions is not None
        async with rt.sessions() as session, session.begin():
            await rules.ensure_rules(session, default=load_rules(settings.rules_file))

    async def run_timers(rt: ServiceRuntime) -> None:
        await timer_engine(rt, rt.writer(settings.topics.cases), time_source).run()

    async def gauges(rt: ServiceRuntime) -> None:
        await refresh_gauges(rt, time_source)

    async def notify(rt: ServiceRuntime) -> None:
        assert rt.sessions is not None
        jobs = Sending(
            settings=settings.notify,
            service=settings.service_name,
            sessions=rt.sessions,
            clock=time_source,
            adapters=adapters(settings.notify.sms),
            transport=notify_transport,
        )
        await jobs.run()

    evidence = Evidence.of(settings, Photo)
    runtime = ServiceRuntime(
        settings,
        outbox=outbox,
        inbox=inbox,
        migrations_dir=MIGRATIONS,
        consumers=lambda rt: handlers(
            settings.topics, rt.writer(settings.topics.cases), time_source, notify=settings.notify
        ),
        background=[
            *([run_timers, gauges, retention(evidence, closed_cases)] if settings.run_timers else [gauges]),
            *([notify] if settings.notify.enabled else []),
        ],
        on_start=on_start,
    )
    issuer = TokenIssuer(
        settings.auth_private_key.get_secret_value(), issuer=settings.auth_issuer, audience=settings.auth_audience
    )
    auth = Auth(
        verifier_from_settings(settings, own_jwks=issuer.jwks()),
        TokenVersions(
            accounts.version_lookup(lambda: runtime.sessions), ttl_seconds=settings.auth_revocation_cache_seconds
        ),
    )
    return build_app(
        runtime,
        title="供暖诉求调度 · dispatch",
        description="网格吹哨、部门报到: cases, assignments on the clock, the escalation chain, 退单 and 延期.",
        routers=[
            assignee_api.router,
            oversight_api.router,
            admin_api.router,
            accounts.router,
            console.router,
            field.router,
            notify_api.router,
            photo_router(Role.UNIT, Role.GRID_WORKER, Role.TASK_FORCE),
        ],
        context=DispatchContext(
            runtime=runtime,
            settings=settings,
            evidence=evidence,
            clock=time_source,
            writer=runtime.writer(settings.topics.cases),
            issuer=issuer,
            auth=auth,
            login_gate=HashGate(settings.login_hash_concurrency, settings.login_hash_queue),
        ),
    )
