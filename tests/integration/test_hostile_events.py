"""Hostile messages on every topic each service consumes, written straight onto the topic with aiokafka: JSON cut
off mid-way, a schema version no consumer reads, an event type no contract registers, a message above
``MAX_EVENT_BYTES``, and a well-formed event about a case (or an assignment) the consumer does not have.

Who consumes what (each service's consumers.py): intake ← cases, verdicts; dispatch ← complaints, verdicts;
follow-up ← cases, complaints. Every consumer of a topic dead-letters every one of those messages to
``<topic>.dlq`` on its own, the original bytes kept and the reason in the headers — headers that repeat nothing of
the message (its phone numbers, names, or text). The valid event sent after them on the same partition is applied:
it is in the consumer's inbox, so the consumer kept serving.

On the complaints topic the facts create what they name (a ComplaintReported for a report nobody has seen is the
ordinary case), so the valid complaint sent after the junk stands for "a report that does not exist" there.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import select

from services.dispatch.models import inbox as dispatch_inbox
from services.followup.models import inbox as followup_inbox
from services.intake.models import inbox as intake_inbox
from shared.contracts.common import Category, Channel, Location, Priority, Satisfaction
from shared.contracts.dispatch import AssignmentSignedIn, CaseEscalated, EscalationLevel
from shared.contracts.followup import CaseClosed
from shared.contracts.intake import ComplaintReported
from shared.events import MAX_EVENT_BYTES, Envelope, EventPayload
from shared.settings import DEV_ADMIN_TOKEN
from tests.harness import KAFKA, read_topic, wait_until
from tests.integration.conftest import Loop

ADMIN = {"X-Admin-Token": DEV_ADMIN_TOKEN}
PHONE, NAME = "13912345678", "王秀英"  # what a resident's message may carry; no header may repeat it
GENERIC = {
    "malformed": "malformed",
    "wrong_version": "unsupported_schema_version",
    "unknown_type": "unknown_event_type",
    "oversized": "oversized",
}
LOCATION = Location(
    district_id="D-CG",
    street_id="S-JYG",
    community_id="CM-PHN",
    grid_id="G-PHN-01",
    compound_id="CP-LK",
    building_id="B-IT-HOSTILE",
    household_id="H-IT-HOSTILE-1",
    substation_id="SS-01",
)


def wire(payload: EventPayload, key: str, **envelope: Any) -> bytes:
    """The event as a producer would write it, with envelope fields overridden (a forged version or type)."""
    now = datetime.now(UTC)
    doc = Envelope.wrap(payload, correlation_id=key, producer="test", occurred_at=now).to_json() | envelope
    return json.dumps(doc, ensure_ascii=False).encode()


def junk(nonce: str, sample: EventPayload, key: str) -> dict[str, bytes]:
    """The four messages no consumer can read, each unique to this run (so its dead letter can be found)."""
    said = f"来电人{NAME}，电话{PHONE}，{nonce}"
    padding = said * (MAX_EVENT_BYTES // len(said.encode()) + 1)
    return {
        "malformed": f'{{"event_type": "{sample.event_type}", "note": "{said}", "payload": '.encode(),
        "wrong_version": wire(sample, key, schema_version=sample.schema_version + 1, note=said),
        "unknown_type": wire(sample, key, event_type=f"ResidentCalled{PHONE}{nonce}"),
        "oversized": wire(sample, key, note=padding),  # valid but for its size
    }


def complaint(report_id: str) -> ComplaintReported:
    now = datetime.now(UTC)
    return ComplaintReported(
        report_id=report_id,
        channel=Channel.GRID_REPORT,
        category=Category.LEAK,
        priority=Priority.URGENT,
        priority_resident=False,
        location=LOCATION,
        description="暖气片接口滴水",
        reporter_kind="grid_worker",
        reporter_id="GW-01",
        reported_at=now,
    )


async def open_case(loop: Loop) -> str:
    """A case of a real report (intake knows its reports, dispatch and follow-up know the case)."""
    registry = {
        "buildings": [
            {
                "id": "B-IT-HOSTILE",
                "name": "测试楼",
                "compound_id": "CP-LK",
                "grid_id": "G-PHN-01",
                "substation_id": "SS-01",
            }
        ],
        "households": [{"id": "H-IT-HOSTILE-1", "building_id": "B-IT-HOSTILE", "unit_no": "1", "room": "101"}],
    }
    assert (await loop.intake.http.put("/admin/registry", json=registry, headers=ADMIN)).status_code == 200
    gw = loop.auth("GW-01")
    r = await loop.intake.http.post(
        "/v1/grid-reports",
        json={"household_id": "H-IT-HOSTILE-1", "category": "leak", "description": "暖气片接口滴水"},
        headers=gw,
    )
    assert r.status_code in (200, 201), r.text

    async def linked() -> str | None:
        report = (await loop.intake.http.get(f"/v1/reports/{r.json()['id']}", headers=gw)).json()
        return report["case_id"]  # type: ignore[no-any-return]

    case_id: str = await wait_until("intake to hear of the case", linked, timeout=60)
    return case_id


def dead_letters(records: list[Any], service: str, values: dict[bytes, str]) -> dict[str, Any]:
    """The dead letters of ``service`` among ``records`` whose value is one of ``values`` (value → kind)."""
    return {
        values[r.value]: r
        for r in records
        if r.value in values and dict(r.headers).get("dlq.consumer") == service.encode()
    }


async def in_inbox(loop: Loop, service: str, event_id: uuid.UUID) -> bool:
    inbox = {"intake": intake_inbox, "dispatch": dispatch_inbox, "followup": followup_inbox}[service]
    async with getattr(loop, service).runtime.sessions() as s:
        row = await s.scalar(select(inbox.c.event_id).where(inbox.c.consumer == service, inbox.c.event_id == event_id))
    return row is not None


async def test_every_consumer_dead_letters_what_it_cannot_apply_and_keeps_serving(loop: Loop) -> None:
    nonce = uuid.uuid4().hex[:10]
    case_id = await open_case(loop)
    at = datetime.now(UTC)
    nowhere = f"C-IT-NOPE-{nonce}"
    household = LOCATION.household_id or ""

    # topic → (the key of all its messages, the event about something nobody has, the valid event sent last)
    valid_complaint = complaint(f"R-IT-HOSTILE-{nonce}")
    valid_escalation = CaseEscalated(
        case_id=case_id,
        assignment_id=None,
        unit_id=None,
        unit_type=None,
        level=EscalationLevel.REMINDER,
        clock="bounces",
        due_at=None,
        escalated_at=at,
        district_id="D-CG",
        street_id="S-JYG",
    )
    valid_verdict = CaseClosed(
        case_id=case_id, round=1, min_temp_c=20.0, satisfaction=Satisfaction.SATISFIED, closed_at=at
    )
    unknown_assignment = AssignmentSignedIn(
        case_id=nowhere, assignment_id=f"A-IT-NOPE-{nonce}", unit_id="U-PM-1", signed_in_at=at, on_time=True
    )
    unknown_verdict = CaseClosed(case_id=nowhere, round=1, min_temp_c=20.0, satisfaction=None, closed_at=at)
    plan: dict[str, tuple[str, EventPayload | None, EventPayload]] = {
        loop.topics.complaints: (household, None, valid_complaint),
        loop.topics.cases: (case_id, unknown_assignment, valid_escalation),
        loop.topics.followup: (case_id, unknown_verdict, valid_verdict),
    }
    sent: dict[str, dict[str, bytes]] = {}
    valid_ids: dict[str, uuid.UUID] = {}
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for topic, (key, unknown, valid) in plan.items():
            messages = junk(nonce, valid, key)
            if unknown is not None:
                messages["unknown"] = wire(unknown, key)
            sent[topic] = messages
            last = Envelope.wrap(valid, correlation_id=key, producer="test", occurred_at=at)
            valid_ids[topic] = last.event_id
            # One key: one partition, so each consumer meets the junk before the valid event.
            for value in [*messages.values(), last.encode()]:
                await producer.send_and_wait(topic, value=value, key=key.encode())
    finally:
        await producer.stop()
    assert len(sent[loop.topics.cases]["oversized"]) > MAX_EVENT_BYTES

    # consumer → topic → why it cannot apply the event about something it does not have
    consumers = {
        "intake": {loop.topics.cases: "unknown_case", loop.topics.followup: "unknown_case"},
        "dispatch": {loop.topics.complaints: None, loop.topics.followup: "unknown_case"},
        "followup": {loop.topics.cases: "unknown_assignment", loop.topics.complaints: None},
    }
    for service, topics in consumers.items():
        for topic in topics:
            await wait_until(
                f"{service} to apply the valid event after the junk on {topic}",
                lambda s=service, t=topic: in_inbox(loop, s, valid_ids[t]),
                timeout=60,
            )

    for service, topics in consumers.items():
        for topic, unknown_reason in topics.items():
            expected = {kind: GENERIC[kind] for kind in GENERIC} | (
                {"unknown": unknown_reason} if unknown_reason else {}
            )
            by_value = {sent[topic][kind]: kind for kind in expected}
            want = len(expected)
            records = await read_topic(
                loop.topics.dlq(topic),
                until=lambda rs, s=service, v=by_value, n=want: len(dead_letters(rs, s, v)) == n,
                timeout=30,
            )
            dead = dead_letters(records, service, by_value)
            for kind, reason in expected.items():
                headers = dict(dead[kind].headers)
                assert headers["dlq.reason"] == str(reason).encode(), (service, topic, kind, headers)
                assert headers["dlq.original"].startswith(topic.encode() + b"/")
                assert headers["dlq.error"] and (kind != "malformed" or b"not JSON" in headers["dlq.error"])
                for name, value in headers.items():
                    for secret in (PHONE, NAME, nonce):
                        assert secret.encode() not in value, (service, topic, kind, name, value[:200])
