"""Intake's channels on the real stack: validation, 12345 orders (signature, replay, idempotency under concurrent
duplicates, status lookup), the resident's status page, the visit ledger, and personal data kept out of events."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from prometheus_client import REGISTRY
from sqlalchemy import func, select

from services.intake.config import DEV_HOTLINE_INTEGRATION, DEV_HOTLINE_SECRET
from services.intake.hotline import signed_headers
from services.intake.models import HouseholdVisit, Report
from services.intake.models import outbox as intake_outbox
from shared.settings import DEV_ADMIN_TOKEN
from tests.harness import envelopes, read_topic
from tests.integration.conftest import Loop

ADMIN = {"X-Admin-Token": DEV_ADMIN_TOKEN}


def order_no() -> str:
    return f"GD{uuid.uuid4().hex[:12].upper()}"


def signed(
    body: dict[str, Any],
    *,
    secret: str = DEV_HOTLINE_SECRET,
    integration: str = DEV_HOTLINE_INTEGRATION,
    now: float | None = None,
) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body, ensure_ascii=False).encode()
    headers = signed_headers(integration, secret, raw, now=now) | {"Content-Type": "application/json"}
    return raw, headers


async def post_order(loop: Loop, body: dict[str, Any], **kw: Any) -> Any:
    raw, headers = signed(body, **kw)
    return await loop.intake.http.post("/hotline/v1/orders", content=raw, headers=headers)


def counter(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def outbox_rows(loop: Loop, event_type: str, report_id: str) -> list[dict[str, Any]]:
    async with loop.intake.runtime.sessions() as s:
        rows = await s.execute(
            select(intake_outbox.c.value).where(
                intake_outbox.c.event_type == event_type,
                intake_outbox.c.value["payload"]["report_id"].astext == report_id,
            )
        )
        return [r[0] for r in rows]


# -- validation ------------------------------------------------------------------------------------------------


async def test_grid_report_errors_name_the_field_in_chinese_with_a_code(loop: Loop) -> None:
    gw = loop.auth("GW-01")
    r = await loop.intake.http.post(
        "/v1/grid-reports", json={"household_id": "H-NOPE", "description": "不热"}, headers=gw
    )
    assert r.status_code == 422
    assert r.json()["detail"] == {"code": "unknown_household", "message": "登记簿中没有该住户", "field": "household_id"}
    r = await loop.intake.http.post("/v1/grid-reports", json={"household_id": "H-LK-1-102"}, headers=gw)
    assert r.status_code == 422
    [problem] = r.json()["detail"]
    assert problem["field"] == "description" and problem["code"] == "missing" and problem["message"] == "缺少必填项"
    r = await loop.intake.http.post(
        "/v1/grid-reports",
        json={"household_id": "H-LK-1-102", "description": "不热", "measured_temp_c": 99},
        headers=gw,
    )
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "measured_temp_c"
    r = await loop.intake.http.post(
        "/v1/grid-reports", json={"household_id": "H-DF-3-301", "description": "不热"}, headers=gw
    )
    assert r.status_code == 403 and r.json()["detail"]["code"] == "not_your_grid"


async def test_grid_report_without_category_is_classified_and_counted(loop: Loop) -> None:
    before = counter("intake_reports_received_total", {"channel": "grid_report", "category": "leak"})
    r = await loop.intake.http.post(
        "/v1/grid-reports",
        json={"building_id": "B-LK-2", "description": "二单元楼道暖气管接口在滴水"},
        headers=loop.auth("GW-01"),
    )
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["category"] == "leak" and report["priority"] == "urgent"
    assert report["location"]["substation_id"] == "SS-01" and report["location"]["community_id"] == "CM-PHN"
    assert counter("intake_reports_received_total", {"channel": "grid_report", "category": "leak"}) == before + 1
    # Reported, or grouped when another test's leak in the same building is still open: either way one event.
    [event] = [
        *await outbox_rows(loop, "ComplaintReported", report["id"]),
        *await outbox_rows(loop, "ComplaintGrouped", report["id"]),
    ]
    assert event["payload"]["group_id"] == report["group_id"]


# -- 12345 -------------------------------------------------------------------------------------------------------


async def test_hotline_order_is_classified_enriched_and_stripped_of_personal_data(loop: Loop) -> None:
    no = order_no()
    r = await post_order(
        loop,
        {
            "order_no": no,
            "household_id": "H-LK-2-201",
            "content": "来电人陈女士，电话13912345678，反映家中暖气不热，室温只有10度",
            "caller_name": "陈秀英",
            "caller_phone": "13912345678",
        },
    )
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["order_no"] == no and out["category"] == "cold_room" and out["status"] == "accepted"
    # a low-income household and 10 °C quoted in the text: two steps up
    assert out["priority"] == "emergency"
    records = await read_topic(
        loop.topics.complaints,
        until=lambda rs: any(e.payload.get("report_id") == out["report_id"] for e in envelopes(rs)),
    )
    [event] = [e for e in envelopes(records) if e.payload.get("report_id") == out["report_id"]]
    wire = json.dumps(event.to_json(), ensure_ascii=False)
    for secret in ("13912345678", "陈女士", "陈秀英"):
        assert secret not in wire
    assert event.payload["reporter_kind"] == "hotline" and event.payload["reporter_id"] == DEV_HOTLINE_INTEGRATION
    async with loop.intake.runtime.sessions() as s:
        stored = await s.get(Report, out["report_id"])
        assert stored is not None and stored.order_no == no
        assert "陈秀英" not in json.dumps([stored.reporter_id, stored.location])


def refused(reason: str) -> float:
    return counter("intake_hotline_refused_total", {"reason": reason})


async def test_signature_stale_timestamp_replay_and_unknown_integration_are_refused(loop: Loop) -> None:
    reasons = ("bad_signature", "stale_timestamp", "unknown_integration", "missing_signature", "replayed_request")
    before = {reason: refused(reason) for reason in reasons}
    body = {"order_no": order_no(), "household_id": "H-LK-1-102", "content": "暖气不热"}
    r = await post_order(loop, body, secret="wrong-secret")
    assert r.status_code == 401 and r.json()["detail"]["code"] == "bad_signature"
    assert r.json()["detail"]["field"] == "X-Heat-Signature"
    r = await post_order(loop, body, now=time.time() - 301)
    assert r.status_code == 401 and r.json()["detail"]["code"] == "stale_timestamp"
    r = await post_order(loop, body, now=time.time() + 400)
    assert r.status_code == 401 and r.json()["detail"]["code"] == "stale_timestamp"
    r = await post_order(loop, body, integration="12345-unknown")
    assert r.status_code == 401 and r.json()["detail"]["code"] == "unknown_integration"
    raw, headers = signed(body)
    unsigned = {k: v for k, v in headers.items() if k != "X-Heat-Signature"}
    r = await loop.intake.http.post("/hotline/v1/orders", content=raw, headers=unsigned)
    assert r.status_code == 401 and r.json()["detail"]["code"] == "missing_signature"
    r = await loop.intake.http.post("/hotline/v1/orders", content=raw, headers=headers)
    assert r.status_code == 201
    # the same signed request again (a replayed nonce: the signature over timestamp and body is spent)
    again = await loop.intake.http.post("/hotline/v1/orders", content=raw, headers=headers)
    assert again.status_code == 409 and again.json()["detail"]["code"] == "replayed_request"
    assert again.json()["detail"]["message"].startswith("该签名已使用过")
    # tampering with the body after signing
    r = await loop.intake.http.post(
        "/hotline/v1/orders", content=raw.replace(b"H-LK-1-102", b"H-LK-1-101"), headers=headers
    )
    assert r.status_code == 401 and r.json()["detail"]["code"] == "bad_signature"
    # each refusal counted once under its reason: a wrong secret and an altered body are both a bad signature
    expected = {
        "bad_signature": 2,
        "stale_timestamp": 2,
        "unknown_integration": 1,
        "missing_signature": 1,
        "replayed_request": 1,
    }
    assert {reason: refused(reason) - before[reason] for reason in reasons} == expected
    # a signed but invalid body: the usual 422 with field, code and Chinese message
    r = await post_order(loop, {"order_no": order_no(), "household_id": "H-LK-1-102"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "content"


async def test_ten_concurrent_sends_of_one_order_make_one_report(loop: Loop) -> None:
    no = order_no()
    body = {"order_no": no, "household_id": "H-CH-45-101", "content": "暖气片漏水，地上都是水"}
    # each send is signed anew (its own request_id), as a platform retrying an order does
    sends = [signed(body | {"request_id": f"send-{i}"}) for i in range(10)]
    responses = await asyncio.gather(
        *(loop.intake.http.post("/hotline/v1/orders", content=raw, headers=h) for raw, h in sends)
    )
    assert sorted(r.status_code for r in responses) == [200] * 9 + [201], [r.text for r in responses]
    assert len({r.json()["report_id"] for r in responses}) == 1
    report_id = responses[0].json()["report_id"]
    async with loop.intake.runtime.sessions() as s:
        count = await s.scalar(select(func.count()).select_from(Report).where(Report.order_no == no))
    assert count == 1
    assert len(await outbox_rows(loop, "ComplaintReported", report_id)) == 1
    # and later, the same order once more
    r = await post_order(loop, body | {"request_id": "later"})
    assert r.status_code == 200 and r.json()["report_id"] == report_id


async def test_hotline_and_residents_look_up_status_and_timeline(loop: Loop) -> None:
    no = order_no()
    r = await post_order(loop, {"order_no": no, "household_id": "H-CH-48-201", "content": "家里没暖气了"})
    report_id = r.json()["report_id"]
    path = f"/hotline/v1/orders/{no}"
    headers = signed_headers(DEV_HOTLINE_INTEGRATION, DEV_HOTLINE_SECRET, path.encode())
    found = await loop.intake.http.get(path, headers=headers)
    assert found.status_code == 200 and found.json()["report_id"] == report_id
    assert found.json()["timeline"][0]["note"] == "已受理"
    again = await loop.intake.http.get(path, headers=headers)
    assert again.status_code == 200  # a GET reads only: the same signed poll is no replay
    other = f"/hotline/v1/orders/{order_no()}"
    missing = await loop.intake.http.get(
        other, headers=signed_headers(DEV_HOTLINE_INTEGRATION, DEV_HOTLINE_SECRET, other.encode())
    )
    assert missing.status_code == 404 and missing.json()["detail"]["code"] == "order_not_found"
    wrong = await loop.intake.http.get(
        path, headers=signed_headers(DEV_HOTLINE_INTEGRATION, DEV_HOTLINE_SECRET, b"/hotline/v1/orders/OTHER")
    )
    assert wrong.status_code == 401
    public = await loop.intake.http.get(f"/v1/public/reports/{report_id}")
    assert public.status_code == 200
    assert public.json()["status_note"] and "description" not in public.json() and "location" not in public.json()
    assert (await loop.intake.http.get("/v1/public/reports/R-nope")).status_code == 404


# -- the visit ledger ----------------------------------------------------------------------------------------------


async def test_a_visit_with_a_finding_raises_a_report_and_feeds_the_daily_report(loop: Loop) -> None:
    gw = loop.auth("GW-02")
    day = "2026-11-20"
    quiet = await loop.intake.http.post(
        "/v1/visits",
        json={
            "household_id": "H-DF-3-302",
            "visited_at": f"{day}T09:00:00+08:00",
            "measured_temp_c": 19.5,
            "residents_reached": 1,
        },
        headers=gw,
    )
    assert quiet.status_code == 201 and quiet.json()["problem_found"] is False
    body = {
        "household_id": "H-DF-3-301",
        "visited_at": f"{day}T10:00:00+08:00",
        "measured_temp_c": 15.0,
        "residents_reached": 2,
        "findings": [{"description": "卧室暖气片需要排气"}],
        "idempotency_key": f"visit-{uuid.uuid4().hex[:8]}",
    }
    r = await loop.intake.http.post("/v1/visits", json=body, headers=gw)
    assert r.status_code == 201, r.text
    visit = r.json()
    [report_id] = visit["report_ids"]
    resent = await loop.intake.http.post("/v1/visits", json=body, headers=gw)
    assert resent.status_code == 200 and resent.json()["id"] == visit["id"]
    report = (await loop.intake.http.get(f"/v1/reports/{report_id}", headers=gw)).json()
    assert report["channel"] == "visit_ledger" and report["category"] == "air_lock"
    records = await read_topic(
        loop.topics.complaints,
        until=lambda rs: any(e.payload.get("visit_id") == visit["id"] for e in envelopes(rs)),
    )
    [visited] = [e for e in envelopes(records) if e.payload.get("visit_id") == visit["id"]]
    assert visited.event_type == "HouseholdVisited"
    assert visited.payload["problem_found"] is True and visited.payload["report_ids"] == [report_id]
    assert visited.payload["residents_reached"] == 2 and visited.payload["grid_worker_id"] == "GW-02"
    summary = (await loop.intake.http.get("/v1/visits/summary", params={"day": day}, headers=gw)).json()
    assert summary["visits"] >= 2 and summary["residents_reached"] >= 3 and summary["problems_found"] >= 1
    listed = (await loop.intake.http.get("/v1/visits", params={"day": day}, headers=gw)).json()
    assert visit["id"] in {v["id"] for v in listed}
    async with loop.intake.runtime.sessions() as s:
        assert (
            await s.scalar(
                select(func.count())
                .select_from(HouseholdVisit)
                .where(HouseholdVisit.idempotency_key == body["idempotency_key"])
            )
            == 1
        )
    refused = await loop.intake.http.post(
        "/v1/visits", json={"household_id": "H-LK-1-101", "residents_reached": 1}, headers=gw
    )
    assert refused.status_code == 403
