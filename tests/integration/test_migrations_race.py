"""Replicas starting together each run their service's migrations on start: under the advisory lock the first
migrates and the others wait, then find the database at head. Without it, two upgrades of a fresh database race
on the same DDL and one start fails."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import pytest
from alembic.script import ScriptDirectory

from services.dispatch.main import MIGRATIONS
from shared import migrate
from tests.harness import PG_PORT, check_stack, drop_database, fresh_database, run_db

REPLICAS = 4


@pytest.mark.parametrize("attempt", range(2))
async def test_replicas_migrating_a_fresh_database_at_once_all_start(attempt: int) -> None:
    await check_stack()
    db = run_db(f"migrate_race_{attempt}")
    url = await fresh_database(db)
    start = threading.Barrier(REPLICAS)

    def replica() -> None:
        start.wait()  # every replica reaches its upgrade at the same moment
        migrate.upgrade(MIGRATIONS, url)

    try:
        with ThreadPoolExecutor(REPLICAS) as pool:
            futures = [pool.submit(replica) for _ in range(REPLICAS)]
            for f in futures:
                await asyncio.wrap_future(f)  # raises if a replica's upgrade failed
        conn = await asyncpg.connect(host="127.0.0.1", port=PG_PORT, user="heat", password="heat", database=db)
        try:
            versions = [r["version_num"] for r in await conn.fetch("SELECT version_num FROM alembic_version")]
        finally:
            await conn.close()
        assert versions == [ScriptDirectory.from_config(migrate.config(MIGRATIONS, url)).get_current_head()]
    finally:
        await drop_database(db)
