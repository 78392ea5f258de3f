"""Status back to 12345 with a flaky receiver on the real stack: case events from Kafka become signed callbacks,
delivered in order per order while the receiver fails, times out and recovers; a receiver that keeps failing
parks the callback as dead (holding its order back) until the admin API re-drives it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.intake.config import HotlineIntegration, IntakeSettings
from services.intake.hotline import HEADER_DELIVERY, HEADER_SIGNATURE, HEADER_TIMESTAMP, signed_headers
from services.intake.main import create_app
from shared import signing
from shared.contracts.common import Category, Priority, Tier
from shared.contracts.dispatch import (
    AssignmentSignedIn,
    CaseEscalated,
    CaseOpened,
    CaseResolved,
    EscalationLevel,
)
from shared.contracts.followup import CaseClosed
from shared.events import Envelope, EventPayload
from shared.settings import DEV_ADMIN_TOKEN
from shared.topics import Topics
from tests.harness import (
    KAFKA,
    SEED_HOUSEHOLD,
    check_stack,
    drop_database,
    fresh_database,
    new_prefix,
    run_db,
    run_in_process,
    serving,
    wait_until,
)

INTEGRATION = "12345-it"
SECRET = "integration-test-secret-0123456789"
ADMIN = {"X-Admin-Token": DEV_ADMIN_TOKEN}
LOCATION = SEED_HOUSEHOLD


@dataclass
class Receiver:
    """A 12345 platform that fails, then hangs past the timeout, then answers; or fails for chosen orders."""

    script: list[str] = field(default_factory=lambda: ["fail", "hang"])
    failing_orders: set[str] = field(default_factory=set)
    attempts: list[tuple[str, int, str]] = field(default_factory=list)  # (order, seq, outcome)
    received: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)  # deduplicated by delivery id
    bad_signatures: int = 0

    async def handle(self, request: Request) -> JSONResponse:
        body = await request.body()
        if not signing.signature_valid(
            SECRET, request.headers[HEADER_TIMESTAMP], body, request.headers[HEADER_SIGNATURE]
        ):
            self.bad_signatures += 1
            return JSONResponse({"error": "bad signature"}, status_code=401)
        payload = json.loads(body)
        assert request.headers[HEADER_DELIVERY] == f"{payload['order_no']}:{payload['seq']}"
        key = (payload["order_no"], payload["seq"])
        if payload["order_no"] in self.failing_orders:
            self.attempts.append((*key, "fail"))
            return JSONResponse({"error": "down"}, status_code=503)
        step = self.script.pop(0) if self.script else "ok"
        self.attempts.append((*key, step))
        if step == "fail":
            return JSONResponse({"error": "busy"}, status_code=500)
        if step == "hang":
            await asyncio.sleep(3.0)  # past the 1 s timeout: the sender gives up and tries again
        self.received.setdefault(key, payload)
        return JSONResponse({"ok": True})

    def of(self, order_no: str) -> list[dict[str, Any]]:
        return [p for (order, _), p in self.received.items() if order == order_no]


@contextlib.asynccontextmanager
async def serve(receiver: Receiver) -> AsyncIterator[str]:
    app = Starlette(routes=[Route("/callback", receiver.handle, methods=["POST"])])
    async with serving(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")) as base:
        yield f"{base}/callback"


async def produce(topic: str, payload: EventPayload, *, key: str) -> None:
    env = Envelope.wrap(payload, correlation_id=key, producer="test", occurred_at=datetime.now(UTC))
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=env.encode(), key=key.encode())
    finally:
        await producer.stop()


def case_events(case_id: str, report_id: str) -> list[tuple[str, EventPayload]]:
    now = datetime.now(UTC)
    return [
        (
            "cases",
            CaseOpened(
                case_id=case_id,
                report_ids=[report_id],
                category=Category.LEAK,
                priority=Priority.URGENT,
                tier=Tier.TECHNICAL,
                priority_resident=False,
                location=LOCATION,
                opened_at=now,
            ),
        ),
        (
            "cases",
            AssignmentSignedIn(case_id=case_id, assignment_id="A-1", unit_id="U-PM-1", signed_in_at=now, on_time=True),
        ),
        (
            "cases",
            CaseEscalated(
                case_id=case_id,
                assignment_id="A-1",
                unit_id="U-PM-1",
                unit_type=None,
                level=EscalationLevel.REMINDER,
                clock="on_site",
                due_at=now,
                escalated_at=now,
                district_id="D-CG",
                street_id="S-JYG",
            ),
        ),
        (
            "cases",
            CaseResolved(
                case_id=case_id,
                round=1,
                category=Category.LEAK,
                priority=Priority.URGENT,
                location=LOCATION,
                report_ids=[report_id],
                unit_ids=["U-PM-1"],
                resolved_at=now,
            ),
        ),
        ("followup", CaseClosed(case_id=case_id, round=1, min_temp_c=20.0, satisfaction=None, closed_at=now)),
    ]


async def send_order(http: Any, order_no: str, household_id: str) -> str:
    raw = json.dumps({"order_no": order_no, "household_id": household_id, "content": "暖气片漏水"}).encode()
    r = await http.post("/hotline/v1/orders", content=raw, headers=signed_headers(INTEGRATION, SECRET, raw))
    assert r.status_code == 201, r.text
    return str(r.json()["report_id"])


async def _status(intake: Any, report_id: str, status: str) -> bool:
    r = await intake.http.get(f"/v1/public/reports/{report_id}")
    return bool(r.json()["status"] == status)


def deliveries(outcome: str) -> float:
    return REGISTRY.get_sample_value("intake_callback_deliveries_total", {"outcome": outcome}) or 0.0


async def test_callbacks_are_signed_ordered_retried_parked_and_redriven() -> None:
    await check_stack()
    receiver = Receiver()
    db = run_db("intake_cb_it")
    prefix = new_prefix("it-cb")
    topics = Topics(prefix)
    before = {o: deliveries(o) for o in ("http_error", "timeout", "delivered", "dead")}
    async with serve(receiver) as url:
        settings = IntakeSettings(
            database_url=await fresh_database(db),
            kafka_bootstrap=KAFKA,
            kafka_topic_prefix=prefix,
            environment="test",
            hotline_integrations={INTEGRATION: HotlineIntegration(secret=SecretStr(SECRET), callback_url=url)},
            callback_timeout_seconds=1.0,  # a loaded machine can stall the shared loop for a few tenths
            callback_backoff_base_seconds=0.05,
            callback_backoff_cap_seconds=0.2,
            callback_max_attempts=4,
            callback_poll_seconds=0.05,
        )
        try:
            async with run_in_process(create_app(settings)) as intake:
                from deploy.seed import registry

                doc = registry.read()
                (
                    await intake.http.put("/admin/registry", json=registry.intake_registry(doc), headers=ADMIN)
                ).raise_for_status()
                good_order, dead_order = f"GD-OK-{uuid.uuid4().hex[:6]}", f"GD-DEAD-{uuid.uuid4().hex[:6]}"
                receiver.failing_orders.add(dead_order)
                # two households, so the two orders are two incidents (one household's would be grouped)
                good_report = await send_order(intake.http, good_order, "H-LK-1-102")
                dead_report = await send_order(intake.http, dead_order, "H-LK-1-101")
                for report_id, case_id in ((good_report, "C-IT-GOOD"), (dead_report, "C-IT-DEAD")):
                    *on_cases, (_, closed) = case_events(case_id, report_id)
                    for _, event in on_cases:
                        await produce(topics.cases, event, key=case_id)
                    # closure comes on another topic, in life days after the resolution: keep that order here
                    await wait_until("resolved", lambda rid=report_id: _status(intake, rid, "resolved"))
                    await produce(topics.followup, closed, key=case_id)

                # one order: five changes delivered exactly in order, despite a 500 and a timeout on the way
                try:
                    await wait_until("five callbacks of the good order", lambda: len(receiver.of(good_order)) == 5)
                except AssertionError:
                    rows = (await intake.http.get("/admin/hotline/callbacks", headers=ADMIN)).json()
                    raise AssertionError(f"{receiver.attempts}\n{rows}") from None
                mine = receiver.of(good_order)
                assert [d["seq"] for d in mine] == [1, 2, 3, 4, 5]
                assert [d["status"] for d in mine] == ["dispatched", "signed_in", "escalated", "resolved", "closed"]
                assert mine[2]["note"] == "已向责任单位催办" and mine[-1]["status_text"] == "已办结"
                assert all(d["report_id"] == good_report and d["case_id"] == "C-IT-GOOD" for d in mine)
                attempts = [(seq, outcome) for order, seq, outcome in receiver.attempts if order == good_order]
                assert {"fail", "hang", "ok"} <= {o for _, o in attempts}, attempts
                _assert_in_order(attempts)
                assert receiver.bad_signatures == 0
                assert deliveries("http_error") > before["http_error"]
                assert deliveries("timeout") > before["timeout"]

                # the other order: #1 dies after 4 attempts and #2…#5 wait behind it, never sent
                async def dead_rows() -> Any:
                    r = await intake.http.get(
                        "/admin/hotline/callbacks", params={"state": "dead", "order_no": dead_order}, headers=ADMIN
                    )
                    return r.json() or None

                [dead] = await wait_until("the first callback of the dead order parked", dead_rows, timeout=30)
                assert dead["seq"] == 1 and dead["attempts"] == 4 and dead["last_error"] == "HTTP 503"

                async def pending() -> Any:
                    r = await intake.http.get(
                        "/admin/hotline/callbacks", params={"state": "pending", "order_no": dead_order}, headers=ADMIN
                    )
                    rows = r.json()
                    return rows if len(rows) == 4 else None

                waiting = await wait_until("the dead order's later changes queued behind it", pending)
                assert [p["seq"] for p in waiting] == [2, 3, 4, 5]
                await asyncio.sleep(0.5)  # ten polls of the delivery job: still nothing behind the dead #1 is sent
                assert {seq for order, seq, _ in receiver.attempts if order == dead_order} == {1}
                assert deliveries("dead") > before["dead"]

                # the platform is back; an operator re-drives the parked callback and the order drains in order
                receiver.failing_orders.clear()
                r = await intake.http.post(f"/admin/hotline/callbacks/{dead['id']}/redrive", headers=ADMIN)
                assert r.status_code == 200 and r.json()["state"] == "pending"
                again = await intake.http.post(f"/admin/hotline/callbacks/{dead['id']}/redrive", headers=ADMIN)
                assert again.status_code == 409
                await wait_until(
                    "the dead order drained",
                    lambda: len(receiver.of(dead_order)) == 5,
                    timeout=30,
                )
                assert [d["seq"] for d in receiver.of(dead_order)] == [1, 2, 3, 4, 5]
                _assert_in_order([(seq, o) for order, seq, o in receiver.attempts if order == dead_order])

                # the receiver records #5 before intake has read its answer and marked the row delivered
                async def all_delivered() -> Any:
                    r = await intake.http.get("/admin/hotline/callbacks", params={"state": "delivered"}, headers=ADMIN)
                    rows = r.json()
                    return rows if len(rows) >= 10 else None

                delivered = await wait_until("every callback marked delivered", all_delivered, timeout=10)
                assert len(delivered) == 10
                assert (await intake.http.post("/admin/hotline/callbacks/redrive", headers=ADMIN)).json() == {
                    "redriven": 0
                }
        finally:
            await drop_database(db)


def _assert_in_order(attempts: list[tuple[int, str]]) -> None:
    """No attempt at #n before #n-1 was acknowledged ('ok' or a 'hang' that the receiver finally answered is
    not an acknowledgement the sender saw; only the next attempt's success counts)."""
    acknowledged = 0
    for i, (seq, outcome) in enumerate(attempts):
        assert seq <= acknowledged + 1, f"#{seq} sent before #{acknowledged + 1} was acknowledged: {attempts}"
        later_same = [o for s, o in attempts[i + 1 :] if s == seq]
        if outcome == "ok" or (outcome == "hang" and not later_same):
            acknowledged = max(acknowledged, seq)
