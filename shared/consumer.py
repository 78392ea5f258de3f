"""Consuming events: parse, drop redeliveries through the inbox, run the handler, dead-letter what can't be done.

One ``EventConsumer`` per service and topic. Its handlers run inside the same transaction that records the
event in the inbox; the Kafka offset is committed only after that transaction (or the dead-letter publish).

``process_batch`` applies what one poll brought of a partition in one transaction: one inbox statement, the handlers
in the partition's order, one commit. A commit is the dearest step of an event (a WAL flush), so a service catching
up pays it once per batch instead of once per event. When anything in the batch fails, the transaction is rolled
back and the same records are applied one by one as ``process`` does (retries, waits, the dead letter): a poison
event is dead-lettered alone, its neighbours apply once, and the order within the partition is kept.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import logging as json_logging
from shared import metrics
from shared.errors import Refused
from shared.events import BadEvent, Envelope, EventPayload, decode
from shared.outbox import claim_inbox, claim_inbox_many
from shared.topics import Topics

log = logging.getLogger(__name__)
_ROOT = str(Path(__file__).resolve().parents[1])  # the project's code, to name where a handler failed

Handler = Callable[[AsyncSession, Envelope, Any], Awaitable[None]]


class PermanentError(Exception):
    """A handler's verdict that this event can never be applied (e.g. it names a case that does not exist)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class NotYet(PermanentError):
    """The event rests on a fact that travels on another topic and has not been applied yet (a verdict that
    overtook its case's CaseOpened while that topic's consumer catches up). Retried for ``wait_seconds`` of the
    consumer, then dead-lettered with its reason like a ``PermanentError``."""


@dataclass(frozen=True, slots=True)
class Record:
    """The parts of a Kafka record the consumer needs, so the logic is testable without a broker."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class _Ready:
    """A record opened and found to have a handler."""

    record: Record
    event_type: str
    envelope: Envelope
    payload: EventPayload
    handler: Handler

    def context(self) -> dict[str, Any]:
        return {
            "event_id": str(self.envelope.event_id),
            "correlation_id": self.envelope.correlation_id,
            "event_type": self.event_type,
            "case_id": getattr(self.payload, "case_id", None),
        }


class DeadLetters:
    """Publishes unprocessable messages to ``<topic>.dlq`` with the reason in headers; the value is kept intact."""

    def __init__(self, *, service: str, producer: Any) -> None:
        self.service = service
        self._producer = producer

    async def send(self, record: Record, *, reason: str, detail: str) -> None:
        headers = [
            ("dlq.reason", reason.encode()),
            ("dlq.error", detail[:2000].encode()),
            ("dlq.consumer", self.service.encode()),
            ("dlq.original", f"{record.topic}/{record.partition}/{record.offset}".encode()),
        ]
        await self._producer.send_and_wait(
            Topics.dlq(record.topic), value=record.value or b"", key=record.key, headers=headers
        )
        metrics.DEAD_LETTERS.labels(self.service, record.topic, reason).inc()
        log.warning(
            "dead-lettered message",
            extra={
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "reason": reason,
                "detail": detail[:300],
            },
        )


def describe(exc: BaseException) -> str:
    """What failed and where, never what it failed on: a database error's text quotes the statement's parameters
    (a report's description, a resident's name or phone), and neither a dead letter's headers nor the log may repeat
    them. The dead letter keeps the message itself, so the failure can be replayed where it is safe to look."""
    kinds = [type(exc).__name__]
    orig = getattr(exc, "orig", None)  # the driver's error under SQLAlchemy's
    if orig is not None:
        kinds.append(type(orig.__cause__ or orig).__name__)
        if sqlstate := getattr(orig, "sqlstate", None):
            kinds.append(f"SQLSTATE {sqlstate}")
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f.filename.startswith(_ROOT) and "site-packages" not in f.filename] or frames
    where = f" at {Path(ours[-1].filename).name}:{ours[-1].lineno} in {ours[-1].name}" if ours else ""
    return " / ".join(kinds) + where


# SQLSTATEs of a database going away, starting up or out of connections (08, 53, 57P01-03), and of a transaction that
# lost a race (40001 serialization, 40P01 deadlock): the same event succeeds later. asyncpg's errors for a server
# shutting down or recovering from a crash (57P03 "the database system is starting up") reach SQLAlchemy as plain
# DBAPIError, not OperationalError.
_TRANSIENT_SQLSTATES = ("08", "53", "57P01", "57P02", "57P03", "40001", "40P01")


def _is_transient(exc: BaseException) -> bool:
    """Errors of the infrastructure, not of the event: retry without limit until the database is back."""
    if isinstance(exc, (OperationalError, InterfaceError, OSError, TimeoutError)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    orig = getattr(exc, "orig", None)
    for err in (exc, orig, getattr(orig, "__cause__", None)):
        state = getattr(err, "sqlstate", None)
        if isinstance(state, str) and state.startswith(_TRANSIENT_SQLSTATES):
            return True
    return False


class EventConsumer:
    def __init__(
        self,
        *,
        service: str,
        sessions: async_sessionmaker[AsyncSession],
        inbox: Table,
        dead_letters: DeadLetters,
        handlers: Mapping[type[EventPayload], Handler],
        max_retries: int = 5,
        retry_base_seconds: float = 0.2,
        wait_seconds: float = 300.0,
    ) -> None:
        self.service = service
        self._sessions = sessions
        self._inbox = inbox
        self._dead_letters = dead_letters
        self._handlers = {model.event_type: fn for model, fn in handlers.items()}
        self._max_retries = max_retries
        self._retry_base = retry_base_seconds
        self._wait = wait_seconds

    async def process(self, record: Record) -> str:
        """Apply one record. Returns the outcome; raises only when cancelled."""
        opened = await self._open(record)
        if isinstance(opened, str):
            return opened
        return await self._one(opened)

    async def process_batch(self, records: Sequence[Record]) -> list[str]:
        """Apply records of one partition, in their order, in one transaction; one by one (``process``) if any of
        them fails. Returns each record's outcome; raises only when cancelled."""
        outcomes: dict[int, str] = {}
        ready: list[tuple[int, _Ready]] = []
        for i, record in enumerate(records):
            opened = await self._open(record)
            if isinstance(opened, str):
                outcomes[i] = opened
            else:
                ready.append((i, opened))
        if len(ready) == 1:
            i, item = ready[0]
            outcomes[i] = await self._one(item)
        elif ready:
            metrics.CONSUMER_BATCH_SIZE.labels(self.service, records[0].topic).observe(len(ready))
            try:
                applied = await self._apply_all([item for _, item in ready])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                metrics.CONSUMER_BATCH_FALLBACKS.labels(self.service, records[0].topic).inc()
                log.info(
                    "batch not applied whole; applying its events one by one",
                    extra={"events": len(ready), "error": describe(exc)},
                )
                for i, item in ready:
                    outcomes[i] = await self._one(item)
            else:
                for (i, item), fresh in zip(ready, applied, strict=True):
                    outcomes[i] = self._count(item.record, item.event_type, "processed" if fresh else "duplicate")
        return [outcomes[i] for i in range(len(records))]

    async def _open(self, record: Record) -> _Ready | str:
        """The record's event and handler, or its outcome when there is nothing to apply (dead-lettered, ignored)."""
        event_type = "unknown"
        try:
            envelope = decode(record.value)
            if envelope.event_type in EventPayload.registry:  # a label is a bounded set: never the sender's text
                event_type = envelope.event_type
            payload = envelope.open()
        except BadEvent as bad:
            await self._dead_letters.send(record, reason=bad.reason, detail=bad.detail)
            return self._count(record, event_type, "dead_lettered")
        handler = self._handlers.get(envelope.event_type)
        if handler is None:
            return self._count(record, event_type, "ignored")
        return _Ready(record, event_type, envelope, payload, handler)

    async def _one(self, item: _Ready) -> str:
        with json_logging.bound(**item.context()):
            return await self._retrying(item.record, item.event_type, item.envelope, item.payload, item.handler)

    async def _apply_all(self, items: Sequence[_Ready]) -> list[bool]:
        """Claim every event in the inbox with one statement, then run the handlers of those not seen before, in
        order, in the same transaction. A second copy of an event within the batch is a duplicate too."""
        async with self._sessions() as session, session.begin():
            fresh = await claim_inbox_many(
                session, self._inbox, consumer=self.service, envelopes=[i.envelope for i in items]
            )
            applied: list[bool] = []
            for item in items:
                if item.envelope.event_id not in fresh:
                    applied.append(False)
                    continue
                fresh.discard(item.envelope.event_id)
                with json_logging.bound(**item.context()):
                    await item.handler(session, item.envelope, item.payload)
                applied.append(True)
                # Each handler sees the database as the ones before it left it, as it would in a transaction of its
                # own: some write with bulk UPDATEs that do not refresh objects still held in the session.
                await session.flush()
                session.expire_all()
            return applied

    async def _retrying(
        self, record: Record, event_type: str, envelope: Envelope, payload: EventPayload, handler: Handler
    ) -> str:
        failures = 0
        waiting_since: float | None = None
        while True:
            try:
                applied = await self._apply(envelope, payload, handler)
                return self._count(record, event_type, "processed" if applied else "duplicate")
            except asyncio.CancelledError:
                raise
            except NotYet as err:
                now = time.monotonic()
                waiting_since = now if waiting_since is None else waiting_since
                if now - waiting_since < self._wait:
                    metrics.EVENT_HANDLER_RETRIES.labels(self.service, record.topic, "not_yet").inc()
                    await asyncio.sleep(min(5.0, self._retry_base * 2 ** min(int(now - waiting_since), 5)))
                    continue
                await self._dead_letters.send(record, reason=err.reason, detail=err.detail)
                return self._count(record, event_type, "dead_lettered")
            except PermanentError as err:
                await self._dead_letters.send(record, reason=err.reason, detail=err.detail)
                return self._count(record, event_type, "dead_lettered")
            except Refused as refused:
                # A use case's refusal (shared.errors) answers the same however often the event is applied.
                await self._dead_letters.send(record, reason=refused.code, detail=refused.message)
                return self._count(record, event_type, "dead_lettered")
            except Exception as exc:
                transient = _is_transient(exc)
                metrics.EVENT_HANDLER_RETRIES.labels(
                    self.service, record.topic, "transient" if transient else "error"
                ).inc()
                if not transient:
                    failures += 1
                    if failures >= self._max_retries:
                        await self._dead_letters.send(record, reason="handler_error", detail=describe(exc))
                        return self._count(record, event_type, "dead_lettered")
                log.warning(
                    "handler failed, retrying",
                    extra={"event_type": event_type, "transient": transient, "error": describe(exc)},
                )
                await asyncio.sleep(min(5.0, self._retry_base * 2 ** min(failures, 5)))

    async def _apply(self, envelope: Envelope, payload: EventPayload, handler: Handler) -> bool:
        async with self._sessions() as session, session.begin():
            if not await claim_inbox(session, self._inbox, consumer=self.service, envelope=envelope):
                return False
            await handler(session, envelope, payload)
            return True

    def _count(self, record: Record, event_type: str, outcome: str) -> str:
        metrics.EVENTS_CONSUMED.labels(self.service, record.topic, event_type, outcome).inc()
        return outcome
