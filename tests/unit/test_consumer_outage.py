"""A database restart must never dead-letter good events: the errors PostgreSQL gives while it shuts down, recovers
from a crash or starts up reach SQLAlchemy as plain DBAPIError (not OperationalError), and are retried without limit.

Found by the chaos run (``python -m deploy.chaos``): after an immediate shutdown of PostgreSQL every consumer
dead-lettered the events it was applying with ``CannotConnectNowError / SQLSTATE 57P03`` after five tries.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection, dialect
from sqlalchemy.exc import DBAPIError

from shared import consumer as consumer_module
from shared.consumer import DeadLetters, EventConsumer, Record
from shared.contracts.common import Satisfaction
from shared.contracts.followup import CaseClosed
from shared.events import Envelope

pytestmark = pytest.mark.unit

DBAPI = dialect.import_dbapi()


def as_sqlalchemy_raises_it(pg_error: Exception) -> DBAPIError:
    """The error a statement raises when asyncpg raised ``pg_error``: translated by the asyncpg dialect, then wrapped
    by SQLAlchemy, exactly as on a real connection."""
    try:
        AsyncAdapt_asyncpg_connection._handle_exception_no_connection(DBAPI, pg_error)
    except Exception as translated:
        return DBAPIError.instance("SELECT 1", {}, translated, DBAPI.Error)
    raise AssertionError("not translated")


@pytest.mark.parametrize(
    "pg_error",
    [
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.exceptions.CrashShutdownError("terminating connection because of crash of another server process"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
        asyncpg.exceptions.SerializationError("could not serialize access"),
    ],
)
def test_errors_of_a_database_going_away_or_coming_back_are_transient(pg_error: Exception) -> None:
    err = as_sqlalchemy_raises_it(pg_error)
    assert type(err) is DBAPIError  # not an OperationalError: the class alone does not tell
    assert consumer_module._is_transient(err)


@pytest.mark.parametrize(
    "pg_error",
    [
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        asyncpg.exceptions.UndefinedColumnError("column does not exist"),
        asyncpg.exceptions.DataError("invalid input"),
    ],
)
def test_errors_of_the_event_or_the_code_are_not(pg_error: Exception) -> None:
    assert not consumer_module._is_transient(as_sqlalchemy_raises_it(pg_error))


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_and_wait(self, topic: str, **_: Any) -> None:
        self.sent.append(topic)


class FakeSession:
    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[None]:
        yield


@contextlib.asynccontextmanager
async def sessions() -> AsyncIterator[FakeSession]:
    yield FakeSession()


async def test_a_database_starting_up_is_waited_for_beyond_the_retry_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    async def claimed(*_: Any, **__: Any) -> bool:
        return True

    monkeypatch.setattr(consumer_module, "claim_inbox", claimed)
    calls: list[int] = []

    async def handler(*_: Any) -> None:
        calls.append(1)
        if len(calls) < 7:  # more than max_retries: a restart must never push events to the DLQ
            raise as_sqlalchemy_raises_it(
                asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
            )

    producer = FakeProducer()
    consumer = EventConsumer(
        service="dispatch",
        sessions=sessions,  # type: ignore[arg-type]
        inbox=None,  # type: ignore[arg-type]
        dead_letters=DeadLetters(service="dispatch", producer=producer),
        handlers={CaseClosed: handler},
        max_retries=2,
        retry_base_seconds=0.001,
    )
    at = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    closed = CaseClosed(case_id="C-1", round=1, min_temp_c=19, satisfaction=Satisfaction.SATISFIED, closed_at=at)
    event = Envelope.wrap(closed, correlation_id="C-1", producer="followup", occurred_at=at).encode()
    record = Record(topic="t.followup", partition=0, offset=1, key=b"C-1", value=event)
    assert await consumer.process(record) == "processed"
    assert len(calls) == 7 and producer.sent == []
