"""A poll's batch is applied in one transaction, on the real Kafka and PostgreSQL, through the services' own
subscribers (``shared.kafka.subscribers``): a poison event in the middle of a batch is dead-lettered alone, its
neighbours apply once and in order, and a redelivered copy within the batch is a duplicate."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker
from prometheus_client import REGISTRY
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.consumer import DeadLetters, EventConsumer, PermanentError
from shared.contracts.common import Satisfaction
from shared.contracts.followup import CaseClosed
from shared.db import create_engine, session_factory
from shared.events import Envelope
from shared.kafka.subscribers import OffsetCommits, subscriber_router
from shared.outbox import messaging_tables
from shared.settings import ServiceSettings
from tests.harness import KAFKA, drop_database, fresh_database, run_db, wait_until

pytestmark = pytest.mark.integration

AT = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
POISON = "C-3"


def _closed(case_id: str) -> bytes:
    return Envelope.wrap(
        CaseClosed(case_id=case_id, round=1, min_temp_c=19, satisfaction=Satisfaction.SATISFIED, closed_at=AT),
        correlation_id=case_id,
        producer="followup",
        occurred_at=AT,
    ).encode()


def _sample(name: str, topic: str) -> float:
    return REGISTRY.get_sample_value(name, {"service": "batchtest", "topic": topic}) or 0.0


class FlakyProducer:
    """The dead-letter topic unreachable the first ``failures`` times."""

    def __init__(self, producer: AIOKafkaProducer, failures: int) -> None:
        self._producer, self.failures = producer, failures

    async def send_and_wait(self, *args: Any, **kwargs: Any) -> Any:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("dead-letter topic unreachable")
        return await self._producer.send_and_wait(*args, **kwargs)


@pytest.mark.parametrize("dead_letters_down_once", [False, True], ids=["dlq-up", "dlq-down-once"])
async def test_a_poison_event_in_a_batch_is_dead_lettered_alone_and_its_neighbours_apply_once(
    dead_letters_down_once: bool,
) -> None:
    """With the dead-letter topic down when the poison event needs it, the partition is read again from the
    batch's first record: nothing is skipped, nothing applied twice."""
    run = uuid.uuid4().hex[:8]
    topic, dlq = f"batchtest-{run}.verdicts", f"batchtest-{run}.verdicts.dlq"
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        # One partition: every record of the first poll is one partition's batch.
        await admin.create_topics([NewTopic(t, num_partitions=1, replication_factor=1) for t in (topic, dlq)])
    finally:
        await admin.close()

    name = run_db("batches")
    engine = create_engine(await fresh_database(name), pool_size=4)
    sessions = session_factory(engine)
    metadata = MetaData()
    _, inbox = messaging_tables(metadata)
    applied = Table(
        "applied",
        metadata,
        Column("n", Integer, primary_key=True, autoincrement=True),
        Column("case_id", String(20), nullable=False),
        Column("event_id", Text, nullable=False),
    )
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)

    calls: list[str] = []

    async def handler(session: AsyncSession, envelope: Envelope, event: CaseClosed) -> None:
        calls.append(event.case_id)
        await session.execute(insert(applied).values(case_id=event.case_id, event_id=str(envelope.event_id)))
        if event.case_id == POISON:
            raise PermanentError("unknown_case", event.case_id)

    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True, acks="all")
    await producer.start()
    consumer = EventConsumer(
        service="batchtest",
        sessions=sessions,
        inbox=inbox,
        dead_letters=DeadLetters(service="batchtest", producer=FlakyProducer(producer, int(dead_letters_down_once))),
        handlers={CaseClosed: handler},
        retry_base_seconds=0.01,
    )
    settings = ServiceSettings(service_name="batchtest", kafka_bootstrap=KAFKA, kafka_topic_prefix=f"batchtest-{run}.")
    commits: dict[str, OffsetCommits] = {}
    fallbacks = _sample("consumer_batch_fallbacks_total", topic)
    batches = _sample("consumer_batch_events_count", topic)

    # The first batch: seven cases, the fourth poison, and a redelivered copy of the second case's event.
    first = [_closed(f"C-{i}") for i in range(7)]
    for value in [*first[:2], first[1], *first[2:]]:
        await producer.send_and_wait(topic, value=value, key=b"k")
    broker = KafkaBroker(KAFKA, logger=logging.getLogger("batchtest"), log_level=logging.DEBUG)
    broker.include_router(subscriber_router(settings, {topic: consumer}, commits))
    try:
        await broker.start()

        async def rows() -> list[tuple[str, int]]:
            async with sessions() as session:
                q = select(applied.c.case_id, func.count()).group_by(applied.c.case_id).order_by(applied.c.case_id)
                return [(c, n) for c, n in (await session.execute(q)).all()]

        good = [f"C-{i}" for i in range(7) if f"C-{i}" != POISON]
        await wait_until("the first batch", lambda: _rows_are(rows, [(c, 1) for c in good]), timeout=60)
        if not dead_letters_down_once:
            assert _sample("consumer_batch_fallbacks_total", topic) == fallbacks + 1
            # The batch ran its handlers up to the poison one, was rolled back, and each event was then applied
            # alone, in the partition's order: the redelivered copy is dropped by the inbox, the poison one is
            # tried once.
            assert calls == ["C-0", "C-1", "C-2", POISON, "C-0", "C-1", "C-2", POISON, "C-4", "C-5", "C-6"]
        else:
            # The first round stopped at the poison event (its dead letter failed); the partition was read again,
            # C-0..C-2 were dropped by the inbox, and the rest applied.
            fallbacks = _sample("consumer_batch_fallbacks_total", topic) - 1
            assert calls[:8] == ["C-0", "C-1", "C-2", POISON, "C-0", "C-1", "C-2", POISON]
            assert calls.count(POISON) >= 3 and calls[-3:] == ["C-4", "C-5", "C-6"]

        # The next batch has nothing poisonous: one transaction, no fallback, every event once.
        calls.clear()
        await asyncio.gather(*[await producer.send(topic, value=_closed(f"C-{i}"), key=b"k") for i in range(7, 12)])
        good += [f"C-{i}" for i in range(7, 12)]
        await wait_until("the second batch", lambda: _rows_are(rows, sorted((c, 1) for c in good)), timeout=60)
        assert sorted(calls) == sorted(f"C-{i}" for i in range(7, 12))
        assert _sample("consumer_batch_fallbacks_total", topic) == fallbacks + 1
        assert _sample("consumer_batch_events_count", topic) >= batches + 2
        # Exactly one dead letter: the poison event, with its reason.
        letters = await _dead_letters(dlq)
        assert [json.loads(r.value)["payload"]["case_id"] for r in letters] == [POISON]
        assert dict(letters[0].headers)["dlq.reason"] == b"unknown_case"
    finally:
        for c in commits.values():
            await c.close()
        await broker.stop()
        await producer.stop()
        await engine.dispose()
        await drop_database(name)


async def _dead_letters(dlq: str) -> list[Any]:
    """What the dead-letter topic holds (read until it has been quiet for a moment)."""
    reader = AIOKafkaConsumer(dlq, bootstrap_servers=KAFKA, auto_offset_reset="earliest", group_id=None)
    await reader.start()
    letters: list[Any] = []
    try:
        for _ in range(20):
            got = [r for records in (await reader.getmany(timeout_ms=500)).values() for r in records]
            letters += got
            if letters and not got:
                break
    finally:
        await reader.stop()
    return letters


async def _rows_are(rows: Any, expected: list[tuple[str, int]]) -> bool:
    return bool(await rows() == expected)
