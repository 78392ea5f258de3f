"""State gauges of dispatch, refreshed from the database: open cases by status and tier, overdue
assignments by unit."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import and_, func, or_, select

from services.dispatch import metrics
from services.dispatch.models import Assignment, Case
from shared.clock import Clock
from shared.runtime import ServiceRuntime

log = logging.getLogger(__name__)


async def refresh_gauges(runtime: ServiceRuntime, clock: Clock, every: float = 10.0) -> None:
    while True:
        try:
            await refresh_once(runtime, clock)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("dispatch gauges refresh failed", exc_info=True)
        await asyncio.sleep(every)


async def refresh_once(runtime: ServiceRuntime, clock: Clock) -> None:
    assert runtime.sessions is not None
    now = clock.now()
    async with runtime.sessions() as session:
        open_cases = (
            await session.execute(
                select(Case.status, Case.tier, func.count())
                .where(Case.status != "closed")
                .group_by(Case.status, Case.tier)
            )
        ).all()
        overdue = (
            await session.execute(
                select(Assignment.unit_id, Assignment.unit_type, func.count())
                .where(
                    or_(
                        and_(Assignment.status == "dispatched", Assignment.sign_in_due < now),
                        and_(Assignment.status == "signed_in", Assignment.on_site_due < now),
                        and_(
                            Assignment.status.in_(("dispatched", "signed_in", "on_site")), Assignment.resolve_due < now
                        ),
                    )
                )
                .group_by(Assignment.unit_id, Assignment.unit_type)
            )
        ).all()
    metrics.OPEN_CASES.clear()
    for status, tier, count in open_cases:
        metrics.OPEN_CASES.labels(status, tier).set(count)
    metrics.OVERDUE_ASSIGNMENTS.clear()
    for unit_id, unit_type, count in overdue:
        metrics.OVERDUE_ASSIGNMENTS.labels(unit_id, unit_type).set(count)
