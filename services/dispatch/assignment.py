"""An assignment's moves, as pure functions of its row: each checks the move (``states.ASSIGNMENT``), sets the
row's fields and returns what happened (``effects.Changed``): the timeline row, the clocks that stop, the metrics and
the fact to announce, which ``effects.apply`` writes. No I/O here: an assignment's rules are tested without a
database."""

from __future__ import annotations

import functools
from datetime import datetime

from services.dispatch import domain, metrics
from services.dispatch.domain import Clock
from services.dispatch.effects import Changed
from services.dispatch.models import Assignment
from services.dispatch.states import ASSIGNMENT
from services.dispatch.timeline import Happened
from shared.contracts.common import UnitType
from shared.contracts.dispatch import AssignmentArrived, AssignmentResolved, AssignmentReturned, AssignmentSignedIn


def _since_dispatch(a: Assignment, at: datetime) -> float:
    return (at - a.dispatched_at).total_seconds()


def sign_in(a: Assignment, *, actor: str, at: datetime) -> Changed:
    """签收."""
    a.status, a.signed_in_at = ASSIGNMENT.move("sign_in", a.status), at
    on_time = at <= a.sign_in_due
    return Changed(
        case_id=a.case_id,
        happened=Happened.SIGNED_IN,
        actor=actor,
        at=at,
        detail={"assignment_id": a.id, "on_time": on_time},
        event=AssignmentSignedIn(
            case_id=a.case_id, assignment_id=a.id, unit_id=a.unit_id, signed_in_at=at, on_time=on_time
        ),
        stops=(a.id, (Clock.SIGN_IN,)),
        metrics=(
            metrics.SIGNED_IN.labels(a.unit_type, str(on_time).lower()).inc,
            functools.partial(metrics.TIME_TO_SIGN_IN.labels(a.unit_type).observe, _since_dispatch(a, at)),
        ),
    )


def arrive(a: Assignment, *, actor: str, at: datetime, position: dict[str, float] | None) -> Changed:
    """到场, with the phone's position if it gave one (already coarse)."""
    a.status, a.arrived_at, a.arrival_position = ASSIGNMENT.move("arrive", a.status), at, position
    on_time = at <= a.on_site_due
    return Changed(
        case_id=a.case_id,
        happened=Happened.ARRIVED,
        actor=actor,
        at=at,
        detail={"assignment_id": a.id, "on_time": on_time},
        event=AssignmentArrived(
            case_id=a.case_id, assignment_id=a.id, unit_id=a.unit_id, arrived_at=at, on_time=on_time
        ),
        stops=(a.id, (Clock.ON_SITE,)),
        metrics=(functools.partial(metrics.TIME_TO_ON_SITE.labels(a.unit_type).observe, _since_dispatch(a, at)),),
    )


def progress(a: Assignment, *, actor: str, at: datetime, note: str) -> Changed:
    """办理中: a note on the timeline; the status stays."""
    ASSIGNMENT.check("progress", a.status)
    return Changed(
        case_id=a.case_id, happened=Happened.PROGRESS, actor=actor, at=at, detail={"assignment_id": a.id, "note": note}
    )


def resolve(
    a: Assignment,
    *,
    actor: str,
    at: datetime,
    action_taken: str,
    measured_temp_c: float | None,
    photo_refs: list[str],
    photos: int,
    photos_outside_window: int,
) -> Changed:
    """办结 (the assignee's part): every clock stops."""
    a.status, a.resolved_at = ASSIGNMENT.move("resolve", a.status), at
    a.action_taken, a.measured_temp_c, a.photo_refs = action_taken, measured_temp_c, photo_refs
    on_time = at <= a.resolve_due
    return Changed(
        case_id=a.case_id,
        happened=Happened.UNIT_RESOLVED,
        actor=actor,
        at=at,
        detail={"assignment_id": a.id, "on_time": on_time},
        event=AssignmentResolved(
            case_id=a.case_id,
            assignment_id=a.id,
            unit_id=a.unit_id,
            resolved_at=at,
            on_time=on_time,
            action_taken=action_taken,
            measured_temp_c=measured_temp_c,
            photos=photos,
            photos_outside_window=photos_outside_window,
        ),
        stops=(a.id, tuple(Clock)),
        metrics=(
            metrics.RESOLVED.labels(a.unit_type, str(on_time).lower()).inc,
            functools.partial(metrics.TIME_TO_RESOLVE.labels(a.unit_type).observe, _since_dispatch(a, at)),
        ),
    )


def hand_back(
    a: Assignment,
    *,
    actor: str,
    at: datetime,
    reason: domain.ReturnReason,
    note: str | None,
    bounce_count: int,
    district_id: str,
) -> Changed:
    """退单: the assignee hands it back with a reason (``bounce_count``: the case's, this one counted)."""
    a.status, a.returned_at = ASSIGNMENT.move("hand_back", a.status), at
    a.return_reason, a.return_note = reason.value, note
    return Changed(
        case_id=a.case_id,
        happened=Happened.RETURNED,
        actor=actor,
        at=at,
        detail={"assignment_id": a.id, "reason": reason.value, "note": note, "bounce_count": bounce_count},
        event=AssignmentReturned(
            case_id=a.case_id,
            assignment_id=a.id,
            unit_id=a.unit_id,
            unit_type=UnitType(a.unit_type),
            reason_code=reason.value,
            note=note,
            bounce_count=bounce_count,
            returned_at=at,
        ),
        stops=(a.id, tuple(Clock)),
        metrics=(metrics.RETURNS.labels(district_id, a.unit_type, reason.value).inc,),
    )
