"""The notifications of the rest of the loop, on the real stack: a return visit's reminder and its overdue
notice to the grid, a 12345 催单 to the unit holding the clock, a spot-check to the street's task force, and an ops
alert from Alertmanager to the on-call."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.dispatch.notify.models import Notification
from services.dispatch.notify.settings import DEV_ALERT_TOKEN
from shared.contracts.common import Satisfaction
from shared.contracts.dispatch import CaseHurried
from shared.contracts.followup import SpotCheckScheduled, VisitRecorded, VisitScheduled
from tests.harness import wait_until
from tests.integration.notify_desk import DUTY, Desk, desk, emergency

pytestmark = pytest.mark.integration
__all__ = ["desk"]  # the module's fixture


async def test_a_visit_reminder_waits_for_its_hour_without_holding_back_the_grids_other_messages(desk: Desk) -> None:
    a = await emergency(desk)
    await desk.put_target("area", "G-PHN-01", "wecom", desk.robot("G-PHN-01"))
    soon, later = datetime.now(UTC) + timedelta(hours=1), datetime.now(UTC) + timedelta(hours=30)
    due_now, due_later, recorded = (f"V-{uuid.uuid4().hex[:8]}" for _ in range(3))
    for visit_id, due in ((due_later, later), (recorded, later), (due_now, soon)):
        event = VisitScheduled(
            visit_id=visit_id, case_id=a.case_id, round=1, household_id=None, grid_id="G-PHN-01", due_at=due
        )
        await desk.publish(desk.topics.followup, event, a.case_id)
    # Due within the reminder's 4 hours: told at once, though two reminders for tomorrow came first.
    grid = await wait_until("the reminder due soon", lambda: desk.heard("wecom", "G-PHN-01"))
    assert grid[0]["message"]["content"].startswith("### 回访将到期") and len(grid) == 1
    visited = VisitRecorded(
        visit_id=recorded,
        case_id=a.case_id,
        round=1,
        room_temps_c=[20.0],
        satisfaction=Satisfaction.SATISFIED,
        visited_by="GW-01",
        visited_at=datetime.now(UTC),
    )
    await desk.publish(desk.topics.followup, visited, a.case_id)

    async def reminders() -> dict[str, str]:
        rows = await desk.rows(Notification.kind == "visit_due", Notification.case_id == a.case_id)
        return {r.lane: r.state for r in rows if r.channel == "wecom"}

    # the recorded visit's reminder is owed to nobody; tomorrow's waits for its hour
    assert await wait_until("the recorded visit's reminder dropped", lambda: _without(reminders, recorded))
    waiting = await desk.rows(Notification.lane == due_later, Notification.channel == "wecom")
    assert [(r.state, r.attempts) for r in waiting] == [("pending", 0)]
    assert waiting[0].next_attempt_at > datetime.now(UTC) + timedelta(hours=25)


async def _without(reminders: Any, lane: str) -> bool:
    now = await reminders()
    return lane not in now and len(now) == 2


async def test_a_12345_hurry_reaches_the_unit_holding_the_clock_and_a_spot_check_the_task_force(desk: Desk) -> None:
    a = await emergency(desk)
    hurry = CaseHurried(
        case_id=a.case_id,
        report_id="R-x",
        hurries=2,
        unit_ids=[a.unit_id],
        supervised=False,
        hurried_at=datetime.now(UTC),
        district_id="D-CG",
        street_id="S-JYG",
    )
    await desk.publish(desk.topics.cases, hurry, a.case_id)
    # alone, or in a digest with the unit's other new orders of the moment
    assert await wait_until(
        "the 催单",
        lambda: [h for h in desk.heard("wecom", a.unit_id) if "12345 催单（第2次）" in h["message"]["content"]],
    )
    check = SpotCheckScheduled(
        spot_check_id=f"SC-{uuid.uuid4().hex[:8]}",
        case_id=a.case_id,
        round=1,
        street_id="S-JYG",
        week="2026-W49",
        seed="s",
    )
    await desk.publish(desk.topics.followup, check, a.case_id)
    assert await wait_until(
        "the task force's 抽查",
        lambda: [
            h
            for h in desk.heard("wecom", "U-TF-JYG")
            if a.case_id in h["message"]["content"] and "抽查" in h["message"]["content"]
        ],
    )


async def test_an_ops_alert_reaches_the_on_call_and_its_resolution_too(desk: Desk) -> None:
    await desk.put_target("ops", "oncall", "wecom", {"url": f"{desk.url}/wecom/send?key=oncall", "mentions": [DUTY]})
    alert = {
        "status": "firing",
        "labels": {"alertname": "ServiceDown", "severity": "page", "service": "intake"},
        "annotations": {"summary": "intake 无法抓取指标"},
        "startsAt": "2026-12-05T04:00:00Z",
        "fingerprint": "f1",
    }
    auth = {"Authorization": f"Bearer {DEV_ALERT_TOKEN}"}
    body = {"version": "4", "status": "firing", "alerts": [alert]}
    for _ in range(2):  # Alertmanager resends a group: told once
        r = await desk.svc.http.post("/notify/v1/alertmanager?audience=oncall", json=body, headers=auth)
        assert r.status_code == 200, r.text
    resolved = {**body, "status": "resolved", "alerts": [{**alert, "status": "resolved"}]}
    r = await desk.svc.http.post("/notify/v1/alertmanager?audience=oncall", json=resolved, headers=auth)
    assert r.json() == {"notifications": 1}

    def said() -> str:  # alone, or as one digest of both when the resolution came within the robot's interval
        return "\n".join(h["message"]["content"] for h in desk.heard("wecom", "oncall"))

    await wait_until("both", lambda: "已恢复：ServiceDown" in said())
    heard = desk.heard("wecom", "oncall")
    assert said().count("告警：ServiceDown") == 1 and heard[0]["message"]["mentions"] == [DUTY]  # a page: @ on-call
    assert heard[0]["message"]["content"].startswith("【紧急】")
    wrong = await desk.svc.http.post(
        "/notify/v1/alertmanager?audience=oncall", json=body, headers={"Authorization": "Bearer x"}
    )
    assert wrong.status_code == 401 and wrong.json()["detail"]["field"] == "Authorization"
