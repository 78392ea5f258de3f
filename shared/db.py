"""Async SQLAlchemy engine and session factory. Nothing connects at import time."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import MetaData, event
from sqlalchemy.exc import DBAPIError, InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, SessionTransaction

log = logging.getLogger(__name__)
T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


# A connection that has lain in the pool longer than this is tested as it leaves it; one used more recently is handed
# out as it is. With asyncpg a test is three round trips (BEGIN, a ping, ROLLBACK): made on every checkout, as
# SQLAlchemy's pool_pre_ping does, it was the most frequent statement a busy service sent (dispatch in the loop
# benchmark: 57 checkouts a second, each one BEGIN, ping, ROLLBACK).
PING_IDLE_SECONDS = 1.0
_LAST_USED = "heat_last_checkin"


def create_engine(
    url: str, *, pool_size: int = 10, pre_ping: bool = True, ping_idle_seconds: float = PING_IDLE_SECONDS
) -> AsyncEngine:
    """``pre_ping``: a connection idle in the pool for more than ``ping_idle_seconds`` is tested as it leaves it,
    and replaced if the database has gone away under it (a restart, a failover: they take longer than that, so every
    connection they broke is tested). The pool hands out the most recently used connection first, so a busy
    service's connections are not tested and a quiet one's are. A connection broken within the last second (or any,
    without ``pre_ping``) fails the one transaction that meets it: a request answers 503 to resend
    (shared.errors), a consumer applies its batch again, and the pool renews every connection as old as it.

    ``pool_size``: connections kept open, twice the setting (``db_pool_size``), none beyond (no overflow). An overflow
    connection is closed as it is returned, so a service busy past the kept ones opened a connection per
    transaction: a new PostgreSQL backend, the driver's type setup and every statement prepared again (the loop
    benchmark at 20 reports/s opened one to two a second per service). The ceiling is the one the overflow gave;
    a transaction past it waits for a connection (``pool_timeout``, 30 s) as it did.

    ``hide_parameters``: a failed statement's error names the SQL but not its values, so a traceback in a log or a
    dead letter's ``dlq.error`` never carries a resident's name, phone number or free text."""
    engine = create_async_engine(url, pool_size=2 * pool_size, max_overflow=0, pool_use_lifo=True, hide_parameters=True)
    if pre_ping:
        _ping_when_idle(engine, ping_idle_seconds)
    return engine


def _ping_when_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    dialect = engine.sync_engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        last = record.info.get(_LAST_USED)  # none: connected just now
        if last is None or time.monotonic() - last <= idle_seconds:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:
            if dialect.is_disconnect(exc, dbapi_connection, None):  # type: ignore[arg-type]
                # The pool closes this connection and hands out another (connecting anew), and renews every
                # connection as old as this one, as pool_pre_ping does: a restart broke them all.
                raise InvalidatePoolError("the connection was lost while it lay in the pool") from exc
            raise


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


# A transaction that lost a race (deadlock, serialization failure): the same work succeeds when done again.
RACE_SQLSTATES = ("40P01", "40001")


def lost_a_race(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", None)
    return any(
        getattr(err, "sqlstate", None) in RACE_SQLSTATES for err in (exc, orig, getattr(orig, "__cause__", None))
    )


async def retry_races(session: AsyncSession, work: Callable[[], Awaitable[T]], *, attempts: int = 3) -> T:
    """Run ``work`` in a savepoint of the caller's transaction; when PostgreSQL picks it as a deadlock's victim,
    roll back to the savepoint (releasing what it locked) and run it again, up to ``attempts`` times. For request
    handlers whose lock order cannot be made the same as every other writer's (a sensor batch raises alarms that
    join incidents a closing case holds)."""
    for attempt in range(1, attempts + 1):
        try:
            async with session.begin_nested():
                return await work()
        except DBAPIError as exc:
            if attempt == attempts or not lost_a_race(exc):
                raise
            log.warning("lost a lock race; trying again", extra={"attempt": attempt})
    raise AssertionError("unreachable")


# -- after commit ----------------------------------------------------------------------------------

_PENDING = "after_commit"
_MEMO = "transaction_memo"  # once_per_transaction
_ROLLED_BACK = "after_commit_rolled_back"


def after_commit(session: AsyncSession, action: Callable[..., Any], *args: Any) -> None:
    """Run ``action(*args)`` once the session's transaction commits; drop it if the transaction — or the
    savepoint it was registered in — rolls back. For what must echo only a committed fact: a metric bumped inside a
    transaction that then fails (or a handler retried after a rollback) would count what never happened."""
    sync = session.sync_session
    tx = sync.get_nested_transaction() or sync.get_transaction()
    sync.info.setdefault(_PENDING, []).append((tx, functools.partial(action, *args)))


def _rolled_back(tx: SessionTransaction | None, dropped: list[SessionTransaction]) -> bool:
    while tx is not None:
        if any(tx is d for d in dropped):
            return True
        tx = tx.parent
    return False


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    dropped: list[SessionTransaction] = session.info.pop(_ROLLED_BACK, [])
    for tx, action in session.info.pop(_PENDING, []):
        if _rolled_back(tx, dropped):
            continue
        try:
            action()
        except Exception:  # a metric (or any such echo) must never break a committed transaction
            log.warning("after-commit action failed", exc_info=True)


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_rollback(session: Session, previous: SessionTransaction) -> None:
    # A savepoint rolled back may have written (and forgotten, and read again) what the memo holds.
    session.info.pop(_MEMO, None)
    if _PENDING not in session.info:
        return
    if previous.parent is None:  # the whole transaction rolled back
        session.info.pop(_PENDING, None)
        session.info.pop(_ROLLED_BACK, None)
    else:
        session.info.setdefault(_ROLLED_BACK, []).append(previous)


async def once_per_transaction(session: AsyncSession, key: object, load: Callable[[], Awaitable[T]]) -> T:
    """``load()``'s answer, read once per transaction: a consumer applying a batch of events in one transaction reads
    what every event needs alike (the rules in force, a district's weather, the calendar) once, not once per event.
    What is read once holds for the whole transaction: a change another transaction commits meanwhile (an admin
    activating rules, setting a cold snap) reaches the batch after, as if the batch had run a moment earlier; for
    settings changed by hand that is the same. A transaction that itself writes what was read calls ``forget``; the
    memo ends with the transaction and with any rollback, of a savepoint too. Keep plain values here, never ORM
    objects (the consumer expires those between events)."""
    memo: dict[object, Any] = session.sync_session.info.setdefault(_MEMO, {})
    if key not in memo:
        memo[key] = await load()
    value: T = memo[key]
    return value


def forget(session: AsyncSession, key: object | None = None) -> None:
    """Drop ``key`` from the transaction's memo (``once_per_transaction``), or the whole memo without one: the
    transaction has just written what was read (a registry load rewrites much of it)."""
    memo = session.sync_session.info.get(_MEMO)
    if memo is None:
        return
    if key is None:
        memo.clear()
    else:
        memo.pop(key, None)


@event.listens_for(Session, "after_transaction_end")
def _drop_memo(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_MEMO, None)
