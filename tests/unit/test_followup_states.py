"""Follow-up's transition tables (services.followup.states): every action from every status leads to its target or
answers its exact refusal (code, Chinese message, 409). No database: the statuses come in as the plain strings the
database stores."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pytest

from services.followup import texts
from services.followup.domain import round_outcome
from services.followup.states import (
    ASSIGNMENT,
    CASE,
    OPEN_ASSIGNMENT,
    ROUND,
    ROUND_DECIDED,
    SPOT_CHECK,
    SPOT_CHECK_RECORDED,
    VISIT,
    VISIT_CONCLUDED,
    AssignmentStatus,
    CaseStatus,
    RoundOutcome,
    SpotCheckStatus,
    VisitStatus,
)
from shared.errors import Conflict
from shared.states import Transitions


@dataclass(frozen=True)
class Refused:
    code: str


V, R, C, S, A = VisitStatus, RoundOutcome, CaseStatus, SpotCheckStatus, AssignmentStatus
VISIT_NOT_PENDING = Refused("visit_not_pending")
ROUND_DECIDED_ = Refused("round_decided")
CASE_NOT_CLOSED = Refused("case_not_closed")
CHECK_NOT_PENDING = Refused("spot_check_not_pending")
MOVED_ON = Refused("assignment_moved_on")
CASE_WITHDRAWN = Refused("case_withdrawn")

# table → action → status → the status it leads to, or the refusal. Every status of every action is listed.
EXPECTED: dict[str, tuple[Transitions[Any], dict[str, dict[StrEnum, StrEnum | Refused]]]] = {
    "visit": (
        VISIT,
        {
            "record": {
                V.PENDING: V.PENDING,
                V.CLOSED: VISIT_NOT_PENDING,
                V.REOPENED: VISIT_NOT_PENDING,
                V.CANCELLED: VISIT_NOT_PENDING,
            },
            "close": {
                V.PENDING: V.CLOSED,
                V.CLOSED: VISIT_NOT_PENDING,
                V.REOPENED: VISIT_NOT_PENDING,
                V.CANCELLED: VISIT_NOT_PENDING,
            },
            "reopen": {
                V.PENDING: V.REOPENED,
                V.CLOSED: VISIT_NOT_PENDING,
                V.REOPENED: VISIT_NOT_PENDING,
                V.CANCELLED: VISIT_NOT_PENDING,
            },
            "cancel": {
                V.PENDING: V.CANCELLED,
                V.CLOSED: VISIT_NOT_PENDING,
                V.REOPENED: VISIT_NOT_PENDING,
                V.CANCELLED: VISIT_NOT_PENDING,
            },
            "mark_overdue": {
                V.PENDING: V.PENDING,
                V.CLOSED: VISIT_NOT_PENDING,
                V.REOPENED: VISIT_NOT_PENDING,
                V.CANCELLED: VISIT_NOT_PENDING,
            },
        },
    ),
    "round": (
        ROUND,
        {
            "close": {
                R.PENDING: R.CLOSED,
                R.CLOSED: ROUND_DECIDED_,
                R.REOPENED: ROUND_DECIDED_,
                R.WITHDRAWN: ROUND_DECIDED_,
            },
            "reopen": {
                R.PENDING: R.REOPENED,
                R.CLOSED: ROUND_DECIDED_,
                R.REOPENED: ROUND_DECIDED_,
                R.WITHDRAWN: ROUND_DECIDED_,
            },
            "fail_spot_check": {
                R.PENDING: CASE_NOT_CLOSED,
                R.CLOSED: R.REOPENED,
                R.REOPENED: CASE_NOT_CLOSED,
                R.WITHDRAWN: CASE_NOT_CLOSED,
            },
            # a verdict already in stays when the case is withdrawn
            "withdraw": {
                R.PENDING: R.WITHDRAWN,
                R.CLOSED: ROUND_DECIDED_,
                R.REOPENED: ROUND_DECIDED_,
                R.WITHDRAWN: ROUND_DECIDED_,
            },
        },
    ),
    "case": (
        CASE,
        {
            "fail_spot_check": {
                C.OPEN: CASE_NOT_CLOSED,
                C.RESOLVED: CASE_NOT_CLOSED,
                C.CLOSED: C.REOPENED,
                C.REOPENED: CASE_NOT_CLOSED,
                C.WITHDRAWN: CASE_NOT_CLOSED,
            },
            # 撤单 is final: no later event of dispatch moves a withdrawn case
            "withdraw": {
                C.OPEN: C.WITHDRAWN,
                C.RESOLVED: C.WITHDRAWN,
                C.CLOSED: C.WITHDRAWN,
                C.REOPENED: C.WITHDRAWN,
                C.WITHDRAWN: CASE_WITHDRAWN,
            },
            "resolve": {
                C.OPEN: C.RESOLVED,
                C.RESOLVED: C.RESOLVED,
                C.CLOSED: C.RESOLVED,
                C.REOPENED: C.RESOLVED,
                C.WITHDRAWN: CASE_WITHDRAWN,
            },
            "start_round": {
                C.OPEN: C.OPEN,
                C.RESOLVED: C.OPEN,
                C.CLOSED: C.OPEN,
                C.REOPENED: C.OPEN,
                C.WITHDRAWN: CASE_WITHDRAWN,
            },
        },
    ),
    "spot_check": (
        SPOT_CHECK,
        {
            "record": {S.PENDING: S.PENDING, S.PASSED: CHECK_NOT_PENDING, S.FAILED: CHECK_NOT_PENDING},
            "pass": {S.PENDING: S.PASSED, S.PASSED: CHECK_NOT_PENDING, S.FAILED: CHECK_NOT_PENDING},
            "fail": {S.PENDING: S.FAILED, S.PASSED: CHECK_NOT_PENDING, S.FAILED: CHECK_NOT_PENDING},
        },
    ),
    "assignment": (
        ASSIGNMENT,
        {
            "sign_in": {
                A.DISPATCHED: A.SIGNED_IN,
                A.SIGNED_IN: MOVED_ON,
                A.ON_SITE: MOVED_ON,
                A.RESOLVED: MOVED_ON,
                A.RETURNED: MOVED_ON,
                A.WITHDRAWN: MOVED_ON,
            },
            "arrive": {
                A.DISPATCHED: A.ON_SITE,
                A.SIGNED_IN: A.ON_SITE,
                A.ON_SITE: MOVED_ON,
                A.RESOLVED: MOVED_ON,
                A.RETURNED: MOVED_ON,
                A.WITHDRAWN: MOVED_ON,
            },
            "withdraw": {
                A.DISPATCHED: A.WITHDRAWN,
                A.SIGNED_IN: A.WITHDRAWN,
                A.ON_SITE: A.WITHDRAWN,
                A.RESOLVED: MOVED_ON,
                A.RETURNED: MOVED_ON,
                A.WITHDRAWN: MOVED_ON,
            },
        },
    ),
}

CASES = [
    (name, action, status, outcome)
    for name, (_, actions) in EXPECTED.items()
    for action, by_status in actions.items()
    for status, outcome in by_status.items()
]
IDS = [f"{name}.{action} from {status}" for name, action, status, _ in CASES]

# The refusals a caller can get (409s of the HTTP API): the exact codes and messages of before the tables.
MESSAGES = {
    "visit_not_pending": texts.VISIT_NOT_PENDING,
    "spot_check_not_pending": texts.SPOT_CHECK_NOT_PENDING,
    "case_not_closed": texts.SPOT_CHECK_CASE_NOT_CLOSED,
    "round_decided": texts.ROUND_DECIDED,
    "assignment_moved_on": texts.ASSIGNMENT_MOVED_ON,
    "case_withdrawn": texts.CASE_WITHDRAWN,
}


def test_the_expectations_cover_every_action_and_every_status() -> None:
    for name, (table, actions) in EXPECTED.items():
        assert table.aggregate == name
        assert set(actions) == set(table.moves), name
        for action, by_status in actions.items():
            assert set(by_status) == set(table.statuses.__members__.values()), f"{name}.{action}"


@pytest.mark.parametrize(("name", "action", "status", "outcome"), CASES, ids=IDS)
def test_each_action_from_each_status(name: str, action: str, status: StrEnum, outcome: StrEnum | Refused) -> None:
    table = EXPECTED[name][0]
    stored = status.value  # what the database hands back: a plain str
    assert type(stored) is str
    if isinstance(outcome, Refused):
        assert not table.allows(action, stored)
        with pytest.raises(Conflict) as refused:
            table.move(action, stored)
        assert refused.value.status == 409
        assert refused.value.code == outcome.code
        assert refused.value.message == MESSAGES[outcome.code]
        with pytest.raises(Conflict):
            table.check(action, stored)
    else:
        assert table.allows(action, stored)
        moved = table.move(action, stored)
        assert moved is outcome  # a member of the enum, not the bare string
        assert moved == outcome.value
        table.check(action, stored)


def test_the_values_are_what_the_database_stores_and_the_api_shows() -> None:
    assert [s.value for s in VisitStatus] == ["pending", "closed", "reopened", "cancelled"]
    assert [s.value for s in RoundOutcome] == ["pending", "closed", "reopened", "withdrawn"]
    assert [s.value for s in SpotCheckStatus] == ["pending", "passed", "failed"]
    assert [s.value for s in CaseStatus] == ["open", "resolved", "closed", "reopened", "withdrawn"]
    assert [s.value for s in AssignmentStatus] == [
        "dispatched",
        "signed_in",
        "on_site",
        "resolved",
        "returned",
        "withdrawn",
    ]


def test_the_groupings() -> None:
    assert VISIT_CONCLUDED == {"closed", "reopened"}
    assert ROUND_DECIDED == {"closed", "reopened"}
    assert SPOT_CHECK_RECORDED == {"passed", "failed"}
    assert OPEN_ASSIGNMENT == {"dispatched", "signed_in", "on_site"}
    # the SQL updates of a re-tier and of a 撤单 withdraw these
    assert ASSIGNMENT.moves["withdraw"].sources == OPEN_ASSIGNMENT
    assert VISIT.reachable() == VISIT_CONCLUDED | {V.CANCELLED}
    assert ROUND.reachable() == ROUND_DECIDED | {R.WITHDRAWN}
    assert SPOT_CHECK.reachable() == SPOT_CHECK_RECORDED


@pytest.mark.parametrize("decision", [R.CLOSED, R.REOPENED])
def test_a_round_decided_by_its_visits_moves_to_that_decision(decision: RoundOutcome) -> None:
    statuses = [V.CLOSED.value] if decision is R.CLOSED else [V.CLOSED.value, V.REOPENED.value, V.PENDING.value]
    assert round_outcome(statuses) is decision
    action = "reopen" if decision is R.REOPENED else "close"  # as services.followup.recording decides a round
    assert ROUND.move(action, R.PENDING.value) is decision


def test_an_unknown_status_is_refused_with_the_actions_refusal() -> None:
    with pytest.raises(Conflict) as refused:
        VISIT.move("close", "archived")
    assert refused.value.code == "visit_not_pending"
