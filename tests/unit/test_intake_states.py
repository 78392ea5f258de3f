"""Intake's statuses as types: the values the database and the APIs carry, the 12345 callback's redrive table from
every state, Open311's words for every report status, and the texts keyed by status. No database."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from services.intake import domain, texts
from services.intake.api.hotline import _CALLBACK_STATES
from services.intake.api.reports import _assigned
from services.intake.hotline import CALLBACK
from services.intake.models import HotlineCallback, Report
from services.intake.open311 import request_view, to_xml
from services.intake.states import (
    OPEN311_CLOSED,
    OPEN311_STATUS,
    UNDELIVERED,
    CallbackState,
    Open311Status,
    ReportStatus,
    TimelineEntry,
    open311_status,
)
from shared.auth import Principal, Role
from shared.delivery import Outcome
from shared.errors import Conflict

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
TOLD = [*ReportStatus, *TimelineEntry]


# -- the stored values ----------------------------------------------------------------------------------------------


def test_values_are_the_stored_strings() -> None:
    assert [s.value for s in ReportStatus] == [
        "accepted",
        "dispatched",
        "signed_in",
        "resolved",
        "closed",
        "reopened",
        "withdrawn",
    ]
    assert [s.value for s in TimelineEntry] == ["grouped", "escalated", "supplemented", "hurried"]
    assert [s.value for s in CallbackState] == ["pending", "delivered", "dead"]
    assert [s.value for s in Open311Status] == ["open", "closed"]
    # The outcome label of intake_callback_deliveries_total (besides "dead", a parked row's extra count): the shared
    # delivery machine's outcomes, which the dashboards and alert rules name.
    assert [s.value for s in Outcome] == [
        "delivered",
        "rate_limited",
        "rejected",
        "not_configured",
        "http_error",
        "timeout",
        "network_error",
    ]


def test_a_timeline_entry_is_never_a_status() -> None:
    assert not {s.value for s in ReportStatus} & {e.value for e in TimelineEntry}


def test_members_are_their_strings() -> None:
    """What the database hands back (a plain str) compares, hashes and serialises as the member does."""
    for member in [*TOLD, *CallbackState, *Open311Status]:
        assert member == member.value and hash(member) == hash(member.value)
        assert str(member) == f"{member}" == member.value
        assert json.dumps({"s": member}) == json.dumps({"s": member.value})


# -- the callback table ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", list(CallbackState))
def test_redrive_from_every_state(state: CallbackState) -> None:
    if state is CallbackState.DEAD:
        assert CALLBACK.allows("redrive", state)
        assert CALLBACK.move("redrive", state) is CallbackState.PENDING
        assert CALLBACK.move("redrive", state.value) is CallbackState.PENDING  # as read from the row
        return
    assert not CALLBACK.allows("redrive", state)
    with pytest.raises(Conflict) as refused:
        CALLBACK.move("redrive", state.value)
    assert (refused.value.status, refused.value.code, refused.value.message) == (
        409,
        "callback_not_dead",
        texts.CALLBACK_NOT_DEAD,
    )
    assert texts.CALLBACK_NOT_DEAD == "只有已停止重试的回调可以重新投递"


def test_redrive_refuses_a_state_it_does_not_know() -> None:
    with pytest.raises(Conflict) as refused:
        CALLBACK.move("redrive", "parked")
    assert refused.value.code == "callback_not_dead"


def test_the_callback_table_has_one_action() -> None:
    assert set(CALLBACK.moves) == {"redrive"}
    assert CALLBACK.reachable() == {CallbackState.PENDING}
    assert CALLBACK.moves["redrive"].sources == {CallbackState.DEAD}


def test_the_queue_is_what_is_not_delivered() -> None:
    assert UNDELIVERED == frozenset(CallbackState) - {CallbackState.DELIVERED}


def test_a_new_callback_row_is_pending_and_the_due_index_reads_pending() -> None:
    table = HotlineCallback.__table__
    assert table.c.state.default is not None
    assert table.c.state.default.arg == "pending"  # type: ignore[attr-defined]
    (due,) = [i for i in table.indexes if i.name == "ix_hotline_callbacks_due"]
    assert due.dialect_options["postgresql"]["where"].text == "state = 'pending'"


def test_the_state_filter_pattern_is_unchanged() -> None:
    assert _CALLBACK_STATES == "^(pending|delivered|dead)$"


# -- Open311 -------------------------------------------------------------------------------------------------------


def test_open311_has_a_word_for_every_report_status() -> None:
    assert set(OPEN311_STATUS) == set(ReportStatus)
    assert OPEN311_CLOSED == {ReportStatus.CLOSED, ReportStatus.WITHDRAWN}


@pytest.mark.parametrize("status", list(ReportStatus))
def test_open311_word_of_each_status(status: ReportStatus) -> None:
    over = (ReportStatus.CLOSED, ReportStatus.WITHDRAWN)  # closed by its return visit, or withdrawn by 12345
    expected = Open311Status.CLOSED if status in over else Open311Status.OPEN
    assert OPEN311_STATUS[status] is expected
    assert open311_status(status) is expected
    assert open311_status(status.value) is expected  # as read from the row


def test_a_status_open311_does_not_know_reads_as_open() -> None:
    for unknown in ("grouped", "escalated", "archived", ""):
        assert open311_status(unknown) is Open311Status.OPEN


def _report(status: str) -> Report:
    return Report(
        id="R-0000000000000001",
        channel="open311",
        category="cold_room",
        status=status,
        description="暖气不热",
        photo_refs=[],
        building_id="B-1",
        reported_at=T0,
        updated_at=T0,
        agency=None,
        expected_at=None,
    )


@pytest.mark.parametrize("status", list(ReportStatus))
def test_a_service_request_shows_open311_words_as_plain_strings(status: ReportStatus) -> None:
    view = request_view(_report(status.value), "1号楼", None, None)
    word = "closed" if status in (ReportStatus.CLOSED, ReportStatus.WITHDRAWN) else "open"
    assert view["status"] == word and type(view["status"]) is str
    assert view["status_notes"] == domain.STATUS_NOTES[status]
    assert f'"status":"{word}"' in json.dumps(view, separators=(",", ":"))
    assert f"<status>{word}</status>".encode() in to_xml("service_requests", [view])


# -- texts by status -------------------------------------------------------------------------------------------------


def test_every_status_and_timeline_entry_has_a_note() -> None:
    assert set(domain.STATUS_NOTES) == set(TOLD)
    assert domain.STATUS_NOTES["accepted"] == "已受理"  # looked up by the stored string too
    assert domain.STATUS_NOTES[TimelineEntry.ESCALATED] == "已催办"


def test_12345_has_a_text_for_every_change_of_a_case() -> None:
    """Callbacks are queued by the case's facts (feedback.set_case_status) and a withdrawal: never for acceptance,
    grouping or the platform's own supplements and hurries, which the answer to its request tells (``_order_out``
    falls back to the note)."""
    told_already = {ReportStatus.ACCEPTED, TimelineEntry.GROUPED, TimelineEntry.SUPPLEMENTED, TimelineEntry.HURRIED}
    assert set(texts.HOTLINE_STATUS_TEXT) == set(TOLD) - told_already
    assert texts.HOTLINE_STATUS_TEXT["closed"] == "已办结"
    assert texts.HOTLINE_STATUS_TEXT[ReportStatus.REOPENED] == "发回重办"


# -- who sees the resident's contact ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", list(ReportStatus))
def test_an_assigned_unit_sees_the_contact_until_the_case_is_closed(status: ReportStatus) -> None:
    unit = Principal(role=Role.UNIT, sub="U-1", scope="U-1")
    assert _assigned(unit, "U-2,U-1", status.value) is (status not in (ReportStatus.CLOSED, ReportStatus.WITHDRAWN))
    assert _assigned(unit, "U-2", status.value) is False
