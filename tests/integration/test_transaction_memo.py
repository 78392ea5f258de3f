"""``shared.db.once_per_transaction`` on the real PostgreSQL: a read made once per transaction, made again after its
writer forgets it, after a savepoint rolls back, and in the next transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from shared.db import create_engine, forget, once_per_transaction, session_factory
from tests.harness import drop_database, fresh_database, run_db

pytestmark = pytest.mark.integration


async def test_a_read_is_made_once_per_transaction_until_something_may_have_changed_it() -> None:
    name = run_db("memo")
    engine = create_engine(await fresh_database(name), pool_size=1)
    sessions = session_factory(engine)
    reads: list[str] = []
    try:
        async with sessions() as session:

            async def now_ms() -> int:
                reads.append("read")
                value = await session.scalar(text("SELECT CAST(extract(epoch FROM clock_timestamp()) * 1e6 AS bigint)"))
                return int(value or 0)

            async with session.begin():
                first = await once_per_transaction(session, "k", now_ms)
                assert await once_per_transaction(session, "k", now_ms) == first and len(reads) == 1
                forget(session, "k")  # a writer in the transaction
                second = await once_per_transaction(session, "k", now_ms)
                assert second != first and len(reads) == 2
                savepoint = await session.begin_nested()
                await once_per_transaction(session, "k", now_ms)
                await savepoint.rollback()  # whatever the savepoint did, the memo no longer trusts it
                assert len(reads) == 2
                await once_per_transaction(session, "k", now_ms)
                assert len(reads) == 3
                forget(session)
                await once_per_transaction(session, "k", now_ms)
                assert len(reads) == 4
            async with session.begin():  # the next transaction reads afresh
                await once_per_transaction(session, "k", now_ms)
                await once_per_transaction(session, "k", now_ms)
                assert len(reads) == 5
    finally:
        await engine.dispose()
        await drop_database(name)
