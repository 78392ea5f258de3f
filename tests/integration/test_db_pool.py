"""The services' connection pool on the real PostgreSQL (``shared.db.create_engine``): a service busy past its
usual load keeps the connections it opened, instead of opening (and closing) one per transaction."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, text

from shared.db import create_engine, session_factory
from tests.harness import drop_database, fresh_database, run_db

pytestmark = pytest.mark.integration


async def test_connections_opened_under_load_are_kept_for_the_next_burst() -> None:
    name = run_db("pool")
    engine = create_engine(await fresh_database(name), pool_size=2)
    sessions = session_factory(engine)
    opened: list[Any] = []
    event.listen(engine.sync_engine, "connect", lambda conn, record: opened.append(conn))

    async def busy() -> None:
        async with sessions() as session, session.begin():
            await session.execute(text("SELECT pg_sleep(0.05)"))

    try:
        for _ in range(5):  # bursts of four transactions at once: twice the setting
            await asyncio.gather(*(busy() for _ in range(4)))
        assert len(opened) == 4, "the first burst opens four connections; the later ones reuse them"
        # The ceiling holds: a fifth transaction at once waits for a connection rather than opening one.
        await asyncio.gather(*(busy() for _ in range(5)))
        assert len(opened) == 4
    finally:
        await engine.dispose()
        await drop_database(name)
