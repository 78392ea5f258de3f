"""A request handler chosen as a deadlock's victim does its work again instead of answering 500.

Found by the simulator in CI: a sensor batch (sensors locked, then an alarm joining an incident) and a case being
closed (the case's alarm sensors, then its incidents, then sensors whose alarm joined meanwhile) took locks in
orders that could cross; PostgreSQL aborted the batch and the gateway got a 500. ``retry_races`` runs such work in a
savepoint and runs it again when it loses. Here a real deadlock on the real PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from shared.db import create_engine, retry_races, session_factory
from tests.harness import drop_database, fresh_database, run_db, wait_until

pytestmark = pytest.mark.integration


async def test_the_deadlock_victim_is_run_again_and_both_transactions_commit() -> None:
    name = run_db("races")
    engine = create_engine(await fresh_database(name), pool_size=2)
    sessions = session_factory(engine)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE rows (id int PRIMARY KEY, touched_by text[] NOT NULL DEFAULT '{}')"))
            await conn.execute(text("INSERT INTO rows (id) VALUES (1), (2)"))
        b_holds = asyncio.Event()
        a_pid: int | None = None
        attempts = 0

        async def touch(session: object, row: int, who: str) -> None:
            await session.execute(  # type: ignore[attr-defined]
                text("UPDATE rows SET touched_by = array_append(touched_by, CAST(:who AS text)) WHERE id = :id"),
                {"who": who, "id": row},
            )

        async def a() -> int:
            nonlocal a_pid
            async with sessions() as session, session.begin():
                a_pid = await session.scalar(text("SELECT pg_backend_pid()"))

                async def work() -> int:
                    nonlocal attempts
                    attempts += 1
                    await touch(session, 1, "a")
                    if attempts == 1:
                        await b_holds.wait()
                    await touch(session, 2, "a")  # the first time: waits for b, which then waits for a
                    return attempts

                return await retry_races(session, work)

        async def b() -> None:
            async with sessions() as session, session.begin():
                await touch(session, 2, "b")
                b_holds.set()
                # PostgreSQL looks for a deadlock once, deadlock_timeout (1 s) after a backend starts waiting: b
                # waits right after a, so a's look comes first and a is the victim (b has no retry of its own)
                await wait_until("a waiting for b's lock", lambda: waiting_on_a_lock(a_pid), every=0.01)
                await touch(session, 1, "b")

        async def waiting_on_a_lock(pid: int | None) -> bool:
            if pid is None:
                return False
            async with sessions() as probe:
                kind = await probe.scalar(
                    text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
                )
            return bool(kind == "Lock")

        done_a, _ = await asyncio.wait_for(asyncio.gather(a(), b()), timeout=30)
        assert done_a == 2  # the first attempt lost the race, the second went through
        async with sessions() as session:
            rows = dict((await session.execute(text("SELECT id, touched_by FROM rows ORDER BY id"))).all())
        # b committed first (it got row 1 when a's savepoint let go of it); a's first attempt left nothing behind
        assert rows == {1: ["b", "a"], 2: ["b", "a"]}
    finally:
        await engine.dispose()
        await drop_database(name)
