"""EventConsumer's decisions, with fakes for the database and the dead-letter producer."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.exc import DBAPIError, OperationalError

from shared import consumer as consumer_module
from shared.consumer import DeadLetters, EventConsumer, NotYet, PermanentError, Record, describe
from shared.contracts.common import Satisfaction
from shared.contracts.followup import CaseClosed, CaseReopened
from shared.events import Envelope

AT = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


INBOX: set[str] = set()


class FakeSession:
    """Rolls back what it claimed in the inbox when the transaction fails, as PostgreSQL would."""

    def __init__(self) -> None:
        self.claimed: list[str] = []

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[None]:
        try:
            yield
        except BaseException:
            INBOX.difference_update(self.claimed)
            raise


@contextlib.asynccontextmanager
async def sessions() -> AsyncIterator[FakeSession]:
    yield FakeSession()


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, list[tuple[str, bytes]]]] = []

    async def send_and_wait(self, topic: str, *, value: bytes, key: bytes | None, headers: Any) -> None:
        self.sent.append((topic, value, headers))


def record(value: bytes | None) -> Record:
    return Record(topic="t.followup", partition=0, offset=7, key=b"C-1", value=value)


def closed_event() -> bytes:
    return Envelope.wrap(
        CaseClosed(case_id="C-1", round=1, min_temp_c=19, satisfaction=Satisfaction.SATISFIED, closed_at=AT),
        correlation_id="C-1",
        producer="followup",
        occurred_at=AT,
    ).encode()


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    INBOX.clear()

    async def claim(session: FakeSession, _inbox: Any, *, consumer: str, envelope: Envelope) -> bool:
        key = f"{consumer}:{envelope.event_id}"
        if key in INBOX:
            return False
        INBOX.add(key)
        session.claimed.append(key)
        return True

    monkeypatch.setattr(consumer_module, "claim_inbox", claim)
    return INBOX


def make(handler: Any, producer: FakeProducer, *, max_retries: int = 3, wait_seconds: float = 300) -> EventConsumer:
    return EventConsumer(
        service="dispatch",
        sessions=sessions,
        inbox=None,  # type: ignore[arg-type]
        dead_letters=DeadLetters(service="dispatch", producer=producer),
        handlers={CaseClosed: handler},
        max_retries=max_retries,
        retry_base_seconds=0.001,
        wait_seconds=wait_seconds,
    )


async def test_processed_once_then_duplicate(seen: set[str]) -> None:
    calls: list[CaseClosed] = []

    async def handler(_s: Any, _e: Envelope, event: CaseClosed) -> None:
        calls.append(event)

    c, raw = make(handler, FakeProducer()), closed_event()
    assert await c.process(record(raw)) == "processed"
    assert await c.process(record(raw)) == "duplicate"
    assert len(calls) == 1


async def test_malformed_goes_to_dlq_with_reason(seen: set[str]) -> None:
    producer = FakeProducer()

    async def handler(*_: Any) -> None:
        raise AssertionError("must not be called")

    assert await make(handler, producer).process(record(b"\x00garbage")) == "dead_lettered"
    topic, value, headers = producer.sent[0]
    assert topic == "t.followup.dlq" and value == b"\x00garbage"
    assert dict(headers)["dlq.reason"] == b"malformed"
    assert dict(headers)["dlq.original"] == b"t.followup/0/7"


async def test_event_types_without_handler_are_ignored(seen: set[str]) -> None:
    raw = Envelope.wrap(
        CaseReopened(case_id="C-1", round=1, reason="too_cold", min_temp_c=15, satisfaction=None, reopened_at=AT),
        correlation_id="C-1",
        producer="followup",
        occurred_at=AT,
    ).encode()

    async def handler(*_: Any) -> None:
        raise AssertionError("must not be called")

    assert await make(handler, FakeProducer()).process(record(raw)) == "ignored"


async def test_permanent_error_is_dead_lettered_at_once(seen: set[str]) -> None:
    producer, calls = FakeProducer(), []

    async def handler(*_: Any) -> None:
        calls.append(1)
        raise PermanentError("unknown_case", "C-1")

    assert await make(handler, producer).process(record(closed_event())) == "dead_lettered"
    assert len(calls) == 1 and dict(producer.sent[0][2])["dlq.reason"] == b"unknown_case"


async def test_an_event_that_overtook_its_fact_waits_for_it_beyond_the_retry_budget(seen: set[str]) -> None:
    producer, calls = FakeProducer(), []

    async def handler(*_: Any) -> None:
        calls.append(1)
        if len(calls) < 8:  # more than max_retries: waiting is not failing
            raise NotYet("unknown_case", "not yet")

    assert await make(handler, producer, max_retries=3).process(record(closed_event())) == "processed"
    assert len(calls) == 8 and not producer.sent


async def test_an_event_whose_fact_never_comes_is_dead_lettered_after_the_wait(seen: set[str]) -> None:
    producer, calls = FakeProducer(), []

    async def handler(*_: Any) -> None:
        calls.append(1)
        raise NotYet("unknown_case", "not yet")

    assert await make(handler, producer, wait_seconds=0.05).process(record(closed_event())) == "dead_lettered"
    assert len(calls) >= 2 and dict(producer.sent[0][2])["dlq.reason"] == b"unknown_case"


async def test_a_failing_handler_is_retried_then_dead_lettered(seen: set[str]) -> None:
    producer, calls = FakeProducer(), []

    async def handler(*_: Any) -> None:
        calls.append(1)
        raise RuntimeError("bug")

    assert await make(handler, producer, max_retries=3).process(record(closed_event())) == "dead_lettered"
    assert len(calls) == 3 and dict(producer.sent[0][2])["dlq.reason"] == b"handler_error"


async def test_database_outage_is_retried_without_limit(seen: set[str]) -> None:
    calls = []

    async def handler(*_: Any) -> None:
        calls.append(1)
        if len(calls) < 6:  # more than max_retries: an outage must never push events to the DLQ
            raise OperationalError("select 1", {}, ConnectionRefusedError())

    producer = FakeProducer()
    assert await make(handler, producer, max_retries=2).process(record(closed_event())) == "processed"
    assert len(calls) == 6 and producer.sent == []


def consumed(event_type: str) -> float:
    labels = {"service": "dispatch", "topic": "t.followup", "event_type": event_type, "outcome": "dead_lettered"}
    return REGISTRY.get_sample_value("events_consumed_total", labels) or 0.0


async def test_an_unknown_event_type_is_neither_a_label_nor_echoed_in_the_dead_letter(seen: set[str]) -> None:
    producer, forged = FakeProducer(), "Resident_13912345678_王秀英"
    doc = json.loads(closed_event())
    raw = json.dumps(doc | {"event_type": forged}, ensure_ascii=False).encode()
    before = consumed("unknown")

    async def handler(*_: Any) -> None:
        raise AssertionError("must not be called")

    assert await make(handler, producer).process(record(raw)) == "dead_lettered"
    [(_, value, headers)] = producer.sent
    assert value == raw and dict(headers)["dlq.reason"] == b"unknown_event_type"
    assert all(b"13912345678" not in v and forged.encode() not in v for _, v in headers)
    assert consumed("unknown") == before + 1 and consumed(forged) == 0.0


async def test_a_handler_error_is_described_without_the_values_it_failed_on(seen: set[str]) -> None:
    producer = FakeProducer()

    async def handler(*_: Any) -> None:
        # What SQLAlchemy raises for a value PostgreSQL refuses: its text quotes the statement's parameters.
        raise DBAPIError("INSERT INTO timeline …", ("来电人王秀英，电话13912345678\x00",), ValueError("NUL"))

    assert await make(handler, producer, max_retries=2).process(record(closed_event())) == "dead_lettered"
    headers = dict(producer.sent[0][2])
    assert headers["dlq.reason"] == b"handler_error"
    error = headers["dlq.error"].decode()
    assert error.startswith("DBAPIError / ValueError at test_consumer.py:") and "in handler" in error
    assert "13912345678" not in error and "王秀英" not in error and "INSERT" not in error
    assert "13912345678" not in describe(RuntimeError("13912345678"))
