"""How an assignment is shown: its running clock and the time left on it, its case's category, priority and
place, and (in a detail view) its photos. Shared by the assignee console and the case views."""

from __future__ import annotations

from typing import Any

from services.dispatch.domain import Clock
from services.dispatch.models import Assignment, Case
from services.dispatch.schemas import AssignmentOut
from services.dispatch.states import RUNNING_CLOCK, AssignmentStatus
from shared.clock import TimeSource
from shared.evidence import Evidence


def assignment_out(a: Assignment, clock: TimeSource, case: Case | None = None) -> AssignmentOut:
    out = AssignmentOut.model_validate(a)
    running = RUNNING_CLOCK.get(AssignmentStatus(a.status))
    if running is not None:
        due = {Clock.SIGN_IN: a.sign_in_due, Clock.ON_SITE: a.on_site_due, Clock.RESOLVE: a.resolve_due}
        out.clock, out.seconds_left = running.value, (due[running] - clock.now()).total_seconds()
    if case is not None:
        out.category, out.priority = case.category, case.priority
        out.priority_resident, out.location = case.priority_resident, case.location
    return out


async def with_photos(out: AssignmentOut, a: Assignment, session: Any, evidence: Evidence) -> AssignmentOut:
    """A detail view's assignment with its photos (short-lived links; the caller may already see the case)."""
    out.photos = await evidence.shown(session, a.photo_refs or [])
    return out
