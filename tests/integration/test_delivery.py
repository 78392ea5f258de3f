"""The shared delivery machine (shared.delivery) on the real PostgreSQL, with a table of its own: what the 12345
callbacks and the notifications both rest on.

- several replicas claiming at once never send a row twice nor a stream out of order (only prefixes leave);
- a stream that takes digests sends what piled up in one go, oldest first;
- a rate-limited try spends no attempt; a refused one parks at once; a parked row holds its stream back or not;
- a parked row re-driven goes again with fresh tries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.clock import ManualClock
from shared.db import create_engine, session_factory
from shared.delivery import Claimed, Deliveries, DeliveryRow, DeliveryState, Outcome, Policy, Sent, redrive
from tests.harness import drop_database, fresh_database, run_db

pytestmark = pytest.mark.integration


class Base(DeclarativeBase):
    pass


class Owed(DeliveryRow, Base):
    __tablename__ = "owed"
    stream: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(String(32))


class Receiver:
    """What a receiver heard, and what it answers next (a queue of outcomes, then DELIVERED)."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, list[str]]] = []
        self.answers: dict[str, list[Sent]] = {}

    async def send(self, _: httpx.AsyncClient, claimed: Claimed[Owed]) -> Sent:
        await asyncio.sleep(0.01)  # the receiver takes a moment: replicas overlap
        queued = self.answers.get(claimed.stream[0])
        sent = queued.pop(0) if queued else Sent(Outcome.DELIVERED)
        if sent.outcome is Outcome.DELIVERED:
            self.heard.append((claimed.stream[0], [r.body for r in claimed.rows]))
        return sent


@pytest.fixture
async def table() -> AsyncIterator[Any]:
    name = run_db("delivery")
    engine = create_engine(await fresh_database(name), pool_size=8)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()
        await drop_database(name)


def machine(sessions: Any, clock: ManualClock, receiver: Receiver, **policy: Any) -> Deliveries[Owed]:
    return Deliveries(
        name="test",
        service="test",
        model=Owed,
        stream=(Owed.stream,),
        order=Owed.id,
        sessions=sessions,
        clock=clock,
        policy=Policy(**{"backoff_base_seconds": 1, "max_attempts": 3, **policy}),
        send=receiver.send,
    )


async def owe(sessions: Any, clock: ManualClock, rows: list[tuple[str, str]]) -> None:
    async with sessions() as session, session.begin():
        session.add_all(
            Owed(stream=s, body=b, next_attempt_at=clock.now(), state="pending", attempts=0) for s, b in rows
        )


async def states(sessions: Any) -> dict[str, str]:
    async with sessions() as session:
        return {r.body: r.state for r in (await session.scalars(select(Owed))).all()}


async def test_replicas_claiming_at_once_send_each_row_once_and_each_stream_in_order(table: Any) -> None:
    clock = ManualClock(datetime(2026, 12, 5, tzinfo=UTC))
    receiver = Receiver()
    await owe(table, clock, [(f"s{i % 7}", f"{i % 7}:{i:03d}") for i in range(140)])
    replicas = [machine(table, clock, receiver) for _ in range(4)]
    async with httpx.AsyncClient() as client:
        while any(state != DeliveryState.DELIVERED for state in (await states(table)).values()):
            await asyncio.gather(*(r.deliver_due(client) for r in replicas))
    bodies = [b for _, rows in receiver.heard for b in rows]
    assert sorted(bodies) == sorted(set(bodies)) and len(bodies) == 140  # each once
    for stream in {s for s, _ in receiver.heard}:
        heard = [b for s, rows in receiver.heard if s == stream for b in rows]
        assert heard == sorted(heard)  # in order within the stream


async def test_a_stream_that_takes_digests_sends_what_piled_up_in_one_go(table: Any) -> None:
    clock = ManualClock(datetime(2026, 12, 5, tzinfo=UTC))
    receiver = Receiver()
    await owe(table, clock, [("a", f"a{i:02d}") for i in range(12)] + [("b", "b00")])
    async with httpx.AsyncClient() as client:
        assert await machine(table, clock, receiver, per_stream=5).deliver_due(client) == 6
    assert sorted(receiver.heard) == [("a", ["a00", "a01", "a02", "a03", "a04"]), ("b", ["b00"])]


async def test_rate_limits_spend_no_attempt_refusals_park_at_once_and_redrive_sends_again(table: Any) -> None:
    clock = ManualClock(datetime(2026, 12, 5, tzinfo=UTC))
    receiver = Receiver()
    receiver.answers["slow"] = [Sent(Outcome.RATE_LIMITED, "45009", retry_after_seconds=60)] * 5
    receiver.answers["bad"] = [Sent(Outcome.REJECTED, "bad key")]
    await owe(table, clock, [("slow", "slow1"), ("bad", "bad1"), ("bad", "bad2")])
    jobs = machine(table, clock, receiver, parked_holds_stream=True)
    async with httpx.AsyncClient() as client:
        for _ in range(5):  # five rate limits: the row waits each time as asked and is never parked
            await jobs.deliver_due(client)
            assert (await states(table))["slow1"] == "pending"
            clock.advance(timedelta(seconds=61))
        await jobs.deliver_due(client)
        now = await states(table)
        assert now == {"slow1": "delivered", "bad1": "dead", "bad2": "pending"}  # bad2 held behind bad1
        async with table() as session, session.begin():
            assert await redrive(session, Owed, Owed.stream == "bad", at=clock.now()) == 1
        await jobs.deliver_due(client)
        await jobs.deliver_due(client)
    assert await states(table) == {"slow1": "delivered", "bad1": "delivered", "bad2": "delivered"}


async def test_a_parked_row_lets_its_stream_pass_when_told_to(table: Any) -> None:
    clock = ManualClock(datetime(2026, 12, 5, tzinfo=UTC))
    receiver = Receiver()
    receiver.answers["g"] = [Sent(Outcome.REJECTED, "too long")]
    await owe(table, clock, [("g", "g1"), ("g", "g2")])
    jobs = machine(table, clock, receiver, parked_holds_stream=False)
    async with httpx.AsyncClient() as client:
        await jobs.deliver_due(client)
        await jobs.deliver_due(client)
    assert await states(table) == {"g1": "dead", "g2": "delivered"}


async def test_failures_back_off_and_park_after_the_last_try(table: Any) -> None:
    clock = ManualClock(datetime(2026, 12, 5, tzinfo=UTC))
    receiver = Receiver()
    receiver.answers["x"] = [Sent(Outcome.HTTP_ERROR, "HTTP 503")] * 3
    await owe(table, clock, [("x", "x1")])
    jobs = machine(table, clock, receiver)
    async with httpx.AsyncClient() as client:
        assert await jobs.deliver_due(client) == 1
        assert await jobs.deliver_due(client) == 0  # backing off: 1 s
        clock.advance(timedelta(seconds=1))
        assert await jobs.deliver_due(client) == 1
        clock.advance(timedelta(seconds=1))
        assert await jobs.deliver_due(client) == 0  # now 2 s
        clock.advance(timedelta(seconds=1))
        assert await jobs.deliver_due(client) == 1
    async with table() as session:
        row = await session.scalar(select(Owed))
        assert row is not None and (row.state, row.attempts, row.last_error) == ("dead", 3, "HTTP 503")
