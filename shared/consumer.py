"""Consuming events: parse, drop redeliveries through the inbox, run the handler, dead-letter what can't be done.

One ``EventConsumer`` per service and topic. Its handlers run inside the same transaction that records the
event in the inbox; the Kafka offset is committed only after that transaction (or the dead-letter publish).
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import metrics
from shared.events import BadEvent, Envelope, EventPayload, decode
from shared.outbox import claim_inbox
from shared.topics import Topics

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Envelope, Any], Awaitable[None]]


class PermanentError(Exception):
    """A handler's verdict that this event can never be applied (e.g. it names a case that does not exist)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Record:
    """The parts of a Kafka record the consumer needs, so the logic is testable without a broker."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


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


def _is_transient(exc: BaseException) -> bool:
    """Errors of the infrastructure, not of the event: retry without limit until the database is back."""
    if isinstance(exc, (OperationalError, InterfaceError, OSError, TimeoutError)):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


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
    ) -> None:
        self.service = service
        self._sessions = sessions
        self._inbox = inbox
        self._dead_letters = dead_letters
        self._handlers = {model.event_type: fn for model, fn in handlers.items()}
        self._max_retries = max_retries
        self._retry_base = retry_base_seconds

    async def process(self, record: Record) -> str:
        """Apply one record. Returns the outcome; raises only when cancelled."""
        event_type = "unknown"
        try:
            envelope = decode(record.value)
            event_type = envelope.event_type
            payload = envelope.open()
        except BadEvent as bad:
            await self._dead_letters.send(record, reason=bad.reason, detail=bad.detail)
            return self._count(record, event_type, "dead_lettered")
        handler = self._handlers.get(envelope.event_type)
        if handler is None:
            return self._count(record, event_type, "ignored")

        failures = 0
        while True:
            try:
                applied = await self._apply(envelope, payload, handler)
                return self._count(record, event_type, "processed" if applied else "duplicate")
            except asyncio.CancelledError:
                raise
            except PermanentError as err:
                await self._dead_letters.send(record, reason=err.reason, detail=err.detail)
                return self._count(record, event_type, "dead_lettered")
            except Exception as exc:
                transient = _is_transient(exc)
                metrics.EVENT_HANDLER_RETRIES.labels(
                    self.service, record.topic, "transient" if transient else "error"
                ).inc()
                if not transient:
                    failures += 1
                    if failures >= self._max_retries:
                        detail = "".join(traceback.format_exception_only(exc)).strip()
                        await self._dead_letters.send(record, reason="handler_error", detail=detail)
                        return self._count(record, event_type, "dead_lettered")
                log.warning(
                    "handler failed, retrying",
                    extra={"event_type": event_type, "transient": transient, "error": repr(exc)[:300]},
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
