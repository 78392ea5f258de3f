"""Durable timers: deadlines are rows; any number of replicas fire them exactly once.

A timer is (kind, ref, due_at). ``TimerEngine`` claims due rows with ``FOR UPDATE SKIP LOCKED``, runs the
handler for the kind and marks the row fired in the same transaction, so a crash before commit fires it
again later and a commit fires it never again. Time comes from an injected clock.
"""

from __future__ import annotations

import functools
import json
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    Text,
    TextClause,
    UniqueConstraint,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import logging as json_logging
from shared import metrics
from shared.clock import TimeSource
from shared.loops import poll_forever

log = logging.getLogger(__name__)

TimerHandler = Callable[[AsyncSession, Row[Any], datetime], Awaitable[None]]
# Fires many timers of one kind in one go (a few statements for the whole batch instead of a few per row).
BatchTimerHandler = Callable[[AsyncSession, list[Row[Any]], datetime], Awaitable[None]]


def timers_table(metadata: MetaData) -> Table:
    return Table(
        "timers",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("kind", String(40), nullable=False),
        Column("ref", String(80), nullable=False),
        Column("due_at", DateTime(timezone=True), nullable=False),
        Column("payload", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("attempts", Integer, nullable=False, server_default=text("0")),
        Column("last_error", Text, nullable=True),
        Column("fired_at", DateTime(timezone=True), nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        UniqueConstraint("kind", "ref", name="uq_timers_kind_ref"),
        Index("ix_timers_due", "due_at", postgresql_where=text("fired_at IS NULL")),
    )


async def schedule(
    session: AsyncSession,
    timers: Table,
    *,
    kind: str,
    ref: str,
    due_at: datetime,
    payload: dict[str, Any] | None = None,
) -> None:
    """Set (or move) the one timer of ``kind`` for ``ref``; a moved timer is armed again."""
    values = {"kind": kind, "ref": ref, "due_at": due_at, "payload": payload or {}}
    await session.execute(
        insert(timers)
        .values(**values)
        .on_conflict_do_update(
            constraint="uq_timers_kind_ref",
            set_={"due_at": due_at, "payload": payload or {}, "fired_at": None, "attempts": 0, "last_error": None},
        )
    )


@functools.cache
def _schedule_rows(table: str) -> TextClause:
    """``schedule_many``'s one statement: the rows as arrays, one prepared statement whatever their number."""
    return text(
        f"""
        INSERT INTO {table} (kind, ref, due_at, payload)
        SELECT * FROM unnest(CAST(:kinds AS varchar[]), CAST(:refs AS varchar[]), CAST(:dues AS timestamptz[]),
                             CAST(:payloads AS jsonb[]))
        ON CONFLICT ON CONSTRAINT uq_timers_kind_ref DO UPDATE
           SET due_at = EXCLUDED.due_at, payload = EXCLUDED.payload, fired_at = NULL, attempts = 0, last_error = NULL
        """
    )


async def schedule_many(session: AsyncSession, timers: Table, rows: list[dict[str, Any]]) -> None:
    """``schedule`` for many timers (dicts with kind, ref, due_at, payload) in one statement and one round trip. A
    timer named twice is set to the last of its rows, as one ``schedule`` after another would leave it."""
    if not rows:
        return
    last = {(r["kind"], r["ref"]): r for r in rows}.values()
    await session.execute(
        _schedule_rows(timers.name),
        {
            "kinds": [r["kind"] for r in last],
            "refs": [r["ref"] for r in last],
            "dues": [r["due_at"] for r in last],
            "payloads": [json.dumps(r.get("payload") or {}, ensure_ascii=False) for r in last],
        },
    )


async def cancel(session: AsyncSession, timers: Table, *, ref: str, kinds: Iterable[str]) -> None:
    """Disarm timers of ``ref`` that have not fired (e.g. the unit signed in before the deadline).

    A timer an engine is firing right now is locked: it is skipped, not waited for. The caller holds the row the
    timer is about (the assignment) and the engine waits for that row, so waiting here would deadlock; the
    engine then finds the clock stopped and fires nothing.
    """
    claimable = (
        select(timers.c.id)
        .where(timers.c.kind.in_(list(kinds)), timers.c.ref == ref, timers.c.fired_at.is_(None))
        .with_for_update(skip_locked=True)
    )
    await session.execute(delete(timers).where(timers.c.id.in_(claimable.scalar_subquery())))


class TimerEngine:
    def __init__(
        self,
        *,
        service: str,
        sessions: async_sessionmaker[AsyncSession],
        timers: Table,
        handlers: Mapping[str, TimerHandler] | None = None,
        batch_handlers: Mapping[str, BatchTimerHandler] | None = None,
        clock: TimeSource,
        batch_size: int = 200,
        poll_seconds: float = 0.5,
        retry_after: timedelta = timedelta(seconds=30),
    ) -> None:
        self.service = service
        self._sessions = sessions
        self._timers = timers
        # A per-row handler is what a failing batch falls back to, row by row, to isolate the bad one.
        self._batch_handlers = dict(batch_handlers or {})
        self._handlers: dict[str, TimerHandler] = dict(handlers or {})
        for kind, batch in self._batch_handlers.items():
            self._handlers.setdefault(kind, _one_at_a_time(batch))
        self._clock = clock
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._retry_after = retry_after

    async def run(self, gauges_every: float = 15.0) -> None:
        last_gauges = 0.0

        async def step() -> bool:
            nonlocal last_gauges
            fired = await self.run_once()
            if time.monotonic() - last_gauges > gauges_every:
                last_gauges = time.monotonic()
                await self.refresh_gauges()
            return fired >= self._batch_size  # a full batch: more may be due

        await poll_forever(step, name="timers", service=self.service, idle=self._poll_seconds)

    async def run_once(self) -> int:
        """Claim and fire one batch of due timers. Returns how many fired."""
        now = self._clock.now()
        t = self._timers
        async with self._sessions() as session, session.begin():
            rows = (
                await session.execute(
                    select(t)
                    .where(t.c.fired_at.is_(None), t.c.due_at <= now)
                    .order_by(t.c.due_at)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            fired: list[Row[Any]] = []
            by_kind: dict[str, list[Row[Any]]] = {}
            for row in rows:
                by_kind.setdefault(row.kind, []).append(row)
            singles: list[Row[Any]] = []
            for kind, group in by_kind.items():
                batch = self._batch_handlers.get(kind)
                if batch is None or len(group) == 1:
                    singles += group
                    continue
                try:
                    async with session.begin_nested():
                        await batch(session, group, now)
                    fired += group
                except Exception:
                    log.warning("timer batch failed; firing its rows one by one", extra={"kind": kind}, exc_info=True)
                    singles += group
            for row in singles:
                handler = self._handlers.get(row.kind)
                try:
                    if handler is None:
                        raise LookupError(f"no handler for timer kind {row.kind!r}")
                    async with session.begin_nested():
                        with json_logging.bound(timer_kind=row.kind, timer_ref=row.ref):
                            await handler(session, row, now)
                except Exception as exc:
                    metrics.TIMER_FAILURES.labels(self.service, row.kind).inc()
                    log.warning("timer handler failed", extra={"kind": row.kind, "ref": row.ref, "error": repr(exc)})
                    await session.execute(
                        update(t)
                        .where(t.c.id == row.id)
                        .values(
                            attempts=t.c.attempts + 1,
                            last_error="".join(traceback.format_exception_only(exc))[:2000],
                            due_at=now + self._retry_after,
                        )
                    )
                    continue
                fired.append(row)
            if fired:
                await session.execute(update(t).where(t.c.id.in_([r.id for r in fired])).values(fired_at=now))
        for row in fired:
            metrics.TIMERS_FIRED.labels(self.service, row.kind).inc()
            metrics.TIMER_LATENESS.labels(self.service, row.kind).observe(max(0.0, (now - row.due_at).total_seconds()))
        return len(fired)

    async def refresh_gauges(self) -> None:
        t = self._timers
        now = self._clock.now()
        async with self._sessions() as session:
            pending = (
                await session.execute(select(t.c.kind, func.count()).where(t.c.fired_at.is_(None)).group_by(t.c.kind))
            ).all()
            overdue = await session.scalar(
                select(func.count()).select_from(t).where(t.c.fired_at.is_(None), t.c.due_at <= now)
            )
        for kind in self._handlers:
            metrics.TIMERS_PENDING.labels(self.service, kind).set(0)
        for kind, count in pending:
            metrics.TIMERS_PENDING.labels(self.service, kind).set(count)
        metrics.TIMERS_OVERDUE.labels(self.service).set(overdue or 0)


def _one_at_a_time(batch: BatchTimerHandler) -> TimerHandler:
    async def handle(session: AsyncSession, row: Row[Any], now: datetime) -> None:
        await batch(session, [row], now)

    return handle
