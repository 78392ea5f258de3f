"""What 12345's operations on its orders do to a case (intake records them on the order and announces them):

- 撤单 (``ReportWithdrawn``): when every report of the case is withdrawn the case is withdrawn — its round's open
  assignments are withdrawn, their clocks stop, and ``CaseWithdrawn`` tells follow-up (no return visit, counted
  against nobody) and the units. A case that still has other reports goes on; the withdrawal is on its timeline.
- 补充诉求 (``ReportSupplemented``): the new facts are on the case's timeline, the priority is raised if they call for
  it (never lowered; deadlines already running stay, the next assignments use it), and ``CaseSupplemented`` tells
  the units holding the case.
- 催单 (``ReportHurried``): a repeat complaint; every open assignment of the round is sent a 催办 at once
  (``CaseEscalated``, clock ``hurry``), and from the rules' ``hurry_limit`` the case is under district supervision
  (督办) as for too many returns or redos. ``CaseHurried`` counts it for the 12345 assessment.

The event names the case when intake knew it, else the report that opened it (``lead_report_id``); a case dispatch
has not opened yet is waited for (NotYet), as a verdict waits for its case.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import metrics
from services.dispatch.clocks import kinds
from services.dispatch.domain import Clock
from services.dispatch.effects import Changed, apply
from services.dispatch.escalation import step_of, supervise
from services.dispatch.models import Assignment, Case, CaseReport, timers
from services.dispatch.routing import round_assignments
from services.dispatch.rules import current_rules
from services.dispatch.states import ASSIGNMENT, CASE, OPEN, RUNNING_CLOCK, AssignmentStatus
from services.dispatch.timeline import Happened
from shared import effects
from shared.consumer import NotYet
from shared.contracts.common import Priority
from shared.contracts.dispatch import CaseHurried, CaseSupplemented, CaseWithdrawn, EscalationLevel
from shared.contracts.intake import ReportHurried, ReportSupplemented, ReportWithdrawn
from shared.effects import Effect, Stop, count
from shared.outbox import OutboxWriter

ACTOR = "12345"
_RANK = {Priority.NORMAL: 0, Priority.URGENT: 1, Priority.EMERGENCY: 2}


async def case_of(session: AsyncSession, *, case_id: str | None, lead_report_id: str) -> Case:
    """The case an operation is about, locked; not opened yet: wait for it."""
    if case_id is None:
        case_id = await session.scalar(select(CaseReport.case_id).where(CaseReport.report_id == lead_report_id))
    case = await session.get(Case, case_id, with_for_update=True) if case_id else None
    if case is None:
        raise NotYet("unknown_case", "no case of dispatch has this report yet")
    return case


async def _open_assignments(session: AsyncSession, case: Case) -> list[Assignment]:
    return [a for a in await round_assignments(session, case) if a.status in OPEN]


async def withdraw(session: AsyncSession, writer: OutboxWriter, *, e: ReportWithdrawn, at: datetime) -> Case:
    case = await case_of(session, case_id=e.case_id, lead_report_id=e.lead_report_id)
    whole = e.last_of_case and CASE.allows("withdraw", case.status)
    detail = {"report_id": e.report_id, "reason": e.reason, "whole": whole}
    if not whole:  # other reports keep the case going, or it closed before the withdrawal arrived
        await apply(
            session, writer, Changed(case_id=case.id, happened=Happened.WITHDRAWN, actor=ACTOR, at=at, detail=detail)
        )
        return case
    cancelled = await _open_assignments(session, case)
    for a in cancelled:
        a.status = ASSIGNMENT.move("withdraw", a.status)
    case.status, case.closed_at = CASE.move("withdraw", case.status), at  # over: closed_at is when it ended
    await effects.apply(
        session, writer, Effect(at=at, stops=tuple(Stop(timers, a.id, tuple(kinds(*Clock))) for a in cancelled))
    )
    report_ids = list((await session.scalars(select(CaseReport.report_id).where(CaseReport.case_id == case.id))).all())
    await apply(
        session,
        writer,
        Changed(
            case_id=case.id,
            happened=Happened.WITHDRAWN,
            actor=ACTOR,
            at=at,
            detail=detail,
            event=CaseWithdrawn(
                case_id=case.id,
                report_ids=report_ids or [e.report_id],
                unit_ids=list(dict.fromkeys(a.unit_id for a in cancelled)),
                reason=e.reason,
                withdrawn_at=at,
            ),
            metrics=(count(metrics.OPERATIONS.labels(case.district_id, "withdraw").inc),),
        ),
    )
    return case


async def supplement(session: AsyncSession, writer: OutboxWriter, *, e: ReportSupplemented, at: datetime) -> Case:
    case = await case_of(session, case_id=e.case_id, lead_report_id=e.lead_report_id)
    previous = Priority(case.priority)
    if e.priority is not None and _RANK[e.priority] > _RANK[previous]:
        case.priority = e.priority.value
    if e.priority_resident:
        case.priority_resident = True
    holding = await _open_assignments(session, case)
    await apply(
        session,
        writer,
        Changed(
            case_id=case.id,
            happened=Happened.SUPPLEMENTED,
            actor=ACTOR,
            at=at,
            detail={"report_id": e.report_id, "content": e.content, "priority": case.priority},
            event=CaseSupplemented(
                case_id=case.id,
                report_id=e.report_id,
                content=e.content,
                priority=Priority(case.priority),
                previous_priority=previous,
                unit_ids=list(dict.fromkeys(a.unit_id for a in holding)),
                supplemented_at=at,
            ),
            metrics=(count(metrics.OPERATIONS.labels(case.district_id, "supplement").inc),),
        ),
    )
    return case


async def hurry(session: AsyncSession, writer: OutboxWriter, *, e: ReportHurried, at: datetime) -> Case:
    case = await case_of(session, case_id=e.case_id, lead_report_id=e.lead_report_id)
    _, rules = await current_rules(session)
    case.hurries += 1
    holding = await _open_assignments(session, case) if CASE.allows("withdraw", case.status) else []
    supervising = case.hurries >= rules.hurry_limit and not case.supervised and bool(holding)
    changes = [
        Changed(
            case_id=case.id,
            happened=Happened.HURRIED,
            actor=ACTOR,
            at=at,
            detail={"report_id": e.report_id, "hurries": case.hurries, "content": e.content},
            event=CaseHurried(
                case_id=case.id,
                report_id=e.report_id,
                hurries=case.hurries,
                unit_ids=list(dict.fromkeys(a.unit_id for a in holding)),
                supervised=case.supervised or supervising,
                hurried_at=at,
                district_id=case.district_id,
                street_id=case.street_id,
            ),
            metrics=(count(metrics.OPERATIONS.labels(case.district_id, "hurry").inc),),
        ),
        # the 催办 each unit holding a clock gets at once
        *(
            step_of(case, a, EscalationLevel.REMINDER, clock="hurry", due_at=_running_deadline(a), at=at, actor=ACTOR)
            for a in holding
        ),
    ]
    await apply(session, writer, *changes)
    if supervising:
        await supervise(session, writer, rules, case, cause="hurries", at=at)
    return case


def _running_deadline(a: Assignment) -> datetime:
    clock = RUNNING_CLOCK[AssignmentStatus(a.status)]
    return {Clock.SIGN_IN: a.sign_in_due, Clock.ON_SITE: a.on_site_due, Clock.RESOLVE: a.resolve_due}[clock]
