"""12345's everyday operations on the real stack: a status poll loop that is never a replay, no callback queued for
a platform that takes none, and 撤单 / 补充诉求 / 催单 on orders while units work on them — from the signed request
to the case in dispatch and the facts it announces."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from services.dispatch.models import timers
from services.followup.models import CaseFact, HurryFact
from services.intake import feedback
from services.intake.config import DEV_HOTLINE_INTEGRATION, DEV_HOTLINE_SECRET
from services.intake.hotline import signed_headers
from services.intake.models import HotlineCallback, Report
from services.intake.models import outbox as intake_outbox
from shared.settings import DEV_ADMIN_TOKEN
from tests.harness import envelopes, read_topic, wait_until
from tests.integration.conftest import Loop

ADMIN = {"X-Admin-Token": DEV_ADMIN_TOKEN}
TASK_FORCE = "TF-JYG"
UNIT = "U-HEAT-1"  # serves substation SS-01, where the test's building is


def order_no() -> str:
    return f"GD{uuid.uuid4().hex[:12].upper()}"


def signed(body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body, ensure_ascii=False).encode()
    return raw, signed_headers(DEV_HOTLINE_INTEGRATION, DEV_HOTLINE_SECRET, raw) | {"Content-Type": "application/json"}


async def post(loop: Loop, path: str, body: dict[str, Any]) -> Any:
    raw, headers = signed(body)
    return await loop.intake.http.post(path, content=raw, headers=headers)


async def operate(loop: Loop, no: str, kind: str, expect: int = 201, **body: Any) -> dict[str, Any]:
    body.setdefault("operation_id", f"OP-{uuid.uuid4().hex[:10]}")
    r = await post(loop, f"/hotline/v1/orders/{no}/{kind}", body)
    assert r.status_code == expect, r.text
    return r.json()  # type: ignore[no-any-return]


async def households(loop: Loop, n: int) -> list[str]:
    """A building of the test's own (on substation SS-01) with ``n`` households, so no other test's incident joins."""
    sfx = uuid.uuid4().hex[:6].upper()
    ids = [f"H-OP-{sfx}-{i}" for i in range(1, n + 1)]
    reg = {
        "buildings": [
            {
                "id": f"B-OP-{sfx}",
                "name": "工单操作测试楼",
                "compound_id": "CP-LK",
                "grid_id": "G-PHN-01",
                "substation_id": "SS-01",
            }
        ],
        "households": [
            {"id": h, "building_id": f"B-OP-{sfx}", "unit_no": "1", "room": h.rsplit("-", 1)[1], "phone": None}
            for h in ids
        ],
    }
    r = await loop.intake.http.put("/admin/registry", json=reg, headers=ADMIN)
    assert r.status_code == 200, r.text
    return ids


async def order(loop: Loop, household: str, content: str = "家里暖气不热，室温只有15度") -> tuple[str, str]:
    no = order_no()
    r = await post(loop, "/hotline/v1/orders", {"order_no": no, "household_id": household, "content": content})
    assert r.status_code == 201, r.text
    return no, r.json()["report_id"]


async def case_of(loop: Loop, report_id: str) -> str:
    async def linked() -> str | None:
        async with loop.intake.runtime.sessions() as s:
            return await s.scalar(select(Report.case_id).where(Report.id == report_id))

    return str(await wait_until("dispatch to open the case", linked, timeout=60))


async def case(loop: Loop, case_id: str) -> dict[str, Any]:
    r = await loop.dispatch.http.get(f"/v1/cases/{case_id}", headers=loop.auth(TASK_FORCE))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def assignment(loop: Loop, case_id: str, unit: str = UNIT) -> dict[str, Any]:
    async def found() -> dict[str, Any] | None:
        r = await loop.dispatch.http.get("/v1/assignments", headers=loop.auth(unit))
        return next((a for a in r.json() if a["case_id"] == case_id), None)

    return await wait_until(f"{unit}'s assignment", found, timeout=60)  # type: ignore[no-any-return]


async def case_events(loop: Loop, case_id: str, until: Any) -> list[Any]:
    def mine(records: list[Any]) -> list[Any]:
        return [e for e in envelopes(records) if e.correlation_id == case_id]

    records = await read_topic(loop.topics.cases, until=lambda rs: until(mine(rs)), timeout=60)
    return mine(records)


# -- polling and callbacks -------------------------------------------------------------------------------------------


async def test_a_status_poll_loop_of_twenty_signed_gets_a_second_is_never_a_replay(loop: Loop) -> None:
    """A GET reads only: the same signed request polls again, within the second and after it (issue: 409s)."""
    [household] = await households(loop, 1)
    no, report_id = await order(loop, household)
    path = f"/hotline/v1/orders/{no}"
    statuses: list[int] = []
    for _ in range(2):  # two seconds of 20 polls each, every poll of a second with the same signature
        headers = signed_headers(DEV_HOTLINE_INTEGRATION, DEV_HOTLINE_SECRET, path.encode())
        started = time.monotonic()
        for _ in range(20):
            r = await loop.intake.http.get(path, headers=headers)
            statuses.append(r.status_code)
            assert r.json()["report_id"] == report_id
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
    assert statuses == [200] * 40
    # concurrently too
    headers = signed_headers(DEV_HOTLINE_INTEGRATION, DEV_HOTLINE_SECRET, path.encode())
    answers = await asyncio.gather(*(loop.intake.http.get(path, headers=headers) for _ in range(20)))
    assert [a.status_code for a in answers] == [200] * 20
    # a POST is still refused when replayed
    raw, h = signed({"order_no": order_no(), "household_id": household, "content": "暖气不热"})
    assert (await loop.intake.http.post("/hotline/v1/orders", content=raw, headers=h)).status_code == 201
    again = await loop.intake.http.post("/hotline/v1/orders", content=raw, headers=h)
    assert again.status_code == 409 and again.json()["detail"]["code"] == "replayed_request"


async def test_a_platform_without_a_callback_url_is_queued_no_callback(loop: Loop) -> None:
    """The dev integration has no callback URL: its orders' changes are on the timeline, and nothing waits (no dead
    row holding the order back, the callback panel stays green)."""
    [household] = await households(loop, 1)
    no, report_id = await order(loop, household)
    case_id = await case_of(loop, report_id)
    a = await assignment(loop, case_id)
    r = await loop.dispatch.http.post(f"/v1/assignments/{a['id']}/sign-in", headers=loop.auth(UNIT))
    assert r.status_code == 200, r.text

    async def signed_in() -> bool:
        async with loop.intake.runtime.sessions() as s:
            return await s.scalar(select(Report.status).where(Report.id == report_id)) == "signed_in"

    await wait_until("intake to hear the sign-in", signed_in, timeout=60)
    async with loop.intake.runtime.sessions() as s:
        rows = await s.scalar(select(func.count()).select_from(HotlineCallback).where(HotlineCallback.order_no == no))
    assert rows == 0


# -- 撤单 -------------------------------------------------------------------------------------------------------------


async def test_withdrawing_an_order_while_its_unit_works_withdraws_the_case(loop: Loop) -> None:
    [household] = await households(loop, 1)
    no, report_id = await order(loop, household)
    case_id = await case_of(loop, report_id)
    a = await assignment(loop, case_id)
    assert (await loop.dispatch.http.post(f"/v1/assignments/{a['id']}/sign-in", headers=loop.auth(UNIT))).is_success

    op = f"OP-{uuid.uuid4().hex[:10]}"
    done = await operate(loop, no, "withdraw", operation_id=op, reason="居民来电称已恢复供暖，申请撤单")
    assert done["kind"] == "withdraw" and done["order"]["status"] == "withdrawn"
    assert done["order"]["timeline"][-1]["note"].startswith("已撤单：")
    # the same operation again: the order as it stands, 200; the id for another operation: refused
    again = await operate(
        loop, no, "withdraw", expect=200, operation_id=op, reason="居民来电称已恢复供暖，申请撤单", request_id="resend"
    )
    assert again["accepted_at"] == done["accepted_at"]
    conflict = await post(loop, f"/hotline/v1/orders/{no}/hurry", {"operation_id": op})
    assert conflict.status_code == 409 and conflict.json()["detail"]["code"] == "operation_conflict"
    assert conflict.json()["detail"]["field"] == "operation_id"
    # a withdrawn order takes no further operation
    late = await post(loop, f"/hotline/v1/orders/{no}/hurry", {"operation_id": f"OP-{uuid.uuid4().hex[:10]}"})
    assert late.status_code == 409 and late.json()["detail"]["code"] == "order_withdrawn"

    async def withdrawn() -> dict[str, Any] | None:
        c = await case(loop, case_id)
        return c if c["status"] == "withdrawn" else None

    c = await wait_until("dispatch to withdraw the case", withdrawn, timeout=60)
    assert [x["status"] for x in c["assignments"]] == ["withdrawn"]
    entry = next(e for e in c["timeline"] if e["kind"] == "withdrawn")
    assert entry["actor"] == "12345" and entry["detail"]["whole"] is True
    assert entry["detail"]["reason"] == "居民来电称已恢复供暖，申请撤单"
    # the unit's clocks stopped: no timer of its assignment is left to fire
    async with loop.dispatch.runtime.sessions() as s:
        armed = await s.scalar(
            select(func.count()).select_from(timers).where(timers.c.ref == a["id"], timers.c.fired_at.is_(None))
        )
    assert armed == 0
    # the unit can no longer act on it
    r = await loop.dispatch.http.post(f"/v1/assignments/{a['id']}/arrive", headers=loop.auth(UNIT))
    assert r.status_code == 409
    [withdrawal] = [
        e
        for e in await case_events(loop, case_id, lambda es: any(x.event_type == "CaseWithdrawn" for x in es))
        if e.event_type == "CaseWithdrawn"
    ]
    assert withdrawal.payload["unit_ids"] == [UNIT] and withdrawal.payload["report_ids"] == [report_id]

    # follow-up heard it: the case counts against nobody
    async def followup_withdrawn() -> bool:
        async with loop.followup.runtime.sessions() as s:
            return await s.scalar(select(CaseFact.status).where(CaseFact.id == case_id)) == "withdrawn"

    await wait_until("follow-up to withdraw the case", followup_withdrawn, timeout=60)


async def test_a_grouped_case_is_withdrawn_only_with_its_last_order(loop: Loop) -> None:
    """Two orders of one household and problem are one incident, one case: withdrawing one leaves the case to the
    other."""
    [household] = await households(loop, 1)
    first, first_report = await order(loop, household)
    case_id = await case_of(loop, first_report)
    second, second_report = await order(loop, household, "又来电：暖气还是不热")
    assert await case_of(loop, second_report) == case_id
    await assignment(loop, case_id)
    await operate(loop, first, "withdraw", reason="重复工单，撤销")

    async def partial() -> dict[str, Any] | None:
        c = await case(loop, case_id)
        return c if any(e["kind"] == "withdrawn" for e in c["timeline"]) else None

    c = await wait_until("the first withdrawal on the case", partial, timeout=60)
    assert c["status"] == "assigned"
    assert next(e for e in c["timeline"] if e["kind"] == "withdrawn")["detail"]["whole"] is False
    await operate(loop, second, "withdraw", reason="居民表示已解决")

    async def withdrawn() -> bool:
        return (await case(loop, case_id))["status"] == "withdrawn"

    await wait_until("the case withdrawn with its last order", withdrawn, timeout=60)


# -- 补充诉求 ---------------------------------------------------------------------------------------------------------


async def test_a_supplement_reaches_the_case_and_its_unit_and_raises_the_priority(loop: Loop) -> None:
    [household] = await households(loop, 1)
    no, report_id = await order(loop, household)
    case_id = await case_of(loop, report_id)
    await assignment(loop, case_id)
    before = (await case(loop, case_id))["priority"]
    assert before != "emergency"
    done = await operate(
        loop,
        no,
        "supplement",
        content="居民王大妈再次来电（13912345678）：暖气片接口漏水，地上已积水",
        priority="emergency",
        caller_name="王大妈",
        caller_phone="13912345678",
    )
    note = done["order"]["timeline"][-1]["note"]
    assert note.startswith("补充诉求：") and "13912345678" not in note and "王大妈" not in note
    assert done["order"]["priority"] == "emergency"

    async def supplemented() -> dict[str, Any] | None:
        c = await case(loop, case_id)
        return c if any(e["kind"] == "supplemented" for e in c["timeline"]) else None

    c = await wait_until("the supplement on the case", supplemented, timeout=60)
    assert c["priority"] == "emergency"
    entry = next(e for e in c["timeline"] if e["kind"] == "supplemented")
    assert "积水" in entry["detail"]["content"] and "13912345678" not in json.dumps(entry)
    [told] = [
        e
        for e in await case_events(loop, case_id, lambda es: any(x.event_type == "CaseSupplemented" for x in es))
        if e.event_type == "CaseSupplemented"
    ]
    assert told.payload["unit_ids"] == [UNIT]
    assert (told.payload["previous_priority"], told.payload["priority"]) == (before, "emergency")
    # the unit holding the case hears it on its assignment (the field app shows it, offline too)
    mine = await assignment(loop, case_id)
    [note] = mine["caller_notes"]
    assert note["kind"] == "supplemented" and "积水" in note["text"] and "13912345678" not in note["text"]
    # a lower priority never lowers it
    await operate(loop, no, "supplement", content="补充：楼道里也很冷", priority="normal")

    async def twice() -> dict[str, Any] | None:
        c = await case(loop, case_id)
        return c if sum(e["kind"] == "supplemented" for e in c["timeline"]) == 2 else None

    assert (await wait_until("the second supplement", twice, timeout=60))["priority"] == "emergency"


async def test_operations_refuse_bad_input_with_the_field_and_reason(loop: Loop) -> None:
    [household] = await households(loop, 1)
    no, report_id = await order(loop, household)
    r = await post(loop, f"/hotline/v1/orders/{no}/supplement", {"operation_id": "OP-1"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "content"
    r = await post(loop, f"/hotline/v1/orders/{no}/withdraw", {"operation_id": "bad id!", "reason": "x"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "operation_id"
    r = await post(
        loop, f"/hotline/v1/orders/{no}/supplement", {"operation_id": "OP-2", "content": "x", "priority": "asap"}
    )
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "priority"
    r = await post(loop, f"/hotline/v1/orders/{order_no()}/hurry", {"operation_id": "OP-3"})
    assert r.status_code == 404 and r.json()["detail"]["code"] == "order_not_found"
    # a closed order takes no operation: 12345 sends a new order for a new problem
    case_id = await case_of(loop, report_id)
    async with loop.intake.runtime.sessions() as s, s.begin():
        await feedback.set_case_status(
            s, case_id=case_id, status="closed", at=datetime.now(UTC), calls_back=frozenset()
        )
    r = await post(loop, f"/hotline/v1/orders/{no}/withdraw", {"operation_id": "OP-4", "reason": "已解决"})
    assert r.status_code == 409 and r.json()["detail"]["code"] == "order_closed"


# -- 催单 -------------------------------------------------------------------------------------------------------------


async def test_three_hurries_send_reminders_and_put_the_case_under_district_supervision(loop: Loop) -> None:
    [household] = await households(loop, 1)
    no, report_id = await order(loop, household)
    case_id = await case_of(loop, report_id)
    a = await assignment(loop, case_id)
    for n in range(1, 4):
        done = await operate(loop, no, "hurry", content=f"第{n}次来电催促：还是不热")
        assert done["order"]["timeline"][-1]["note"].startswith("催单")

        async def counted(n: int = n) -> dict[str, Any] | None:
            c = await case(loop, case_id)
            return c if c["hurries"] == n else None

        c = await wait_until(f"hurry {n} on the case", counted, timeout=60)
    assert c["supervised"] is True and c["escalation_level"] == "supervision"

    def hurried(es: list[Any]) -> bool:
        return sum(x.event_type == "CaseHurried" for x in es) == 3 and any(
            x.event_type == "CaseEscalated" and x.payload["clock"] == "hurries" for x in es
        )

    events = await case_events(loop, case_id, hurried)
    hurries = [e.payload for e in events if e.event_type == "CaseHurried"]
    assert [(h["hurries"], h["supervised"], h["unit_ids"]) for h in hurries] == [
        (1, False, [UNIT]),
        (2, False, [UNIT]),
        (3, True, [UNIT]),
    ]
    mine = await assignment(loop, case_id)
    assert mine["hurries"] == 3 and [n["kind"] for n in mine["caller_notes"]] == ["hurried"] * 3
    assert mine["caller_notes"][0]["text"] == "第1次来电催促：还是不热"
    reminders = [e.payload for e in events if e.event_type == "CaseEscalated" and e.payload["clock"] == "hurry"]
    assert [(r["assignment_id"], r["level"]) for r in reminders] == [(a["id"], "reminder")] * 3
    # 督办 convenes the district's housing bureau
    await assignment(loop, case_id, unit="U-HB-CG")
    # the order's reporter heard the 催办 too
    async with loop.intake.runtime.sessions() as s:
        events_out = await s.scalar(
            select(func.count())
            .select_from(intake_outbox)
            .where(
                intake_outbox.c.event_type == "ReportHurried",
                intake_outbox.c.value["payload"]["report_id"].astext == report_id,
            )
        )
    assert events_out == 3

    # follow-up counts the hurries against the unit that held the clock (重复诉求率)
    async def counted_by_followup() -> int:
        async with loop.followup.runtime.sessions() as s:
            return int(
                await s.scalar(select(func.count()).select_from(HurryFact).where(HurryFact.case_id == case_id)) or 0
            )

    async def all_three() -> bool:
        return await counted_by_followup() == 3

    await wait_until("follow-up to hear the three hurries", all_three, timeout=60)
    assert await counted_by_followup() == 3
