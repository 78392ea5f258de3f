"""Transactional outbox and inbox: state change and event commit together; redeliveries change nothing.

Each service owns both tables in its own database (``messaging_tables``). ``add_event`` writes the event in
the caller's transaction; ``OutboxRelay`` publishes committed rows in batches with an idempotent producer and
marks them sent. A crash between publish and mark re-sends the batch; consumers' inboxes drop the duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    TextClause,
    Uuid,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from shared import metrics
from shared.events import Envelope, EventPayload
from shared.loops import poll_forever

log = logging.getLogger(__name__)

# Relays living in this process; woken after any commit that wrote an outbox row, so an event
# leaves within milliseconds instead of waiting for the next poll.
_WAKERS: set[Callable[[], None]] = set()


@event.listens_for(Session, "after_commit")
def _wake_relays(session: Session) -> None:
    if session.info.pop("outbox_dirty", False):
        for wake in tuple(_WAKERS):
            wake()


def messaging_tables(metadata: MetaData) -> tuple[Table, Table]:
    """The outbox and inbox tables, declared on a service's own metadata."""
    outbox = Table(
        "outbox",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", Uuid, nullable=False, unique=True),
        Column("event_type", String(80), nullable=False),
        Column("topic", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("value", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("sent_at", DateTime(timezone=True), nullable=True),
        Index("ix_outbox_unsent", "id", postgresql_where=text("sent_at IS NULL")),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer", String(80), primary_key=True),
        Column("event_id", Uuid, primary_key=True),
        Column("event_type", String(80), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    return outbox, inbox


async def add_event(session: AsyncSession, outbox: Table, *, topic: str, key: str, envelope: Envelope) -> None:
    """Stage an event in the caller's transaction. It is published only if that transaction commits."""
    await add_events(session, outbox, topic=topic, keyed=[(key, envelope)])


async def add_events(session: AsyncSession, outbox: Table, *, topic: str, keyed: list[tuple[str, Envelope]]) -> None:
    """Stage several events with one statement."""
    if not keyed:
        return
    session.sync_session.info["outbox_dirty"] = True
    await session.execute(
        _stage_rows(outbox.name),
        {
            "ids": [e.event_id for _, e in keyed],
            "types": [e.event_type for _, e in keyed],
            "topic": topic,
            "keys": [key for key, _ in keyed],
            "values": [e.encode().decode() for _, e in keyed],
        },
    )


@functools.cache
def _stage_rows(table: str) -> TextClause:
    """``add_events``' one statement: the events as arrays, one prepared statement whatever their number, inserted
    (and so numbered, and so published) in the order given."""
    return text(
        f"""
        INSERT INTO {table} (event_id, event_type, topic, key, value)
        SELECT e.event_id, e.event_type, CAST(:topic AS varchar), e.key, e.value
          FROM unnest(CAST(:ids AS uuid[]), CAST(:types AS varchar[]), CAST(:keys AS varchar[]),
                      CAST(:values AS jsonb[])) WITH ORDINALITY AS e(event_id, event_type, key, value, n)
         ORDER BY e.n
        """
    )


async def claim_inbox(session: AsyncSession, inbox: Table, *, consumer: str, envelope: Envelope) -> bool:
    """Record that ``consumer`` processed this event, in the caller's transaction. False: seen before."""
    return envelope.event_id in await claim_inbox_many(session, inbox, consumer=consumer, envelopes=[envelope])


async def claim_inbox_many(
    session: AsyncSession, inbox: Table, *, consumer: str, envelopes: Sequence[Envelope]
) -> set[uuid.UUID]:
    """``claim_inbox`` for a batch with one statement: the ids of the events not processed before."""
    unique = {e.event_id: e.event_type for e in envelopes}  # a batch may carry a redelivered copy of its own event
    rows = [{"consumer": consumer, "event_id": i, "event_type": t} for i, t in unique.items()]
    stmt = insert(inbox).values(rows).on_conflict_do_nothing().returning(inbox.c.event_id)
    return set((await session.scalars(stmt)).all())


class OutboxRelay:
    """Publishes committed outbox rows. Several replicas share the work through FOR UPDATE SKIP LOCKED."""

    def __init__(
        self,
        *,
        service: str,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Table,
        producer: Any,
        batch_size: int = 500,
        poll_seconds: float = 0.5,
    ) -> None:
        self.service = service
        self._sessions = sessions
        self._outbox = outbox
        self._producer = producer
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._wakeup = asyncio.Event()
        self._last_stats = 0.0

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self) -> None:
        _WAKERS.add(self.wake)
        try:
            await poll_forever(
                self._step,
                name="outbox-relay",
                service=self.service,
                idle=self._woken_or_polled,
                on_failure=metrics.OUTBOX_ERRORS.labels(self.service).inc,
            )
        finally:
            _WAKERS.discard(self.wake)

    async def _step(self) -> bool:
        try:
            sent = await self.publish_batch()
        finally:
            # Refreshed even while publishing fails, so the backlog and its age keep telling the truth.
            with contextlib.suppress(Exception):
                await self._refresh_stats()
        return sent >= self._batch_size  # a full batch: more may be waiting

    async def _woken_or_polled(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout=self._poll_seconds)
        self._wakeup.clear()

    async def publish_batch(self) -> int:
        """Claim, publish and mark one batch in one transaction. Returns how many rows were sent."""
        async with self._sessions() as session, session.begin():
            rows = (
                await session.execute(
                    select(
                        self._outbox.c.id,
                        self._outbox.c.topic,
                        self._outbox.c.key,
                        self._outbox.c.value,
                        self._outbox.c.created_at,
                    )
                    .where(self._outbox.c.sent_at.is_(None))
                    .order_by(self._outbox.c.id)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            sent = await self._publish(rows)
            if sent:
                await self._mark_sent(session, [r.id for r in sent])
        now = time.time()
        for r in sent:
            metrics.OUTBOX_PUBLISH_DELAY.labels(self.service).observe(max(0.0, now - r.created_at.timestamp()))
        metrics.OUTBOX_PUBLISHED.labels(self.service).inc(len(sent))
        if len(sent) < len(rows):
            # A row that cannot be published stays unsent and is retried; it must not hold back the others.
            metrics.OUTBOX_ERRORS.labels(self.service).inc()
        return len(sent)

    async def _publish(self, rows: Any) -> list[Any]:
        """Send every row; return those the broker acknowledged."""
        pending: list[tuple[Any, Any]] = []
        for r in rows:
            try:
                value = Envelope.model_validate(r.value).encode()
                pending.append((r, await self._producer.send(r.topic, value=value, key=r.key.encode())))
            except Exception:
                log.exception("outbox row cannot be published", extra={"outbox_id": r.id, "topic": r.topic})
        # acks=all + idempotence: each future resolves once the broker has the record durably.
        results = await asyncio.gather(*(f for _, f in pending), return_exceptions=True)
        sent = []
        for (row, _), result in zip(pending, results, strict=True):
            if isinstance(result, BaseException):
                log.error("outbox row not acknowledged", extra={"outbox_id": row.id, "error": repr(result)})
            else:
                sent.append(row)
        return sent

    async def _mark_sent(self, session: AsyncSession, ids: list[int]) -> None:
        await session.execute(update(self._outbox).where(self._outbox.c.id.in_(ids)).values(sent_at=func.now()))

    async def _refresh_stats(self, every: float = 5.0) -> None:
        if time.monotonic() - self._last_stats < every:
            return
        self._last_stats = time.monotonic()
        async with self._sessions() as session:
            count, oldest = (
                await session.execute(
                    select(func.count(), func.min(self._outbox.c.created_at)).where(self._outbox.c.sent_at.is_(None))
                )
            ).one()
            db_now: datetime = (await session.execute(select(func.now()))).scalar_one()
        metrics.OUTBOX_BACKLOG.labels(self.service).set(count)
        age = (db_now - oldest).total_seconds() if oldest is not None else 0.0
        metrics.OUTBOX_OLDEST_AGE.labels(self.service).set(age)


class OutboxWriter:
    """Wraps payloads in envelopes and stages them on one topic in the caller's transaction."""

    def __init__(self, *, outbox: Table, topic: str, producer: str) -> None:
        self._outbox = outbox
        self.topic = topic
        self._producer = producer

    async def emit(
        self,
        session: AsyncSession,
        payload: EventPayload,
        *,
        key: str,
        at: datetime,
        correlation_id: str | None = None,
    ) -> Envelope:
        """``key`` orders events on the topic; ``correlation_id`` (default: the key) ties them to a case."""
        envelope = Envelope.wrap(payload, correlation_id=correlation_id or key, producer=self._producer, occurred_at=at)
        await add_event(session, self._outbox, topic=self.topic, key=key, envelope=envelope)
        return envelope

    async def emit_all(
        self, session: AsyncSession, items: Sequence[tuple[EventPayload, str, datetime, str | None]]
    ) -> None:
        """``emit`` for several (payload, key, at, correlation id or None for the key) with one statement, in order."""
        await add_events(
            session,
            self._outbox,
            topic=self.topic,
            keyed=[
                (key, Envelope.wrap(p, correlation_id=cid or key, producer=self._producer, occurred_at=at))
                for p, key, at, cid in items
            ],
        )
