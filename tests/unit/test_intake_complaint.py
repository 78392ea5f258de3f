"""A complaint as intake understood it: the report row and both events are read from one value, so what is stored
and what is announced say the same (no database)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from services.intake.complaint import Complaint, Understood
from services.intake.models import Building, Household
from shared.contracts.common import Category, Channel, Priority
from tests.harness import SEED_HOUSEHOLD

pytestmark = pytest.mark.unit

AT = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
LOCATION = SEED_HOUSEHOLD


def understood(**over: object) -> Understood:
    complaint = Complaint(
        channel=Channel.HOTLINE_12345,
        building=Building(id="B-LK-1"),
        household=Household(id="H-LK-1-102", building_id="B-LK-1"),
        category=Category.COLD_ROOM,
        description="暖气不热，室温15度",
        reporter_kind="hotline",
        reporter_id="platform-1",
        at=AT,
        photo_refs=("https://12345.example/p/1.jpg",),
        external_id="12345:platform-1:GD-1",
        integration_id="platform-1",
        order_no="GD-1",
    )
    fields = {
        "complaint": complaint,
        "report_id": "R-1",
        "location": LOCATION,
        "priority": Priority.URGENT,
        "priority_resident": True,
        "measured_temp_c": 15.0,
        "public_text": "暖气不热，室温15度",
    }
    return Understood(**{**fields, **over})  # type: ignore[arg-type]


def test_the_row_and_the_first_report_event_say_the_same() -> None:
    u = understood()
    row = u.columns()
    event = u.reported(group_id="G-1")
    for column, field in (
        ("id", "report_id"),
        ("channel", "channel"),
        ("category", "category"),
        ("priority", "priority"),
        ("priority_resident", "priority_resident"),
        ("description", "description"),
        ("measured_temp_c", "measured_temp_c"),
        ("reporter_kind", "reporter_kind"),
        ("reporter_id", "reporter_id"),
    ):
        assert row[column] == getattr(event, field), column
    assert row["household_id"] == event.location.household_id and row["building_id"] == event.location.building_id
    assert event.photo_refs == ["https://12345.example/p/1.jpg"] and event.reported_at == AT
    assert row["external_id"] == "12345:platform-1:GD-1" and row["order_no"] == "GD-1"


def test_a_grouped_report_announces_what_a_first_one_would_and_its_incident() -> None:
    u = understood()
    first, grouped = (
        u.reported(group_id="G-1"),
        u.grouped(group_id="G-1", lead_report_id="R-0", case_id="C-9", scope="building"),
    )
    shared = {"report_id", "channel", "category", "priority", "priority_resident", "location", "description"}
    shared |= {"measured_temp_c", "reporter_kind", "reporter_id", "reported_at"}
    assert {k: getattr(first, k) for k in shared} == {k: getattr(grouped, k) for k in shared}
    assert (grouped.group_id, grouped.lead_report_id, grouped.case_id, grouped.scope) == (
        "G-1",
        "R-0",
        "C-9",
        "building",
    )


def test_events_are_keyed_by_the_household_or_else_the_building() -> None:
    assert understood().key == "H-LK-1-102"
    assert understood(location=LOCATION.model_copy(update={"household_id": None})).key == "B-LK-1"


def test_a_complaint_is_a_value() -> None:
    c = understood().complaint
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.description = "改写"  # type: ignore[misc]
