"""The whole loop on the real broker and database, across the three services as processes:
grid report → case → heating company signs in, arrives, resolves → return visit → closed or reopened → round 2.
"""

from __future__ import annotations

import asyncio
from typing import Any

from shared.events import Envelope
from tests.e2e.conftest import Running
from tests.harness import envelopes, read_topic


def events_of(topic: str, key: str, until: list[str]) -> list[Envelope]:
    """The events of one case (or household) on a topic, once every type in ``until`` has appeared in order."""

    def mine(records: list[Any]) -> list[Envelope]:
        return [e for e in envelopes(records) if e.correlation_id == key]

    def done(records: list[Any]) -> bool:
        return [e.event_type for e in mine(records)][: len(until)] == until

    return mine(asyncio.run(read_topic(topic, until=done)))


def timeline_is(c: Any, who: str, report_id: str, expected: list[str]) -> dict[str, Any] | None:
    """The report once its timeline reads ``expected`` (the two topics it hears from are consumed apart)."""
    report: dict[str, Any] = c.report(who, report_id)
    return report if [e["status"] for e in report["timeline"]] == expected else None


def fix(r: Running, unit: str, case_id: str, round_: int, temp: float) -> dict[str, Any]:
    c = r.client
    a = c.wait_assignment(unit, case_id, round_)
    assert a["status"] == "dispatched" and a["clock"] == "sign_in" and a["seconds_left"] > 0
    assert c.act(unit, a["id"], "sign-in")["status"] == "signed_in"
    assert c.act(unit, a["id"], "arrive")["status"] == "on_site"
    done = c.act(unit, a["id"], "resolve", action_taken="排气、清洗滤网", measured_temp_c=temp)
    assert done["status"] == "resolved" and done["measured_temp_c"] == temp
    return a


def report_cold_room(r: Running, worker: str, household: str) -> tuple[dict[str, Any], str]:
    report = r.client.grid_report(
        worker, household_id=household, category="cold_room", description="居民反映暖气不热", measured_temp_c=15.5
    )
    assert report["status"] == "accepted"
    return report, r.client.wait_case_of(worker, report["id"])


def test_cold_room_fixed_and_confirmed_warm_is_closed(running: Running) -> None:
    c = running.client
    report, case_id = report_cold_room(running, "GW-01", "H-LK-1-101")
    assert report["priority"] == "urgent" and report["priority_resident"]  # 独居老人: one step up
    assert report["location"]["substation_id"] == "SS-01"

    assignment = fix(running, "U-HEAT-1", case_id, 1, 20.5)
    assert c.report("GW-01", report["id"])["case_id"] == case_id
    visit = c.wait_visit("GW-01", case_id, 1)
    assert visit["status"] == "pending" and visit["household_id"] == "H-LK-1-101"
    recorded = c.record_visit("GW-01", visit["id"], room_temps_c=[20.5, 19.0], satisfaction="satisfied")
    assert recorded["status"] == "closed" and recorded["min_temp_c"] == 19.0

    expected = ["accepted", "dispatched", "signed_in", "resolved", "closed"]
    final = c.wait_for("the reporter to hear every step", lambda: timeline_is(c, "GW-01", report["id"], expected))
    assert final["status"] == "closed"
    case = c.wait_for("case closed", lambda: (x := c.case("TF-JYG", case_id))["status"] == "closed" and x)
    assert case["round"] == 1 and case["redo_count"] == 0
    assert [e["kind"] for e in case["timeline"]] == [
        "reported",
        "opened",
        "dispatched",
        "signed_in",
        "arrived",
        "unit_resolved",
        "resolved",
        "closed",
    ]

    complaints = events_of(running.topics.complaints, report["id"], ["ComplaintReported"])
    assert complaints[0].payload["location"]["household_id"] == "H-LK-1-101"
    assert complaints[0].payload["category"] == "cold_room"
    dispatch_events = events_of(
        running.topics.cases,
        case_id,
        ["CaseOpened", "CaseAssigned", "AssignmentSignedIn", "AssignmentArrived", "AssignmentResolved", "CaseResolved"],
    )
    assigned = dispatch_events[1]
    assert assigned.payload["unit_id"] == "U-HEAT-1" and assigned.payload["assignment_id"] == assignment["id"]
    assert dispatch_events[2].payload["on_time"] is True
    followup_events = events_of(running.topics.followup, case_id, ["VisitScheduled", "VisitRecorded", "CaseClosed"])
    assert followup_events[2].payload["min_temp_c"] == 19.0


def test_still_cold_after_the_fix_is_reopened_and_a_second_round_closes(running: Running) -> None:
    c = running.client
    report, case_id = report_cold_room(running, "GW-03", "H-CH-45-101")
    assert report["priority"] == "normal"

    fix(running, "U-HEAT-2", case_id, 1, 17.0)
    visit = c.wait_visit("GW-03", case_id, 1)
    reopened = c.record_visit("GW-03", visit["id"], room_temps_c=[16.0, 17.5], satisfaction="dissatisfied")
    assert reopened["status"] == "reopened" and reopened["reopen_reason"] == "both"

    # Dispatch opens round 2 for the same unit, with raised priority (发回重办).
    fix(running, "U-HEAT-2", case_id, 2, 20.0)
    case = c.case("TF-JYG", case_id)
    assert case["round"] == 2 and case["redo_count"] == 1 and case["priority"] == "urgent"
    visit2 = c.wait_visit("GW-03", case_id, 2)
    assert visit2["id"] != visit["id"]
    assert c.record_visit("GW-03", visit2["id"], room_temps_c=[20.0, 19.5], satisfaction="mostly")["status"] == "closed"

    expected = [
        "accepted",
        "dispatched",
        "signed_in",
        "resolved",
        "reopened",
        "dispatched",
        "signed_in",
        "resolved",
        "closed",
    ]
    final = c.wait_for("the reporter to hear every step", lambda: timeline_is(c, "GW-03", report["id"], expected))
    assert final["status"] == "closed"
    case = c.wait_for("case closed", lambda: (x := c.case("TF-JYG", case_id))["status"] == "closed" and x)
    assert [a["round"] for a in case["assignments"]] == [1, 2]

    dispatch_events = events_of(
        running.topics.cases,
        case_id,
        [
            "CaseOpened",
            "CaseAssigned",
            "AssignmentSignedIn",
            "AssignmentArrived",
            "AssignmentResolved",
            "CaseResolved",
            "CaseRoundStarted",
            "CaseAssigned",
            "AssignmentSignedIn",
            "AssignmentArrived",
            "AssignmentResolved",
            "CaseResolved",
        ],
    )
    assert dispatch_events[6].payload == {
        "case_id": case_id,
        "round": 2,
        "redo_count": 1,
        "priority": "urgent",
        "reason": "both",
    }
    assert dispatch_events[7].payload["round"] == 2 and dispatch_events[7].payload["unit_id"] == "U-HEAT-2"
    followup_events = events_of(
        running.topics.followup,
        case_id,
        ["VisitScheduled", "VisitRecorded", "CaseReopened", "VisitScheduled", "VisitRecorded", "CaseClosed"],
    )
    assert followup_events[2].payload["reason"] == "both" and followup_events[2].payload["round"] == 1
    assert followup_events[5].payload["round"] == 2


def test_units_and_grid_workers_see_only_their_own(running: Running) -> None:
    c = running.client
    report, case_id = report_cold_room(running, "GW-02", "H-DF-3-301")
    a = c.wait_assignment("U-HEAT-2", case_id)
    from deploy.client import ApiFailure

    for attempt in (
        lambda: c.act("U-HEAT-1", a["id"], "sign-in"),
        lambda: c.call("dispatch", "GET", f"/v1/assignments/{a['id']}", who="U-HEAT-1"),
        lambda: c.case("U-HEAT-1", case_id),
        lambda: c.report("GW-01", report["id"]),
    ):
        try:
            attempt()
            raise AssertionError("another unit / grid must not see this")
        except ApiFailure as failure:
            assert failure.response.status_code == 404
    assert all(x["case_id"] != case_id for x in c.assignments("U-HEAT-1"))
