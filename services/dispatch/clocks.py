"""An assignment's clocks as durable timers: one timer per clock and escalation level, named ``<clock>:<level>``."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.dispatch import domain
from services.dispatch.domain import Clock
from services.dispatch.models import timers
from shared.contracts.dispatch import EscalationLevel
from shared.effects import Arm

LEVEL_ORDER = {None: 0, EscalationLevel.REMINDER: 1, EscalationLevel.NOTICE: 2, EscalationLevel.SUPERVISION: 3}


def timer_kind(clock: Clock, level: EscalationLevel) -> str:
    return f"{clock.value}:{level.value}"


def kinds(*clocks: Clock) -> list[str]:
    return [timer_kind(c, lvl) for c in clocks for lvl in domain.CHAIN]


def reminder(assignment_id: str, clock: Clock, due_at: datetime, length: timedelta, *, working: bool) -> Arm:
    """The first timer of a clock (its 催办 at the deadline), for ``effects.apply``; its payload (the deadline, the
    clock's length and whether that length is working time) travels on to the later steps of the chain, which run on
    the same calendar. A payload without ``working`` (armed before working-day clocks existed) is around the clock."""
    return Arm(
        timers,
        timer_kind(clock, EscalationLevel.REMINDER),
        assignment_id,
        due_at,
        {"deadline": due_at.isoformat(), "length_s": length.total_seconds(), "working": working},
    )
