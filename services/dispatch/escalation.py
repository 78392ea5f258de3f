"""The escalation chain: clock breaches fired by the timer engine (催办→通报→督办), and district supervision."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import domain, metrics
from services.dispatch.calendar_years import work_calendar
from services.dispatch.clocks import LEVEL_ORDER, timer_kind
from services.dispatch.domain import Clock, Rules
from services.dispatch.effects import Changed, apply
from services.dispatch.models import (
    Assignment,
    Case,
    timers,
)
from services.dispatch.routing import assign, round_assignments, route
from services.dispatch.rules import current_rules
from services.dispatch.states import CLOCK_OPEN, OPEN
from services.dispatch.timeline import Happened
from shared.contracts.common import UnitType
from shared.contracts.dispatch import (
    CaseEscalated,
    EscalationLevel,
)
from shared.effects import Arm
from shared.outbox import OutboxWriter


async def supervise(
    session: AsyncSession,
    writer: OutboxWriter,
    rules: Rules,
    case: Case,
    *,
    cause: str,
    at: datetime,
    exclude: set[str] | frozenset[str] = frozenset(),
) -> None:
    """督办: the district takes the case in hand; its housing bureau is convened if not already."""
    case.supervised = True
    case.escalation_level = EscalationLevel.SUPERVISION.value
    supervision = EscalationLevel.SUPERVISION
    await apply(
        session,
        writer,
        Changed(
            case_id=case.id,
            happened=Happened.ESCALATED,
            actor="dispatch",
            at=at,
            detail={"level": supervision.value, "clock": cause},
            event=CaseEscalated(
                case_id=case.id,
                assignment_id=None,
                unit_id=None,
                unit_type=None,
                level=supervision,
                clock=cause,
                due_at=None,
                escalated_at=at,
                district_id=case.district_id,
                street_id=case.street_id,
            ),
            metrics=(metrics.ESCALATIONS.labels(case.district_id, "case", supervision.value).inc,),
        ),
    )
    # Under 督办 the district's bureau takes the case even if it returned it before: only an assignee
    # already working on the round is not convened twice.
    current = {x.unit_id for x in await round_assignments(session, case) if x.status in OPEN}
    bureau = await route(session, rules, case, types=(UnitType.HOUSING_BUREAU,), exclude=current)
    await assign(session, writer, rules, case, [b for b in bureau if b.type is UnitType.HOUSING_BUREAU], at)


def step_of(
    case: Case,
    a: Assignment,
    level: EscalationLevel,
    *,
    clock: str,
    due_at: datetime,
    at: datetime,
    actor: str = "dispatch",
    arms: tuple[Arm, ...] = (),
) -> Changed:
    """One step of the chain for one assignment (its timeline row, ``CaseEscalated``, the metric): a breached clock's
    (``clock`` sign_in / on_site / resolve, due at its deadline) or a 12345 催单's 催办 (``clock`` hurry)."""
    return Changed(
        case_id=case.id,
        happened=Happened.ESCALATED,
        actor=actor,
        at=at,
        detail={
            "assignment_id": a.id,
            "unit_id": a.unit_id,
            "level": level.value,
            "clock": clock,
            "due_at": due_at.isoformat(),
        },
        event=CaseEscalated(
            case_id=case.id,
            assignment_id=a.id,
            unit_id=a.unit_id,
            unit_type=UnitType(a.unit_type),
            level=level,
            clock=clock,
            due_at=due_at,
            escalated_at=at,
            district_id=case.district_id,
            street_id=case.street_id,
        ),
        metrics=(metrics.ESCALATIONS.labels(case.district_id, a.unit_type, level.value).inc,),
        arms=arms,
    )


async def on_clock_breaches(session: AsyncSession, writer: OutboxWriter, rows: list[Any], now: datetime) -> None:
    """Timers fired: one step of the escalation chain (催办→通报→督办) for one clock of each assignment.

    Works on a whole batch with a handful of statements, so tens of thousands of deadlines falling due in
    a minute are drained in time.
    """
    refs = [r.ref for r in rows]
    found = {
        a.id: a
        for a in (await session.scalars(select(Assignment).where(Assignment.id.in_(refs)).with_for_update())).all()
    }
    cases = {
        c.id: c
        for c in (
            await session.scalars(
                select(Case).where(Case.id.in_({a.case_id for a in found.values()})).with_for_update()
            )
        ).all()
    }
    _, rules = await current_rules(session)
    calendar = await work_calendar(session, rules)
    changes: list[Changed] = []
    for row in rows:
        clock_name, level_name = row.kind.split(":")
        clock, level = Clock(clock_name), EscalationLevel(level_name)
        a = found.get(row.ref)
        if a is None or a.status not in CLOCK_OPEN[clock]:
            continue  # the clock stopped before the timer could be disarmed: nothing breached
        case = cases[a.case_id]
        deadline = datetime.fromisoformat(row.payload["deadline"])
        if LEVEL_ORDER[level] > LEVEL_ORDER[EscalationLevel(a.escalation_level) if a.escalation_level else None]:
            a.escalation_level = level.value
        if LEVEL_ORDER[level] > LEVEL_ORDER[EscalationLevel(case.escalation_level) if case.escalation_level else None]:
            case.escalation_level = level.value
        if level is EscalationLevel.SUPERVISION:
            case.supervised = True
        step = domain.next_escalation(
            rules,
            level,
            deadline,
            timedelta(seconds=row.payload["length_s"]),
            working=row.payload.get("working", False),
            calendar=calendar,
        )
        changes.append(
            step_of(
                case,
                a,
                level,
                clock=clock.value,
                due_at=deadline,
                at=now,
                # The next step of the chain, carrying the clock's deadline and length on.
                arms=(Arm(timers, timer_kind(clock, step[0]), a.id, step[1], row.payload),) if step else (),
            )
        )
    # The whole batch of firings: its timeline rows, events and next timers, one statement each.
    await apply(session, writer, *changes)
