"""Dispatch's transition tables, action by action and status by status, with no database: what each action leads
to, and the exact refusal (code) the API answers with 409 from every other status."""

from __future__ import annotations

import pytest

from services.dispatch.domain import Clock
from services.dispatch.states import (
    ASSIGNMENT,
    CASE,
    CLOCK_OPEN,
    EXTENSION,
    OPEN,
    RUNNING_CLOCK,
    AssignmentStatus,
    CaseStatus,
    ExtensionStatus,
    case_after_assigning,
)
from shared.errors import Conflict
from shared.states import Move, Refusal, Transitions, among

A = AssignmentStatus

# action → status → the status it leads to, or the refusal's code. Written out by hand: the table under test must
# agree with this, not with itself.
ASSIGNMENT_EXPECTED: dict[str, dict[AssignmentStatus, str]] = {
    "sign_in": {
        A.DISPATCHED: "signed_in",
        A.SIGNED_IN: "!already_signed_in",
        A.ON_SITE: "!already_signed_in",
        A.RESOLVED: "!already_signed_in",
        A.RETURNED: "!already_signed_in",
        A.WITHDRAWN: "!already_signed_in",
    },
    "arrive": {
        A.DISPATCHED: "!not_signed_in",
        A.SIGNED_IN: "on_site",
        A.ON_SITE: "!already_on_site",
        A.RESOLVED: "!already_on_site",
        A.RETURNED: "!already_on_site",
        A.WITHDRAWN: "!already_on_site",
    },
    "progress": {
        A.DISPATCHED: "dispatched",
        A.SIGNED_IN: "signed_in",
        A.ON_SITE: "on_site",
        A.RESOLVED: "!assignment_closed",
        A.RETURNED: "!assignment_closed",
        A.WITHDRAWN: "!assignment_closed",
    },
    "resolve": {
        A.DISPATCHED: "!not_signed_in",
        A.SIGNED_IN: "resolved",
        A.ON_SITE: "resolved",
        A.RESOLVED: "!already_resolved",
        A.RETURNED: "!already_resolved",
        A.WITHDRAWN: "!already_resolved",
    },
    "hand_back": {
        A.DISPATCHED: "returned",
        A.SIGNED_IN: "returned",
        A.ON_SITE: "returned",
        A.RESOLVED: "!assignment_closed",
        A.RETURNED: "!assignment_closed",
        A.WITHDRAWN: "!assignment_closed",
    },
    "withdraw": {
        A.DISPATCHED: "withdrawn",
        A.SIGNED_IN: "withdrawn",
        A.ON_SITE: "withdrawn",
        A.RESOLVED: "!assignment_closed",
        A.RETURNED: "!assignment_closed",
        A.WITHDRAWN: "!assignment_closed",
    },
}
ASSIGNMENT_EXPECTED["request_extension"] = ASSIGNMENT_EXPECTED["progress"]

C = CaseStatus
CASE_EXPECTED: dict[str, dict[CaseStatus, str]] = {
    "retier": {
        C.OPENED: "opened",
        C.ASSIGNED: "assigned",
        C.UNROUTED: "unrouted",
        C.RESOLVED: "!case_not_open",
        C.CLOSED: "!case_not_open",
        C.WITHDRAWN: "!case_not_open",
    },
    "close": {s: "!case_not_open" for s in C} | {C.RESOLVED: "closed"},
    "reopen_after_visit": {s: "!case_not_open" for s in C} | {C.RESOLVED: "resolved"},
    "reopen_after_spot_check": {s: "!case_not_open" for s in C} | {C.CLOSED: "closed"},
    # 撤单 ends a case not yet closed, whether or not it awaits its return visit; once over, for good
    "withdraw": {s: "withdrawn" for s in (C.OPENED, C.ASSIGNED, C.UNROUTED, C.RESOLVED)}
    | {C.CLOSED: "!case_not_open", C.WITHDRAWN: "!case_not_open"},
}

E = ExtensionStatus
EXTENSION_EXPECTED = {
    "approve": {E.PENDING: "approved", E.APPROVED: "!extension_decided", E.REFUSED: "!extension_decided"},
    "refuse": {E.PENDING: "refused", E.APPROVED: "!extension_decided", E.REFUSED: "!extension_decided"},
}


def outcome(table: Transitions, action: str, status: str) -> str:  # type: ignore[type-arg]
    try:
        return str(table.move(action, status))
    except Conflict as refused:
        assert refused.status == 409
        return f"!{refused.code}"


@pytest.mark.parametrize(
    ("table", "expected"),
    [(ASSIGNMENT, ASSIGNMENT_EXPECTED), (CASE, CASE_EXPECTED), (EXTENSION, EXTENSION_EXPECTED)],
    ids=["assignment", "case", "extension"],
)
def test_every_action_from_every_status(table: Transitions, expected: dict[str, dict[str, str]]) -> None:  # type: ignore[type-arg]
    assert set(table.moves) == set(expected), "an action without expectations, or one the table lacks"
    for action, by_status in expected.items():
        assert set(by_status) == set(table.statuses), f"{action}: every status is covered"
        got = {str(status): outcome(table, action, status) for status in table.statuses}
        assert got == {str(s): v for s, v in by_status.items()}, action
        for status in table.statuses:
            assert table.allows(action, status) == (not by_status[status].startswith("!"))


def test_statuses_are_the_stored_strings() -> None:
    # The database and the API carry these values; renaming one is a migration, not a refactor.
    assert [s.value for s in AssignmentStatus] == [
        "dispatched",
        "signed_in",
        "on_site",
        "resolved",
        "returned",
        "withdrawn",
    ]
    assert [s.value for s in CaseStatus] == ["opened", "assigned", "unrouted", "resolved", "closed", "withdrawn"]
    assert [s.value for s in ExtensionStatus] == ["pending", "approved", "refused"]


def test_the_clocks_an_assignment_still_runs() -> None:
    assert OPEN == {A.DISPATCHED, A.SIGNED_IN, A.ON_SITE}
    assert CLOCK_OPEN == {
        Clock.SIGN_IN: {A.DISPATCHED},
        Clock.ON_SITE: {A.DISPATCHED, A.SIGNED_IN},
        Clock.RESOLVE: {A.DISPATCHED, A.SIGNED_IN, A.ON_SITE},
    }
    assert RUNNING_CLOCK == {A.DISPATCHED: Clock.SIGN_IN, A.SIGNED_IN: Clock.ON_SITE, A.ON_SITE: Clock.RESOLVE}


def test_a_case_after_routing() -> None:
    assert case_after_assigning("opened", assigned_any=True) is C.ASSIGNED
    assert case_after_assigning("opened", assigned_any=False) is C.UNROUTED
    # A round that already has assignees stays assigned when a re-route finds nobody new.
    assert case_after_assigning("assigned", assigned_any=False) is C.ASSIGNED
    assert case_after_assigning("unrouted", assigned_any=False) is C.UNROUTED


def test_a_table_refuses_a_status_both_allowed_and_refused() -> None:
    refusal = Refusal("x", "x")
    with pytest.raises(ValueError, match="both allowed and refused"):
        Transitions("t", C, {"a": Move(among(C.OPENED), C.CLOSED, refusal, {C.OPENED: refusal})})
