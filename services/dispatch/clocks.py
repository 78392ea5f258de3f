"""An assignment's clocks as durable timers: one timer per clock and escalation level, named ``<clock>:<level>``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import domain
from services.dispatch.domain import Clock
from services.dispatch.models import timers
from shared import timers as durable
from shared.contracts.dispatch import EscalationLevel

LEVEL_ORDER = {None: 0, EscalationLevel.REMINDER: 1, EscalationLevel.NOTICE: 2, EscalationLevel.SUPERVISION: 3}


def timer_kind(clock: Clock, level: EscalationLevel) -> str:
    return f"{clock.value}:{level.value}"


def kinds(*clocks: Clock) -> list[str]:
    return [timer_kind(c, lvl) for c in clocks for lvl in domain.CHAIN]


def reminder(assignment_id: str, clock: Clock, due_at: datetime, length: timedelta) -> dict[str, Any]:
    """The first timer of a clock (its 催办 at the deadline), as a row for ``shared.timers.schedule_many``."""
    return {
        "kind": timer_kind(clock, EscalationLevel.REMINDER),
        "ref": assignment_id,
        "due_at": due_at,
        "payload": {"deadline": due_at.isoformat(), "length_s": length.total_seconds()},
    }


async def arm(
    session: AsyncSession,
    assignment_id: str,
    clock: Clock,
    level: EscalationLevel,
    due_at: datetime,
    length: timedelta,
) -> None:
    await durable.schedule(
        session,
        timers,
        kind=timer_kind(clock, level),
        ref=assignment_id,
        due_at=due_at,
        payload={"deadline": due_at.isoformat(), "length_s": length.total_seconds()},
    )
