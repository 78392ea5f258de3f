"""The whistle reaches people, on the real stack: dispatch in this process (Kafka, PostgreSQL) and the local
receiver playing 企业微信, 钉钉, the SMS provider and a heating company's own system over real HTTP.

- a new emergency assignment reaches the unit's group robot (its duty phone @'d) and its duty phones by SMS;
- a 通报 reaches the unit, the community and the street's task force;
- a burst of 200 new orders reaches a group as digests within the robot's 20 a minute, none lost;
- a receiver down for a while: retried, then delivered in order;
- a parked notification (a robot whose secret was wrong) re-driven by the admin once the secret is mended;
- a heating company's system takes its orders by webhook and answers 签收 → 到场 → 办结 through the API."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr
from sqlalchemy import select

from deploy.notify_receiver import (
    DEV_SMS_KEY_ID,
    DEV_SMS_KEY_SECRET,
    DEV_SMS_SIGN_NAME,
    DEV_SMS_TEMPLATE,
    Ear,
    RunningReceiver,
)
from deploy.seed import registry
from services.dispatch.config import DispatchSettings
from services.dispatch.main import create_app
from services.dispatch.models import Assignment, CaseReport
from services.dispatch.notify.channels import SmsConfig
from services.dispatch.notify.models import Notification
from services.dispatch.notify.settings import DEV_ALERT_TOKEN, NotifySettings
from shared.contracts.common import Category, Channel, Location, Priority, Satisfaction, UnitType
from shared.contracts.dispatch import CaseAssigned, CaseEscalated, CaseHurried, EscalationLevel
from shared.contracts.followup import SpotCheckScheduled, VisitRecorded, VisitScheduled
from shared.contracts.intake import ComplaintReported
from shared.events import Envelope, EventPayload
from shared.settings import DEV_ADMIN_TOKEN, DEV_AUTH_PRIVATE_KEY
from shared.topics import Topics
from tests.harness import (
    KAFKA,
    InProcess,
    check_stack,
    drop_database,
    fresh_database,
    new_prefix,
    run_db,
    run_in_process,
    wait_until,
)

pytestmark = pytest.mark.integration

ADMIN = {"X-Admin-Token": DEV_ADMIN_TOKEN}
DING_SECRET = "SECit-notify-dingtalk"
DUTY = "13700000001"  # the units' duty phone (fictional)
PLACE = Location(
    district_id="D-CG",
    street_id="S-JYG",
    community_id="CM-PHN",
    grid_id="G-PHN-01",
    compound_id="CP-LK",
    building_id="B-LK-1",
    household_id="H-LK-1-102",
    substation_id="SS-01",
    place_name="粮库家属院1号楼1单元102",
)


@dataclass
class Desk:
    svc: InProcess
    ear: Ear
    url: str
    topics: Topics
    producer: AIOKafkaProducer
    tokens: dict[str, str]

    async def put_target(self, owner_kind: str, owner_id: str, channel: str, config: dict[str, Any]) -> int:
        body = {"owner_kind": owner_kind, "owner_id": owner_id, "channel": channel, "name": "值班", "config": config}
        r = await self.svc.http.put("/admin/notify/targets", json=body, headers=ADMIN)
        assert r.status_code == 200, r.text
        return int(r.json()["id"])

    def robot(self, key: str) -> dict[str, Any]:
        return {"url": f"{self.url}/wecom/send?key={key}", "mentions": [DUTY]}

    async def publish(self, topic: str, payload: EventPayload, key: str) -> Envelope:
        env = Envelope.wrap(payload, correlation_id=key, producer="test", occurred_at=datetime.now(UTC))
        await self.producer.send_and_wait(topic, env.encode(), key=key.encode())
        return env

    def heard(self, kind: str, target: str) -> list[dict[str, Any]]:
        return [h for h in self.ear.heard if h["kind"] == kind and h["target"] == target]

    async def rows(self, *conditions: Any) -> list[Notification]:
        async with self.svc.runtime.sessions() as s:
            return list((await s.scalars(select(Notification).where(*conditions).order_by(Notification.id))).all())

    async def scalar(self, query: Any) -> Any:
        async with self.svc.runtime.sessions() as s:
            return await s.scalar(query)


@pytest.fixture(scope="module")
async def desk() -> AsyncIterator[Desk]:
    await check_stack()
    ear = Ear(dingtalk_default_secret=DING_SECRET)
    async with RunningReceiver(ear) as url:
        db = run_db("notifications")
        sms = SmsConfig(
            endpoint_url=f"{url}/sms/",
            access_key_id=DEV_SMS_KEY_ID,
            access_key_secret=SecretStr(DEV_SMS_KEY_SECRET),
            sign_name=DEV_SMS_SIGN_NAME,
            template_code=DEV_SMS_TEMPLATE,
        )
        settings = DispatchSettings(
            database_url=await fresh_database(db),
            kafka_bootstrap=KAFKA,
            kafka_topic_prefix=new_prefix("notify"),
            environment="test",
            run_timers=False,
            notify=NotifySettings(
                sms=sms, poll_seconds=0.1, backoff_base_seconds=0.3, backoff_cap_seconds=1, max_attempts=3
            ),
        )
        doc = registry.read()
        producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True, acks="all")
        await producer.start()
        try:
            async with run_in_process(create_app(settings)) as svc:
                r = await svc.http.put("/admin/units", json=registry.dispatch_units(doc), headers=ADMIN)
                r.raise_for_status()
                d = Desk(svc, ear, url, settings.topics, producer, registry.tokens(doc, DEV_AUTH_PRIVATE_KEY))
                for unit in doc["units"]:
                    await d.put_target("unit", unit["id"], "wecom", d.robot(unit["id"]))
                    await d.put_target("unit", unit["id"], "sms", {"phones": [DUTY]})
                await d.put_target(
                    "area",
                    "CM-PHN",
                    "dingtalk",
                    {"url": f"{url}/dingtalk/robot/send?access_token=CM-PHN", "secret": DING_SECRET},
                )
                await d.put_target("area", "S-JYG", "wecom", d.robot("S-JYG"))
                yield d
        finally:
            await producer.stop()
            await drop_database(db)


async def emergency(d: Desk) -> Assignment:
    """A burst pipe reported by a grid worker: dispatch opens the case and assigns it."""
    report_id = f"R-{uuid.uuid4().hex[:12]}"
    complaint = ComplaintReported(
        report_id=report_id,
        channel=Channel.GRID_REPORT,
        category=Category.BURST_PIPE,
        priority=Priority.EMERGENCY,
        priority_resident=False,
        location=PLACE,
        description="楼道暖气管爆裂",
        reporter_kind="grid_worker",
        reporter_id="GW-01",
        reported_at=datetime.now(UTC),
    )
    await d.publish(d.topics.complaints, complaint, report_id)
    case_id = await wait_until(
        "a case", lambda: d.scalar(select(CaseReport.case_id).where(CaseReport.report_id == report_id))
    )
    found: Assignment = await wait_until(
        "an assignment", lambda: d.scalar(select(Assignment).where(Assignment.case_id == case_id))
    )
    return found


def assigned(case_id: str, unit_id: str, assignment_id: str | None = None) -> CaseAssigned:
    now = datetime.now(UTC)
    return CaseAssigned(
        case_id=case_id,
        assignment_id=assignment_id or f"A-{uuid.uuid4().hex[:12]}",
        round=1,
        unit_id=unit_id,
        unit_type=UnitType.HEATING_COMPANY,
        sign_in_due=now + timedelta(minutes=30),
        on_site_due=now + timedelta(hours=2),
        resolve_due=now + timedelta(hours=24),
    )


async def test_a_new_emergency_reaches_the_units_group_and_duty_phones(desk: Desk) -> None:
    a = await emergency(desk)
    robot = await wait_until("the unit's group robot", lambda: desk.heard("wecom", a.unit_id))
    sms = await wait_until("the unit's SMS", lambda: [h for h in desk.heard("sms", DUTY)])
    text = robot[0]["message"]["content"]
    assert text.startswith("【紧急】新派单：爆管") and "粮库家属院1号楼1单元102" in text
    assert robot[0]["message"]["mentions"] == [DUTY]  # urgent: the duty phone is @'d
    assert "新派单" in sms[0]["message"]["content"] and sms[0]["message"]["phones"] == [DUTY]

    async def recorded() -> list[Notification]:
        rows = await desk.rows(Notification.case_id == a.case_id, Notification.kind == "assigned")
        return rows if rows and all(r.state == "delivered" for r in rows) else []

    rows = await wait_until("both recorded as delivered", recorded)
    assert {r.channel for r in rows} == {"wecom", "sms"}
    latency = max((r.delivered_at - r.event_at).total_seconds() for r in rows if r.delivered_at)
    print(f"\nnew emergency assignment → unit's robot and SMS: {latency:.2f} s from the event to delivery")


async def test_a_notice_reaches_the_unit_the_community_and_the_task_force(desk: Desk) -> None:
    a = await emergency(desk)
    notice = CaseEscalated(
        case_id=a.case_id,
        assignment_id=a.id,
        unit_id=a.unit_id,
        unit_type=UnitType(a.unit_type),
        level=EscalationLevel.NOTICE,
        clock="sign_in",
        due_at=datetime.now(UTC),
        escalated_at=datetime.now(UTC),
        district_id="D-CG",
        street_id="S-JYG",
    )
    await desk.publish(desk.topics.cases, notice, a.case_id)

    def noticed(kind: str, target: str) -> Any:
        return [h for h in desk.heard(kind, target) if "通报" in str(h["message"])]

    assert await wait_until("the unit", lambda: noticed("wecom", a.unit_id))
    assert await wait_until("the community's group", lambda: noticed("dingtalk", "CM-PHN"))
    assert await wait_until("the street's group", lambda: noticed("wecom", "S-JYG"))
    assert await wait_until("the street's task force", lambda: noticed("wecom", "U-TF-JYG"))


def orders_in(message: dict[str, Any]) -> int:
    first = message["content"].splitlines()[0]
    found = re.search(r"新派单 (\d+) 件", first)
    return int(found.group(1)) if found else 1


async def test_a_burst_of_200_orders_reaches_a_group_as_digests_within_its_rate_limit(desk: Desk) -> None:
    a = await emergency(desk)
    await desk.put_target("unit", "U-BURST", "wecom", {"url": f"{desk.url}/wecom/send?key=U-BURST"})
    for _ in range(200):
        await desk.publish(desk.topics.cases, assigned(a.case_id, "U-BURST"), a.case_id)

    async def all_heard() -> bool:
        return sum(orders_in(h["message"]) for h in desk.heard("wecom", "U-BURST")) >= 200

    await wait_until("200 orders in the group", all_heard, timeout=90)
    heard = desk.heard("wecom", "U-BURST")
    assert sum(orders_in(h["message"]) for h in heard) == 200  # none lost, none twice
    assert not [r for r in desk.ear.refused if r["target"] == "U-BURST"]  # the robot never said 45009
    times = [h["received_at"] for h in heard]
    assert all(sum(1 for t in times if start <= t < start + 60) <= 20 for start in times)
    print(f"\n200 new orders → {len(heard)} messages to the group (digests), within 20 a minute")


async def test_a_system_down_for_a_while_gets_its_orders_later_in_order(desk: Desk) -> None:
    a = await emergency(desk)
    await desk.put_target(
        "unit", "U-SYS", "webhook", {"url": f"{desk.url}/webhook/U-SYS", "secret": "dev-only-unit-webhook-secret"}
    )
    desk.ear.down(503)
    sent = [f"A-SYS-{i}-{uuid.uuid4().hex[:6]}" for i in range(3)]
    try:
        for assignment_id in sent:
            await desk.publish(desk.topics.cases, assigned(a.case_id, "U-SYS", assignment_id), a.case_id)

        async def retried() -> bool:
            rows = await desk.rows(Notification.channel == "webhook", Notification.data["unit_id"].astext == "U-SYS")
            return bool(rows) and rows[0].attempts >= 2

        await wait_until("a retry while the system is down", retried)
    finally:
        desk.ear.up()
    got = await wait_until(
        "the three orders", lambda: len(desk.heard("webhook", "U-SYS")) >= 3 and desk.heard("webhook", "U-SYS")
    )
    assert [h["message"]["data"]["assignment_id"] for h in got] == sent


async def test_a_parked_notification_is_re_driven_by_the_admin(desk: Desk) -> None:
    a = await emergency(desk)
    wrong = {"url": f"{desk.url}/dingtalk/robot/send?access_token=U-DING", "secret": "SECwrong"}
    target = await desk.put_target("unit", "U-DING", "dingtalk", wrong)
    await desk.publish(desk.topics.cases, assigned(a.case_id, "U-DING"), a.case_id)

    async def parked() -> list[Any]:
        r = await desk.svc.http.get(
            "/admin/notify/notifications", params={"state": "dead", "target_id": target}, headers=ADMIN
        )
        return r.json()  # type: ignore[no-any-return]

    (row,) = await wait_until("the refused message parked", parked)
    assert row["attempts"] == 1  # 310000 (sign check failed): a retry would not cure it
    assert await desk.put_target("unit", "U-DING", "dingtalk", {**wrong, "secret": DING_SECRET}) == target
    r = await desk.svc.http.post(f"/admin/notify/notifications/{row['id']}/redrive", headers=ADMIN)
    assert r.status_code == 200 and r.json()["state"] == "pending"
    assert await wait_until("delivered, signed", lambda: desk.heard("dingtalk", "U-DING"))
    again = await desk.svc.http.post(f"/admin/notify/notifications/{row['id']}/redrive", headers=ADMIN)
    assert again.status_code == 409 and again.json()["detail"]["code"] == "notification_not_parked"


async def test_a_heating_companys_system_takes_its_order_by_webhook_and_works_it_through_the_api(desk: Desk) -> None:
    await desk.put_target(
        "unit", "U-HEAT-1", "webhook", {"url": f"{desk.url}/webhook/U-HEAT-1", "secret": "dev-only-unit-webhook-secret"}
    )
    a = await emergency(desk)
    assert a.unit_id == "U-HEAT-1"

    def order() -> Any:
        return [h for h in desk.heard("webhook", "U-HEAT-1") if h["message"]["data"].get("assignment_id") == a.id]

    (got,) = await wait_until("the order at the company's system", order)
    data = got["message"]["data"]
    assert data["kind"] == "assigned" and data["case_id"] == a.case_id and data["event"]["unit_id"] == "U-HEAT-1"
    auth = {"Authorization": f"Bearer {desk.tokens['U-HEAT-1']}"}
    steps = [
        ("sign-in", None),
        ("arrive", {}),
        ("resolve", {"action_taken": "更换爆裂管段，恢复供暖", "measured_temp_c": 20.5}),
    ]
    for step, body in steps:
        r = await desk.svc.http.post(f"/v1/assignments/{data['assignment_id']}/{step}", json=body, headers=auth)
        assert r.status_code == 200, (step, r.text)
    assert r.json()["status"] == "resolved"


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
