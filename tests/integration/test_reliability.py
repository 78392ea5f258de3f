"""Nothing lost, nothing twice — on the real broker and database.

(a) an event delivered twice changes nothing the second time;
(b) a relay that dies after publishing but before marking rows sent loses nothing, and the inbox absorbs the
    duplicate it sends again;
(c) a row the relay cannot publish does not hold back the others.

Messages a consumer cannot apply (malformed, oversized, unknown type or version, about an unknown case) and the
dead-letter topic: test_hostile_events.py.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from services.dispatch.models import Case, CaseReport
from services.dispatch.models import outbox as dispatch_outbox
from services.intake.models import Base as IntakeBase
from services.intake.models import outbox as intake_outbox
from shared.contracts.common import Category, Channel, Priority
from shared.contracts.intake import ComplaintReported
from shared.db import create_engine, session_factory
from shared.events import Envelope
from shared.outbox import OutboxRelay, add_event
from tests.harness import (
    KAFKA,
    SEED_HOUSEHOLD,
    drop_database,
    envelopes,
    fresh_database,
    read_topic,
    run_db,
    wait_until,
)
from tests.integration.conftest import Loop

LOCATION = SEED_HOUSEHOLD


def complaint() -> Envelope:
    report_id = f"R-it-{uuid.uuid4().hex[:10]}"
    now = datetime.now(UTC)
    return Envelope.wrap(
        ComplaintReported(
            report_id=report_id,
            channel=Channel.GRID_REPORT,
            category=Category.COLD_ROOM,
            priority=Priority.NORMAL,
            priority_resident=False,
            location=LOCATION,
            description="暖气不热",
            reporter_kind="grid_worker",
            reporter_id="GW-01",
            reported_at=now,
        ),
        correlation_id=report_id,
        producer="intake",
        occurred_at=now,
    )


def consumed(outcome: str, topic: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "events_consumed_total",
            {"service": "dispatch", "topic": topic, "event_type": "ComplaintReported", "outcome": outcome},
        )
        or 0.0
    )


async def cases_for(loop: Loop, report_id: str) -> list[str]:
    async with loop.dispatch.runtime.sessions() as s:
        return list((await s.scalars(select(CaseReport.case_id).where(CaseReport.report_id == report_id))).all())


async def case_opened_rows(loop: Loop, case_id: str) -> int:
    async with loop.dispatch.runtime.sessions() as s:
        return int(
            await s.scalar(
                select(func.count())
                .select_from(dispatch_outbox)
                .where(dispatch_outbox.c.key == case_id, dispatch_outbox.c.event_type == "CaseOpened")
            )
            or 0
        )


async def produce(topic: str, *values: tuple[bytes, bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for key, value in values:
            await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()


async def test_an_event_delivered_twice_changes_nothing_the_second_time(loop: Loop) -> None:
    topic = loop.topics.complaints
    env = complaint()
    report_id = env.payload["report_id"]
    duplicates_before = consumed("duplicate", topic)

    await produce(topic, (b"H-LK-1-102", env.encode()), (b"H-LK-1-102", env.encode()))

    await wait_until("the redelivery to be seen", lambda: consumed("duplicate", topic) >= duplicates_before + 1)
    case_ids = await cases_for(loop, report_id)
    assert len(case_ids) == 1, case_ids
    assert await case_opened_rows(loop, case_ids[0]) == 1
    async with loop.dispatch.runtime.sessions() as s:
        case = await s.get(Case, case_ids[0])
        assert case is not None and case.status == "assigned" and case.round == 1


class CrashAfterPublish(OutboxRelay):
    """A relay that dies between the broker's acknowledgement and marking the rows sent."""

    async def _mark_sent(self, session: Any, ids: list[int]) -> None:
        raise SystemError("killed after publish, before mark")


async def test_relay_killed_after_publish_loses_nothing_and_the_duplicate_is_absorbed(loop: Loop) -> None:
    topic = loop.topics.complaints
    # A separate intake-shaped database whose outbox only the relays of this test drain.
    engine = create_engine(await fresh_database(run_db("relay_it")))
    async with engine.begin() as conn:
        await conn.run_sync(IntakeBase.metadata.create_all)
    sessions = session_factory(engine)
    envs = [complaint() for _ in range(3)]
    async with sessions() as s, s.begin():
        for env in envs:
            await add_event(s, intake_outbox, topic=topic, key=LOCATION.household_id or "", envelope=env)
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True, acks="all")
    await producer.start()
    duplicates_before = consumed("duplicate", topic)
    try:
        crashing = CrashAfterPublish(service="relay-test", sessions=sessions, outbox=intake_outbox, producer=producer)
        try:
            await crashing.publish_batch()
            raise AssertionError("the crashing relay should have died")
        except SystemError:
            pass
        async with sessions() as s:
            unsent = await s.scalar(
                select(func.count()).select_from(intake_outbox).where(intake_outbox.c.sent_at.is_(None))
            )
        assert unsent == 3, "rows published by the dead relay are still unsent"

        healthy = OutboxRelay(service="relay-test", sessions=sessions, outbox=intake_outbox, producer=producer)
        assert await healthy.publish_batch() == 3
        assert await healthy.publish_batch() == 0
    finally:
        await producer.stop()
        await engine.dispose()
        await drop_database(run_db("relay_it"))

    ids = {str(e.event_id) for e in envs}
    records = await read_topic(topic, until=lambda rs: sum(str(e.event_id) in ids for e in envelopes(rs)) >= 6)
    assert sum(str(e.event_id) in ids for e in envelopes(records)) == 6, "each event was published twice"
    await wait_until("three redeliveries absorbed", lambda: consumed("duplicate", topic) >= duplicates_before + 3)
    for env in envs:
        case_ids = await cases_for(loop, env.payload["report_id"])
        assert len(case_ids) == 1
        assert await case_opened_rows(loop, case_ids[0]) == 1


async def test_a_row_that_cannot_be_published_does_not_hold_back_the_others(loop: Loop) -> None:
    topic = loop.topics.complaints
    db = run_db("relay_poison_it")
    engine = create_engine(await fresh_database(db))
    async with engine.begin() as conn:
        await conn.run_sync(IntakeBase.metadata.create_all)
    sessions = session_factory(engine)
    good = [complaint() for _ in range(2)]
    async with sessions() as s, s.begin():
        await add_event(s, intake_outbox, topic=topic, key="k", envelope=good[0])
        await s.execute(
            intake_outbox.insert().values(event_id=uuid.uuid4(), event_type="Broken", topic=topic, key="k", value={})
        )
        await add_event(s, intake_outbox, topic=topic, key="k", envelope=good[1])
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True, acks="all")
    await producer.start()
    errors_before = REGISTRY.get_sample_value("outbox_relay_errors_total", {"service": "relay-poison"}) or 0
    try:
        relay = OutboxRelay(service="relay-poison", sessions=sessions, outbox=intake_outbox, producer=producer)
        assert await relay.publish_batch() == 2
        assert await relay.publish_batch() == 0, "the broken row is retried, and still fails"
        async with sessions() as s:
            unsent = (
                await s.execute(select(intake_outbox.c.event_type).where(intake_outbox.c.sent_at.is_(None)))
            ).all()
        assert [r.event_type for r in unsent] == ["Broken"]
        assert REGISTRY.get_sample_value("outbox_relay_errors_total", {"service": "relay-poison"}) == errors_before + 2
    finally:
        await producer.stop()
        await engine.dispose()
        await drop_database(db)
    ids = {str(e.event_id) for e in good}
    await read_topic(topic, until=lambda rs: sum(str(e.event_id) in ids for e in envelopes(rs)) >= 2)
