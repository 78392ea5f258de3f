"""The test and benchmark runs' scratch databases drop even while a session of another role is on them.

Found by CI: the quick benchmark's ``DROP DATABASE … WITH (FORCE)`` met an autovacuum worker on a freshly loaded
table and PostgreSQL refused the ``heat`` role the right to end it. The stack grants ``heat`` ``pg_signal_backend``;
here a session of another role stands in for the worker, and one plain drop (no retry) must end it."""

from __future__ import annotations

import asyncpg
import pytest

from deploy.local.scratch_db import drop_database, recreate_database
from tests.harness import PG_PORT, check_stack, run_db

pytestmark = pytest.mark.integration

OTHER = "scratch_other"


async def superuser() -> asyncpg.Connection:
    return await asyncpg.connect(host="127.0.0.1", port=PG_PORT, user="postgres", database="postgres")


async def test_a_drop_ends_another_roles_session_on_the_first_try() -> None:
    await check_stack()
    name = run_db("scratch")
    await recreate_database(name)
    admin = await superuser()
    try:
        await admin.execute(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{OTHER}') "
            f"THEN CREATE ROLE {OTHER} LOGIN; END IF; END $$"
        )
        other = await asyncpg.connect(host="127.0.0.1", port=PG_PORT, user=OTHER, database=name)
        heat = await asyncpg.connect(host="127.0.0.1", port=PG_PORT, user="heat", password="heat", database="postgres")
        try:
            await heat.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            assert not await heat.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError)):
                await other.fetchval("SELECT 1")
        finally:
            await heat.close()
            other.terminate()
    finally:
        await admin.close()
        await drop_database(name)
