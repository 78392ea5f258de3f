"""State gauges of dispatch, refreshed from the database: open cases by status and tier, overdue assignments
by unit, assignments still open after their last escalation step (督办) by unit. The same pass creates the
zero series of every registered district and unit, so dashboards list them all from the start."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import and_, func, or_, select

from services.dispatch import metrics
from services.dispatch.clocks import timer_kind
from services.dispatch.domain import CHAIN, Clock
from services.dispatch.models import Assignment, Case, Unit, timers
from services.dispatch.states import CLOCK_OPEN, FINISHED, CaseStatus
from shared.clock import TimeSource
from shared.contracts.common import Tier
from shared.contracts.dispatch import EscalationLevel
from shared.loops import poll_forever
from shared.metrics import TIMER_FAILURES, TIMER_LATENESS, TIMERS_FIRED
from shared.runtime import ServiceRuntime
from shared.states import values

log = logging.getLogger(__name__)

OPEN_CASE_STATUSES = values(set(CaseStatus) - FINISHED)  # every status a case has before it is over

_DUE = {
    Clock.SIGN_IN: Assignment.sign_in_due,
    Clock.ON_SITE: Assignment.on_site_due,
    Clock.RESOLVE: Assignment.resolve_due,
}


async def refresh_gauges(runtime: ServiceRuntime, clock: TimeSource, every: float = 10.0) -> None:
    prime_timer_series(runtime.settings.service_name)

    async def step() -> bool:
        await refresh_once(runtime, clock)
        return False

    await poll_forever(step, name="gauges", service=runtime.settings.service_name, idle=every)


def prime_timer_series(service: str) -> None:
    """Every deadline kind's timer counters exist at zero, so a first failure is seen as an increase."""
    for c in Clock:
        for level in CHAIN:
            kind = timer_kind(c, level)
            TIMERS_FIRED.labels(service, kind)
            TIMER_FAILURES.labels(service, kind)
            TIMER_LATENESS.labels(service, kind)


def _past_supervision() -> Any:
    """An assignment whose 督办 step fired after the clock's current deadline, and whose clock still runs.

    An approved extension moves the deadline past that firing, so an extended assignment is not counted.
    """
    fired = [
        and_(
            timers.c.kind == timer_kind(c, EscalationLevel.SUPERVISION),
            Assignment.status.in_(CLOCK_OPEN[c]),
            timers.c.fired_at >= _DUE[c],
        )
        for c in Clock
    ]
    return (
        select(Assignment.unit_id, Assignment.unit_type, func.count(func.distinct(Assignment.id)))
        .join(timers, timers.c.ref == Assignment.id)
        .where(timers.c.fired_at.is_not(None), or_(*fired))
        .group_by(Assignment.unit_id, Assignment.unit_type)
    )


async def refresh_once(runtime: ServiceRuntime, clock: TimeSource) -> None:
    assert runtime.sessions is not None
    now = clock.now()
    async with runtime.sessions() as session:
        open_cases = (
            await session.execute(
                select(Case.status, Case.tier, func.count())
                .where(Case.status.not_in(values(FINISHED)))
                .group_by(Case.status, Case.tier)
            )
        ).all()
        overdue = (
            await session.execute(
                select(Assignment.unit_id, Assignment.unit_type, func.count())
                .where(
                    or_(*(and_(Assignment.status.in_(values(CLOCK_OPEN[clock])), _DUE[clock] < now) for clock in Clock))
                )
                .group_by(Assignment.unit_id, Assignment.unit_type)
            )
        ).all()
        past_supervision = (await session.execute(_past_supervision())).all()
        units = (await session.execute(select(Unit.id, Unit.type, Unit.district_id))).all()
    metrics.prime_districts({district for _, _, district in units})
    metrics.OPEN_CASES.clear()
    for status in OPEN_CASE_STATUSES:
        for t in Tier:
            metrics.OPEN_CASES.labels(status, t.value).set(0)
    for status, tier, count in open_cases:
        metrics.OPEN_CASES.labels(status, tier).set(count)
    # Every registered unit has its per-unit series, at zero when it has nothing overdue: the units board
    # lists them all, and a unit's first overdue assignment is a change, not a new series.
    for gauge, rows in ((metrics.OVERDUE_ASSIGNMENTS, overdue), (metrics.PAST_SUPERVISION, past_supervision)):
        gauge.clear()
        for unit_id, unit_type, _ in units:
            gauge.labels(unit_id, unit_type).set(0)
        for unit_id, unit_type, count in rows:
            gauge.labels(unit_id, unit_type).set(count)
