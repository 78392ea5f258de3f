"""How an assignment is shown: its running clock and the time left on it, its case's category, priority and
place, what 12345 callers added since it was dispatched (补充诉求, 催单), and (in a detail view) its photos. Shared
by the assignee console and the case views."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.domain import Clock
from services.dispatch.models import Assignment, Case, CaseEvent
from services.dispatch.schemas import AssignmentOut, CallerNoteOut
from services.dispatch.states import RUNNING_CLOCK, AssignmentStatus
from services.dispatch.timeline import Happened
from shared.clock import TimeSource
from shared.evidence import Evidence


def assignment_out(a: Assignment, clock: TimeSource, case: Case) -> AssignmentOut:
    """The one shape of an assignment in every answer (the assignee's list, one assignment, an action's answer, a
    case's detail): its running clock and its case's category, priority, place and households."""
    out = AssignmentOut.model_validate(a)
    running = RUNNING_CLOCK.get(AssignmentStatus(a.status))
    if running is not None:
        due = {Clock.SIGN_IN: a.sign_in_due, Clock.ON_SITE: a.on_site_due, Clock.RESOLVE: a.resolve_due}
        out.clock, out.seconds_left = running.value, (due[running] - clock.now()).total_seconds()
    out.category, out.priority = case.category, case.priority
    out.priority_resident, out.location = case.priority_resident, case.location
    out.affected_households = case.affected_households
    out.hurries = case.hurries
    return out


_CALLER_NOTES = (Happened.SUPPLEMENTED, Happened.HURRIED)
# Built once (it runs with every list an assignee reads): the notes of the cases bound as ``case_ids``.
_NOTES_OF = (
    select(CaseEvent.case_id, CaseEvent.kind, CaseEvent.detail, CaseEvent.at)
    .where(CaseEvent.case_id.in_(bindparam("case_ids", expanding=True)), CaseEvent.kind.in_(_CALLER_NOTES))
    .order_by(CaseEvent.at, CaseEvent.id)
)


async def with_caller_notes(session: AsyncSession, outs: Sequence[AssignmentOut]) -> None:
    """Each assignment's case's 12345 补充诉求 and 催单 since it was dispatched (one statement for them all): how the
    unit holding the case hears of them, on the phone too (the field app keeps its list offline)."""
    if not outs:
        return
    rows = (await session.execute(_NOTES_OF, {"case_ids": sorted({o.case_id for o in outs})})).all()
    for out in outs:
        out.caller_notes = [
            CallerNoteOut(kind=kind, text=detail.get("content"), at=at)
            for case_id, kind, detail, at in rows
            if case_id == out.case_id and at >= out.dispatched_at
        ]


async def assignment_shown(session: AsyncSession, a: Assignment, clock: TimeSource) -> AssignmentOut:
    """``assignment_out`` with the assignment's case read (from the session's identity map when already loaded)."""
    case = await session.get(Case, a.case_id)
    assert case is not None, "an assignment's case is deleted with it"
    out = assignment_out(a, clock, case)
    await with_caller_notes(session, [out])
    return out


async def with_photos(out: AssignmentOut, a: Assignment, session: Any, evidence: Evidence) -> AssignmentOut:
    """A detail view's assignment with its photos (short-lived links; the caller may already see the case)."""
    out.photos = await evidence.shown(session, a.photo_refs or [])
    return out
