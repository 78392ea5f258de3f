"""Delivery you can trust, for anything the system owes another system over HTTP: 12345 status callbacks (intake)
and notifications to units' groups, phones and systems (dispatch). One machine, reused by both.

Every message owed is a row (``DeliveryRow``'s columns) of a *stream* (the rows owed to one receiver in one order:
a 12345 order's callbacks, one notification target's messages). The job claims the due head of each stream, sends
it, and records what the receiver said:

- **At least once, in order.** Within a stream only a prefix is ever in flight: the head and, for a stream that
  takes digests, the rows right behind it (``per_stream``). A claimed row is leased by moving its next attempt past
  the HTTP timeout, so any number of replicas share the work (``FOR UPDATE SKIP LOCKED``) and a replica that died
  mid-send leaves its rows to be sent again. The receiver drops a repeat by the delivery key.
- **Retried with back-off, parked after bounded attempts.** A failed try waits base·2^(n-1) seconds (capped); after
  ``max_attempts`` tries, or at once when the receiver refused the message itself, the row is parked (``dead``)
  where an operator sees it and re-drives it. ``parked_holds_stream``: a parked row holds back the rest of its
  stream (12345's callbacks must arrive in order) or lets it pass (a group robot's next message is worth sending).
- **Rate-limited receivers** answer ``RATE_LIMITED``: the rows wait as asked without spending an attempt, and the
  stream's ``gate`` (if any) keeps the stream shut meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, TypeVar

import httpx
from sqlalchemy import BigInteger, DateTime, Integer, String, exists, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, aliased, mapped_column

from shared.clock import TimeSource
from shared.loops import poll_forever
from shared.signing import HEADER_DELIVERY, backoff_seconds, signed_headers

log = logging.getLogger(__name__)


class DeliveryState(StrEnum):
    """Where a delivery row stands."""

    PENDING = "pending"  # to be sent (again, after a failed try: its next attempt is later)
    DELIVERED = "delivered"  # acknowledged by the receiver
    DEAD = "dead"  # parked: tries ran out, or the receiver refused it, or it has nowhere to go


class Outcome(StrEnum):
    """What one try came to (not a state: a ``outcome`` label of the delivery counters)."""

    DELIVERED = "delivered"
    RATE_LIMITED = "rate_limited"  # the receiver asked us to slow down: wait as asked; no attempt spent
    REJECTED = "rejected"  # the receiver refused the message itself (bad key, bad number): parked at once
    NOT_CONFIGURED = "not_configured"  # nowhere to send it (no URL configured): parked at once
    HTTP_ERROR = "http_error"
    TIMEOUT = "timeout"
    NETWORK_ERROR = "network_error"


PARK_AT_ONCE = frozenset({Outcome.REJECTED, Outcome.NOT_CONFIGURED})


@dataclass(frozen=True)
class Sent:
    """What the receiver said to one try."""

    outcome: Outcome
    error: str | None = None
    retry_after_seconds: float | None = None  # asked for by a receiver that rate-limited us


async def post(client: httpx.AsyncClient, url: str | httpx.URL, **kwargs: Any) -> httpx.Response | Sent:
    """POST, with what the network did to it as a ``Sent`` (never raises for the network)."""
    try:
        return await client.post(url, **kwargs)
    except httpx.TimeoutException:
        return Sent(Outcome.TIMEOUT, "timed out")
    except (httpx.HTTPError, OSError) as exc:
        return Sent(Outcome.NETWORK_ERROR, type(exc).__name__)


def compact_json(payload: Any) -> bytes:
    """The JSON a receiver gets: compact, Chinese as UTF-8 (what a signature is computed over)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


async def post_json(client: httpx.AsyncClient, url: str | httpx.URL, payload: Any) -> httpx.Response | Sent:
    return await post(client, url, content=compact_json(payload), headers=JSON_HEADERS)


async def post_signed(
    client: httpx.AsyncClient, url: str, payload: Any, *, sender: str, secret: str, delivery: str
) -> httpx.Response | Sent:
    """JSON signed as the 12345 callbacks and the units' webhooks are (shared.signing), with ``X-Heat-Delivery``
    naming the delivery so the receiver drops a repeat."""
    raw = compact_json(payload)
    headers = signed_headers(sender, secret, raw) | JSON_HEADERS | {HEADER_DELIVERY: delivery}
    return await post(client, url, content=raw, headers=headers)


class DeliveryRow:
    """The columns a delivery row carries (mixed into a service's model beside its own: stream key, payload)."""

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    state: Mapped[str] = mapped_column(String(12), default=DeliveryState.PENDING)  # a DeliveryState
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class Policy:
    timeout_seconds: float = 5.0
    max_attempts: int = 10
    backoff_base_seconds: float = 2.0
    backoff_cap_seconds: float = 600.0
    poll_seconds: float = 1.0
    streams_per_round: int = 50  # streams whose heads one round claims
    per_stream: int = 1  # rows one send carries: 1, or more for a stream that takes digests
    parked_holds_stream: bool = True


R = TypeVar("R", bound=DeliveryRow)
Stream = tuple[Any, ...]


@dataclass(frozen=True)
class Claimed(Generic[R]):
    """The rows of one stream a round claimed, oldest first (detached copies: read, never written)."""

    stream: Stream
    rows: list[R]
    context: Any = None  # what the gate read of the stream's receiver while opening it (no second read to send)


@dataclass
class Hooks(Generic[R]):
    """What a user of the machine plugs in beyond sending.

    ``gate(session, streams, now)``: which of these streams may send now, each with what the send needs of its
    receiver (``Claimed.context``; locks what it reads; a rate limit sets when a stream may send next).
    ``after(session, claimed, sent, now)``: runs in the transaction that records the outcome (a rate-limited
    stream's gate closed for as long as asked). ``observe(claimed, outcome, now)``: metrics.
    """

    gate: Callable[[AsyncSession, list[Stream], datetime], Awaitable[Mapping[Stream, Any]]] | None = None
    after: Callable[[AsyncSession, Claimed[R], Sent, datetime], Awaitable[None]] | None = None
    observe: Callable[[Claimed[R], Sent, str, datetime], None] = field(default=lambda *_: None)


class Deliveries(Generic[R]):
    """The job that sends what rows of ``model`` owe, stream by stream (see the module's docstring)."""

    def __init__(
        self,
        *,
        name: str,
        service: str,
        model: type[R],
        stream: Sequence[Any],
        order: Any,
        sessions: async_sessionmaker[AsyncSession],
        clock: TimeSource,
        policy: Policy,
        send: Callable[[httpx.AsyncClient, Claimed[R]], Awaitable[Sent]],
        hooks: Hooks[R] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        where: Sequence[Any] = (),
    ) -> None:
        """``where``: conditions on the rows this job sends (one table may feed several jobs, e.g. by channel)."""
        self.name, self._service, self._model, self._where = name, service, model, list(where)
        self._stream, self._order = list(stream), order
        self._sessions, self._clock, self.policy = sessions, clock, policy
        self._send, self._hooks, self._transport = send, hooks or Hooks(), transport

    async def run(self, *, between_rounds: Callable[[], Awaitable[None]] | None = None) -> None:
        async with httpx.AsyncClient(timeout=self.policy.timeout_seconds, transport=self._transport) as client:

            async def step() -> bool:
                sent = await self.deliver_due(client)
                if between_rounds is not None:
                    await between_rounds()
                return sent > 0

            await poll_forever(
                step,
                name=self.name,
                service=self._service,
                idle=self.policy.poll_seconds,
                after_failure=self.policy.poll_seconds,
            )

    def _stream_of(self, row: Any) -> Stream:
        return tuple(getattr(row, c.key) for c in self._stream)

    async def claim(self, now: datetime) -> list[Claimed[R]]:
        """Lease the due prefix of each stream whose head is due (up to ``per_stream`` rows each)."""
        m, p = self._model, self.policy
        ranked_q = select(
            m.id,
            m.next_attempt_at,
            *self._stream,
            func.row_number().over(partition_by=self._stream, order_by=self._order).label("n"),
        ).where(m.state == DeliveryState.PENDING, *self._where)
        if p.parked_holds_stream:
            earlier = aliased(m)
            ranked_q = ranked_q.where(
                ~exists().where(
                    *(getattr(earlier, c.key) == c for c in self._stream),
                    earlier.state == DeliveryState.DEAD,
                    getattr(earlier, self._order.key) < self._order,
                )
            )
        ranked = ranked_q.subquery()
        stream_cols = [ranked.c[c.key] for c in self._stream]
        heads = (
            select(*stream_cols)
            .where(ranked.c.n == 1, ranked.c.next_attempt_at <= now)
            .order_by(ranked.c.next_attempt_at)
            .limit(p.streams_per_round)
        )
        async with self._sessions() as session, session.begin():
            candidates = (
                await session.execute(
                    select(ranked.c.id, ranked.c.n).where(ranked.c.n <= p.per_stream, tuple_(*stream_cols).in_(heads))
                )
            ).all()
            if not candidates:
                return []
            rank = {row.id: row.n for row in candidates}
            locked = (
                await session.scalars(
                    select(m)
                    .where(m.id.in_(list(rank)), m.state == DeliveryState.PENDING)
                    .order_by(self._order)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            by_stream: dict[Stream, list[R]] = {}
            for row in locked:
                by_stream.setdefault(self._stream_of(row), []).append(row)
            # Only a prefix of a stream may leave: rows another replica holds break it, and what follows waits.
            prefixes: dict[Stream, list[R]] = {}
            for key, rows in by_stream.items():
                taken: list[R] = []
                for row in rows:
                    if rank[row.id] != len(taken) + 1:
                        break
                    taken.append(row)
                if taken and taken[0].next_attempt_at <= now:
                    prefixes[key] = taken
            contexts: Mapping[Stream, Any] = {}
            if self._hooks.gate is not None and prefixes:
                contexts = await self._hooks.gate(session, list(prefixes), now)
                prefixes = {k: v for k, v in prefixes.items() if k in contexts}
            lease = now + timedelta(seconds=p.timeout_seconds + 30)
            for rows in prefixes.values():
                for row in rows:
                    row.attempts += 1
                    row.next_attempt_at = lease
            await session.flush()
            return [Claimed(stream=k, rows=v, context=contexts.get(k)) for k, v in prefixes.items()]

    async def deliver_due(self, client: httpx.AsyncClient) -> int:
        """Claim, send concurrently, record the outcomes. Returns how many rows were tried."""
        claimed = await self.claim(self._clock.now())
        if not claimed:
            return 0
        results = await asyncio.gather(*(self._safe_send(client, c) for c in claimed))
        done = self._clock.now()
        async with self._sessions() as session, session.begin():
            for c, sent in zip(claimed, results, strict=True):
                await self._record(session, c, sent, done)
        return sum(len(c.rows) for c in claimed)

    async def _safe_send(self, client: httpx.AsyncClient, claimed: Claimed[R]) -> Sent:
        try:
            return await self._send(client, claimed)
        except Exception as exc:  # an adapter's bug must not lose the lease silently: it is a failed try
            log.exception("%s: sending stream %s failed", self.name, claimed.stream)
            return Sent(Outcome.NETWORK_ERROR, f"{type(exc).__name__} in the sender")

    async def _record(self, session: AsyncSession, claimed: Claimed[R], sent: Sent, done: datetime) -> None:
        p, m = self.policy, self._model
        attempts = max(r.attempts for r in claimed.rows)
        ids = [r.id for r in claimed.rows]
        changes: dict[str, Any]
        if sent.outcome is Outcome.DELIVERED:
            state = DeliveryState.DELIVERED
            changes = {"state": state, "delivered_at": done, "last_error": None}
        elif sent.outcome is Outcome.RATE_LIMITED:
            state = DeliveryState.PENDING
            wait = sent.retry_after_seconds or p.backoff_base_seconds
            changes = {"attempts": m.attempts - 1, "next_attempt_at": done + timedelta(seconds=wait)}
            changes["last_error"] = sent.error
        elif sent.outcome in PARK_AT_ONCE or attempts >= p.max_attempts:
            state = DeliveryState.DEAD
            changes = {"state": state, "last_error": sent.error}
        else:
            state = DeliveryState.PENDING
            delay = backoff_seconds(attempts, base=p.backoff_base_seconds, cap=p.backoff_cap_seconds)
            changes = {"next_attempt_at": done + timedelta(seconds=delay), "last_error": sent.error}
        await session.execute(update(m).where(m.id.in_(ids)).values(**changes))
        if self._hooks.after is not None:
            await self._hooks.after(session, claimed, sent, done)
        self._hooks.observe(claimed, sent, state, done)


class QueueGauge:
    """A gauge of the rows of ``model`` not yet delivered, by state (pending, dead), counted at most every ``every``
    seconds: what a delivery job refreshes between its rounds."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], model: type[DeliveryRow], gauge: Any, every: float = 5.0
    ) -> None:
        self._sessions, self._model, self._gauge, self._every, self._last = sessions, model, gauge, every, 0.0

    async def refresh(self) -> None:
        if time.monotonic() - self._last < self._every:
            return
        self._last = time.monotonic()
        m = self._model
        async with self._sessions() as session:
            rows = await session.execute(
                select(m.state, func.count()).where(m.state != DeliveryState.DELIVERED).group_by(m.state)
            )
            counts: dict[str, int] = {row[0]: row[1] for row in rows}
        for state in (DeliveryState.PENDING, DeliveryState.DEAD):
            self._gauge.labels(state).set(counts.get(state, 0))


async def redrive(session: AsyncSession, model: type[DeliveryRow], *conditions: Any, at: datetime) -> int:
    """Parked rows matching ``conditions`` go back to the queue with fresh attempts."""
    result = await session.execute(
        update(model)
        .where(model.state == DeliveryState.DEAD, *conditions)
        .values(state=DeliveryState.PENDING, attempts=0, next_attempt_at=at)
    )
    return int(getattr(result, "rowcount", 0) or 0)
