"""Composition root of the follow-up service."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Row, and_, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.followup import domain, reports_api, scheduling, spotchecks, spotchecks_api, visits_api
from services.followup.config import FollowupSettings
from services.followup.consumers import handlers
from services.followup.deps import FollowupContext
from services.followup.metrics import refresh_gauges
from services.followup.models import CaseFact, Photo, inbox, outbox, timers, token_versions
from services.followup.states import CaseStatus
from shared import timers as durable
from shared.auth import Role
from shared.clock import SystemClock, TimeSource
from shared.evidence import Evidence, retention
from shared.http.app import build_app
from shared.http.photos import photo_router
from shared.outbox import OutboxWriter
from shared.revocations import auth_of
from shared.runtime import ServiceRuntime
from shared.timers import TimerEngine

MIGRATIONS = Path(__file__).parent / "migrations"
SPOT_CHECK_DRAW = "spot_check_draw"


def draw_due(week: str, settings: FollowupSettings) -> datetime:
    """The Monday after ``week``, at the configured local hour."""
    return domain.week_window(week, settings.zone)[1] + timedelta(hours=settings.spot_check_draw_hour)


def timer_engine(runtime: ServiceRuntime, writer: OutboxWriter, clock: TimeSource) -> TimerEngine:
    """Return-visit deadlines, and the Monday spot-check draw when enabled."""
    settings = runtime.settings
    assert isinstance(settings, FollowupSettings) and runtime.sessions is not None

    async def visit_due(session: AsyncSession, row: Row[Any], now: datetime) -> None:
        await scheduling.visit_overdue(session, writer, visit_id=row.ref, now=now)

    async def weekly_draw(session: AsyncSession, row: Row[Any], now: datetime) -> None:
        week = row.ref
        await spotchecks.draw_all(session, writer, week=week, settings=settings, by="timer", at=now)
        following = domain.next_week(week)
        await durable.schedule(
            session, timers, kind=SPOT_CHECK_DRAW, ref=following, due_at=draw_due(following, settings)
        )

    return TimerEngine(
        service=settings.service_name,
        sessions=runtime.sessions,
        timers=timers,
        handlers={scheduling.VISIT_DUE: visit_due, SPOT_CHECK_DRAW: weekly_draw},
        clock=clock,
        batch_size=settings.timer_batch_size,
        poll_seconds=settings.timer_poll_seconds,
    )


async def arm_weekly_draw(session: AsyncSession, settings: FollowupSettings, now: datetime) -> None:
    """Arm the draw of the week in progress (kept if armed or fired before: a restart never draws twice)."""
    week = domain.week_of(now, settings.zone)
    await session.execute(
        insert(timers)
        .values(kind=SPOT_CHECK_DRAW, ref=week, due_at=draw_due(week, settings), payload={})
        .on_conflict_do_nothing()
    )


def closed_cases(cutoff: datetime) -> Any:
    """The photo keys of cases closed, or withdrawn (撤单), before ``cutoff`` (the retention job's due list)."""
    return (
        select(Photo.key)
        .join(CaseFact, CaseFact.id == Photo.case_id)
        .where(
            or_(
                and_(CaseFact.status == CaseStatus.CLOSED, CaseFact.closed_at < cutoff),
                and_(CaseFact.status == CaseStatus.WITHDRAWN, CaseFact.withdrawn_at < cutoff),
            )
        )
    )


def create_app(settings: FollowupSettings | None = None, clock: TimeSource | None = None) -> FastAPI:
    settings = settings or FollowupSettings()
    time_source = clock or SystemClock()
    topic = settings.topics.followup

    async def on_start(rt: ServiceRuntime) -> None:
        if settings.spot_check_auto:
            assert rt.sessions is not None
            async with rt.sessions() as session, session.begin():
                await arm_weekly_draw(session, settings, time_source.now())

    async def run_timers(rt: ServiceRuntime) -> None:
        await timer_engine(rt, rt.writer(topic), time_source).run()

    async def gauges(rt: ServiceRuntime) -> None:
        await refresh_gauges(rt, settings, time_source)

    evidence = Evidence.of(settings, Photo)
    runtime = ServiceRuntime(
        settings,
        outbox=outbox,
        inbox=inbox,
        migrations_dir=MIGRATIONS,
        consumers=lambda rt: handlers(settings, rt.writer(topic)),
        background=[run_timers, gauges, retention(evidence, closed_cases)] if settings.run_timers else [gauges],
        on_start=on_start,
    )
    return build_app(
        runtime,
        title="供暖诉求回访 · followup",
        description="24-hour return visits, the verdict that closes or reopens a case, weekly spot-checks, "
        "unit scorecards and the daily and season reports.",
        routers=[
            visits_api.router,
            spotchecks_api.router,
            reports_api.router,
            photo_router(Role.GRID_WORKER, Role.TASK_FORCE),
        ],
        context=FollowupContext(
            runtime=runtime,
            settings=settings,
            evidence=evidence,
            clock=time_source,
            writer=runtime.writer(topic),
            auth=auth_of(settings, runtime, token_versions),
        ),
    )
