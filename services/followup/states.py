"""The statuses of follow-up's aggregates and their moves (see shared.states). The values are what the database
stores and the APIs show.

A return visit (回访): pending → closed (the verdict passes) or reopened (发回重办); a visit still pending when another
visit of its building sample fails, or when the 12345 platform withdraws the case (撤单), is cancelled. An attempt
that does not reach the resident keeps it pending, and so does going overdue. A round: pending until its visits
decide it closed or reopened, once; a failed spot-check reopens a closed round of a case still closed on that
round; a round still pending when the case is withdrawn is withdrawn (it will never have a verdict). A case is
withdrawn once, from any status, and stays so. A spot-check (抽核): pending → passed or failed, once.

Follow-up's copies of dispatch's cases and assignments move with dispatch's events, keyed by round and by the
moments the events carry; a late or repeated event never moves an assignment copy backwards (``allows``).
"""

from __future__ import annotations

from enum import StrEnum

from services.followup import texts
from shared.contracts.dispatch import AssignmentStatus as AssignmentStatus
from shared.states import Move, Refusal, Transitions, among


class VisitStatus(StrEnum):
    PENDING = "pending"
    CLOSED = "closed"
    REOPENED = "reopened"
    CANCELLED = "cancelled"  # another visit of the round failed first, or the case was withdrawn (撤单)


class RoundOutcome(StrEnum):
    PENDING = "pending"
    CLOSED = "closed"  # 办结
    REOPENED = "reopened"  # 发回重办, or a failed spot-check later
    WITHDRAWN = "withdrawn"  # the case was withdrawn (撤单) while the round awaited its return visit


class SpotCheckStatus(StrEnum):
    PENDING = "pending"
    PASSED = "passed"
    FAILED = "failed"


class CaseStatus(StrEnum):
    """Follow-up's view of a case (CaseFact)."""

    OPEN = "open"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    WITHDRAWN = "withdrawn"  # 撤单: the 12345 platform withdrew every report of the case; it counts against no unit


V = VisitStatus
VISIT_CONCLUDED = among(V.CLOSED, V.REOPENED)  # a verdict was recorded (not pending, not cancelled)
ROUND_DECIDED = among(RoundOutcome.CLOSED, RoundOutcome.REOPENED)
SPOT_CHECK_RECORDED = among(SpotCheckStatus.PASSED, SpotCheckStatus.FAILED)
A = AssignmentStatus
OPEN_ASSIGNMENT = among(A.DISPATCHED, A.SIGNED_IN, A.ON_SITE)  # the unit still owes something

_VISIT_NOT_PENDING = Refusal("visit_not_pending", texts.VISIT_NOT_PENDING)
VISIT: Transitions[VisitStatus] = Transitions(
    "visit",
    VisitStatus,
    {
        "record": Move(among(V.PENDING), None, _VISIT_NOT_PENDING),  # any attempt; one not reaching the resident stays
        "close": Move(among(V.PENDING), V.CLOSED, _VISIT_NOT_PENDING),
        "reopen": Move(among(V.PENDING), V.REOPENED, _VISIT_NOT_PENDING),
        "cancel": Move(among(V.PENDING), V.CANCELLED, _VISIT_NOT_PENDING),
        "mark_overdue": Move(among(V.PENDING), None, _VISIT_NOT_PENDING),
    },
)

# The finding of a failed spot-check has something to reopen only while the round and the case are still closed.
CASE_NOT_CLOSED = Refusal("case_not_closed", texts.SPOT_CHECK_CASE_NOT_CLOSED)
_ROUND_DECIDED = Refusal("round_decided", texts.ROUND_DECIDED)
ROUND: Transitions[RoundOutcome] = Transitions(
    "round",
    RoundOutcome,
    {
        "close": Move(among(RoundOutcome.PENDING), RoundOutcome.CLOSED, _ROUND_DECIDED),
        "reopen": Move(among(RoundOutcome.PENDING), RoundOutcome.REOPENED, _ROUND_DECIDED),
        "fail_spot_check": Move(among(RoundOutcome.CLOSED), RoundOutcome.REOPENED, CASE_NOT_CLOSED),
        "withdraw": Move(among(RoundOutcome.PENDING), RoundOutcome.WITHDRAWN, _ROUND_DECIDED),  # a verdict stays
    },
)

C = CaseStatus
CASE_WITHDRAWN = Refusal("case_withdrawn", texts.CASE_WITHDRAWN)
CASE: Transitions[CaseStatus] = Transitions(
    "case",
    CaseStatus,
    {
        "fail_spot_check": Move(among(C.CLOSED), C.REOPENED, CASE_NOT_CLOSED),
        "withdraw": Move(among(C.OPEN, C.RESOLVED, C.CLOSED, C.REOPENED), C.WITHDRAWN, CASE_WITHDRAWN),
        # what dispatch's later events of a round would do to the case; never to a withdrawn one
        "resolve": Move(among(C.OPEN, C.RESOLVED, C.CLOSED, C.REOPENED), C.RESOLVED, CASE_WITHDRAWN),
        "start_round": Move(among(C.OPEN, C.RESOLVED, C.CLOSED, C.REOPENED), C.OPEN, CASE_WITHDRAWN),
    },
)

_CHECK_NOT_PENDING = Refusal("spot_check_not_pending", texts.SPOT_CHECK_NOT_PENDING)
SPOT_CHECK: Transitions[SpotCheckStatus] = Transitions(
    "spot_check",
    SpotCheckStatus,
    {
        "record": Move(among(SpotCheckStatus.PENDING), None, _CHECK_NOT_PENDING),
        "pass": Move(among(SpotCheckStatus.PENDING), SpotCheckStatus.PASSED, _CHECK_NOT_PENDING),
        "fail": Move(among(SpotCheckStatus.PENDING), SpotCheckStatus.FAILED, _CHECK_NOT_PENDING),
    },
)

_MOVED_ON = Refusal("assignment_moved_on", texts.ASSIGNMENT_MOVED_ON)
ASSIGNMENT: Transitions[AssignmentStatus] = Transitions(
    "assignment",
    AssignmentStatus,
    {
        "sign_in": Move(among(A.DISPATCHED), A.SIGNED_IN, _MOVED_ON),
        "arrive": Move(among(A.DISPATCHED, A.SIGNED_IN), A.ON_SITE, _MOVED_ON),
        "withdraw": Move(OPEN_ASSIGNMENT, A.WITHDRAWN, _MOVED_ON),  # the case was re-tiered or withdrawn (撤单)
    },
)
