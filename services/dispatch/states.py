"""The statuses of dispatch's aggregates and their moves (see shared.states).

An assignment: 派单 (dispatched) → 签收 (signed_in) → 到场 (on_site) → 办结 (resolved); while open it may be handed
back (returned, 退单) or withdrawn when the case changes tier. A case: opened → assigned (or unrouted when nobody
serves the place) → resolved when every live assignment of its round is → closed by the return visit; a verdict of
the return visit (or a failed spot-check) reopens it into a new round. An extension request (延期): pending →
approved or refused, once. A case its 12345 platform withdrew (撤单) before it closed is withdrawn, for good.
"""

from __future__ import annotations

from enum import StrEnum

from services.dispatch import texts
from services.dispatch.domain import Clock
from shared.contracts.dispatch import AssignmentStatus as AssignmentStatus
from shared.states import Move, Refusal, Transitions, among


class CaseStatus(StrEnum):
    OPENED = "opened"
    ASSIGNED = "assigned"
    UNROUTED = "unrouted"
    RESOLVED = "resolved"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"  # 撤单: every report of it was withdrawn by its 12345 platform


class ExtensionStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


A = AssignmentStatus
OPEN = among(A.DISPATCHED, A.SIGNED_IN, A.ON_SITE)  # the assignee still owes something
SETTLED_OUT = among(A.RETURNED, A.WITHDRAWN)  # no longer part of its round
# Which assignment statuses still run each clock.
CLOCK_OPEN = {
    Clock.SIGN_IN: among(A.DISPATCHED),
    Clock.ON_SITE: among(A.DISPATCHED, A.SIGNED_IN),
    Clock.RESOLVE: OPEN,
}
# The clock an open assignment is running against, and so the deadline its assignee sees first.
RUNNING_CLOCK = {A.DISPATCHED: Clock.SIGN_IN, A.SIGNED_IN: Clock.ON_SITE, A.ON_SITE: Clock.RESOLVE}

FINISHED = among(CaseStatus.CLOSED, CaseStatus.WITHDRAWN)  # a case that is over: closed, or withdrawn (撤单)
CASE_IN_PROGRESS = among(CaseStatus.OPENED, CaseStatus.ASSIGNED, CaseStatus.UNROUTED)  # units still at work
CASE_NOT_CLOSED = among(*CASE_IN_PROGRESS, CaseStatus.RESOLVED)  # the case list's "open": a return visit still due

# The case list's status filters besides a single status: ``open`` is every case not closed (nor withdrawn), the
# resolved ones awaiting their return visit (待回访) included; ``in_progress`` only those whose units are still at work.
CASE_FILTERS = {"open": CASE_NOT_CLOSED, "in_progress": CASE_IN_PROGRESS}

_CLOSED = Refusal("assignment_closed", texts.ASSIGNMENT_CLOSED)
_NOT_SIGNED_IN = Refusal("not_signed_in", texts.SIGN_IN_FIRST)

ASSIGNMENT: Transitions[AssignmentStatus] = Transitions(
    "assignment",
    AssignmentStatus,
    {
        "sign_in": Move(among(A.DISPATCHED), A.SIGNED_IN, Refusal("already_signed_in", texts.ALREADY_SIGNED_IN)),
        "arrive": Move(
            among(A.SIGNED_IN),
            A.ON_SITE,
            Refusal("already_on_site", texts.ALREADY_ON_SITE),
            {A.DISPATCHED: _NOT_SIGNED_IN},
        ),
        "progress": Move(OPEN, None, _CLOSED),
        "request_extension": Move(OPEN, None, _CLOSED),
        "resolve": Move(
            among(A.SIGNED_IN, A.ON_SITE),
            A.RESOLVED,
            Refusal("already_resolved", texts.ALREADY_RESOLVED),
            {A.DISPATCHED: _NOT_SIGNED_IN},
        ),
        "hand_back": Move(OPEN, A.RETURNED, _CLOSED),
        "withdraw": Move(OPEN, A.WITHDRAWN, _CLOSED),
    },
)

EXTENSION: Transitions[ExtensionStatus] = Transitions(
    "extension",
    ExtensionStatus,
    {
        decision: Move(among(ExtensionStatus.PENDING), target, Refusal("extension_decided", texts.EXTENSION_DECIDED))
        for decision, target in (("approve", ExtensionStatus.APPROVED), ("refuse", ExtensionStatus.REFUSED))
    },
)

C = CaseStatus
_NOT_OPEN = Refusal("case_not_open", texts.CASE_NOT_OPEN)
CASE: Transitions[CaseStatus] = Transitions(
    "case",
    CaseStatus,
    {
        "retier": Move(CASE_IN_PROGRESS, None, _NOT_OPEN),
        "close": Move(among(C.RESOLVED), C.CLOSED, _NOT_OPEN),
        # A return visit's verdict reopens a resolved case; a failed spot-check, a closed one. Either starts a round,
        # whose routing then decides the status (case_after_assigning).
        "reopen_after_visit": Move(among(C.RESOLVED), None, _NOT_OPEN),
        "reopen_after_spot_check": Move(among(C.CLOSED), None, _NOT_OPEN),
        # 撤单: a case not yet closed, resolved and awaiting its return visit included.
        "withdraw": Move(among(C.OPENED, C.ASSIGNED, C.UNROUTED, C.RESOLVED), C.WITHDRAWN, _NOT_OPEN),
    },
)


def case_after_assigning(current: str, assigned_any: bool) -> CaseStatus:
    """A case that convened somebody is assigned; one nobody serves is unrouted, unless earlier assignments of its
    round still stand."""
    if assigned_any or current == C.ASSIGNED:
        return C.ASSIGNED
    return C.UNROUTED
