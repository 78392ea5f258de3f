"""An assignment's moves without a database: what each sets on the row and what it says happened (the timeline row,
the clocks that stop, the fact announced), and that a refused move changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.dispatch import assignment
from services.dispatch.domain import Clock, ReturnReason
from services.dispatch.models import Assignment
from services.dispatch.timeline import Happened
from shared.contracts.dispatch import AssignmentArrived, AssignmentResolved, AssignmentReturned, AssignmentSignedIn
from shared.errors import Conflict

pytestmark = pytest.mark.unit

T0 = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def dispatched(status: str = "dispatched") -> Assignment:
    return Assignment(
        id="A-1",
        case_id="C-1",
        unit_id="U-HEAT-1",
        unit_type="heating_company",
        round=1,
        status=status,
        dispatched_at=T0,
        sign_in_due=T0 + timedelta(minutes=30),
        on_site_due=T0 + timedelta(hours=2),
        resolve_due=T0 + timedelta(hours=24),
        photo_refs=[],
    )


def test_signing_in_on_time_stops_the_sign_in_clock_and_says_so() -> None:
    a = dispatched()
    at = T0 + timedelta(minutes=10)
    changed = assignment.sign_in(a, actor="U-HEAT-1", at=at)
    assert (a.status, a.signed_in_at) == ("signed_in", at)
    assert changed.happened is Happened.SIGNED_IN and changed.case_id == "C-1" and changed.actor == "U-HEAT-1"
    assert changed.detail == {"assignment_id": "A-1", "on_time": True}
    assert changed.stops == ("A-1", (Clock.SIGN_IN,))
    assert isinstance(changed.event, AssignmentSignedIn) and changed.event.on_time and changed.event.signed_in_at == at
    assert len(changed.metrics) == 2


def test_signing_in_late_is_announced_late() -> None:
    changed = assignment.sign_in(dispatched(), actor="U-HEAT-1", at=T0 + timedelta(hours=1))
    assert changed.detail["on_time"] is False
    assert isinstance(changed.event, AssignmentSignedIn) and not changed.event.on_time


def test_arriving_keeps_the_position_and_stops_the_on_site_clock() -> None:
    a = dispatched("signed_in")
    changed = assignment.arrive(a, actor="U-HEAT-1", at=T0 + timedelta(hours=3), position={"lat": 36.06, "lon": 103.8})
    assert a.status == "on_site" and a.arrival_position == {"lat": 36.06, "lon": 103.8}
    assert changed.stops == ("A-1", (Clock.ON_SITE,)) and changed.detail["on_time"] is False
    assert isinstance(changed.event, AssignmentArrived)


def test_resolving_stops_every_clock_and_carries_the_photo_counts() -> None:
    a = dispatched("on_site")
    changed = assignment.resolve(
        a,
        actor="U-HEAT-1",
        at=T0 + timedelta(hours=5),
        action_taken="排气",
        measured_temp_c=20.5,
        photo_refs=["uploads/" + "a" * 32],
        photos=1,
        photos_outside_window=0,
    )
    assert a.status == "resolved" and a.action_taken == "排气" and a.photo_refs == ["uploads/" + "a" * 32]
    assert changed.happened is Happened.UNIT_RESOLVED and changed.stops == ("A-1", tuple(Clock))
    event = changed.event
    assert isinstance(event, AssignmentResolved) and event.photos == 1 and event.measured_temp_c == 20.5


def test_handing_back_records_the_reason_and_the_cases_bounces() -> None:
    a = dispatched("signed_in")
    changed = assignment.hand_back(
        a,
        actor="U-HEAT-1",
        at=T0 + timedelta(minutes=20),
        reason=ReturnReason.NOT_OUR_AREA,
        note="不是本单位管辖",
        bounce_count=2,
        district_id="D-CG",
    )
    assert a.status == "returned" and a.return_reason == ReturnReason.NOT_OUR_AREA.value
    assert changed.detail["bounce_count"] == 2 and changed.stops == ("A-1", tuple(Clock))
    assert isinstance(changed.event, AssignmentReturned) and changed.event.bounce_count == 2


def test_a_progress_note_changes_no_status_and_stops_nothing() -> None:
    a = dispatched("on_site")
    changed = assignment.progress(a, actor="U-HEAT-1", at=T0, note="换阀门")
    assert a.status == "on_site" and changed.event is None and changed.stops is None
    assert changed.detail == {"assignment_id": "A-1", "note": "换阀门"}


def test_a_refused_move_changes_nothing_on_the_row() -> None:
    a = dispatched("resolved")
    with pytest.raises(Conflict) as refused:
        assignment.sign_in(a, actor="U-HEAT-1", at=T0)
    assert refused.value.code == "already_signed_in"
    assert a.status == "resolved" and a.signed_in_at is None
