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
from datetime import UTC, datetime
from typing import Any

import pytest

from services.dispatch.notify import queue, routing
from services.dispatch.notify.models import Notification
from shared.contracts.common import UnitType
from shared.contracts.dispatch import CaseEscalated, EscalationLevel
from tests.harness import statements_of, wait_until
from tests.integration.notify_desk import ADMIN, DING_SECRET, DUTY, Desk, assigned, desk, emergency

pytestmark = pytest.mark.integration
__all__ = ["desk"]  # the module's fixture


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


async def test_a_batch_of_assignments_to_one_unit_reads_its_recipients_once(desk: Desk) -> None:
    """The notifier applies a poll's events in one transaction: the recipients of one owner and kind are read once
    for the batch, and each assignment still makes its row for every recipient."""
    unit_id = f"U-BATCH-{uuid.uuid4().hex[:6]}"
    await desk.put_target("unit", unit_id, "wecom", desk.robot(unit_id))
    await desk.put_target("unit", unit_id, "sms", {"phones": [DUTY]})
    events = [assigned(f"C-{uuid.uuid4().hex[:10]}", unit_id) for _ in range(3)]
    with statements_of(desk.svc.runtime.engine) as sent:
        async with desk.svc.runtime.sessions() as session, session.begin():
            await sent.watch(session)
            made = [
                await queue.enqueue(
                    session, await routing.assigned(session, e), event_id=str(uuid.uuid4()), event_at=now, now=now
                )
                for e in events
                for now in [datetime.now(UTC)]
            ]
    assert made == [2, 2, 2]
    assert sent.count("SELECT notify_targets.") == 1
