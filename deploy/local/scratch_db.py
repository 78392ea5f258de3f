"""Scratch databases on the local stack's PostgreSQL: what tests, benchmarks and the chaos run create for one run and
drop afterwards, one definition for all of them.

``DROP DATABASE … WITH (FORCE)`` terminates the sessions still on the database. An autovacuum worker there (a fresh
table just loaded is its favourite) belongs to no role, so a plain role may only end it as a member of
``pg_signal_backend``, which ``deploy/local/stack up`` grants the ``heat`` role. A stack whose role lacks it (started
by an older script) still drops cleanly: the drop waits for the worker instead of failing the run."""

from __future__ import annotations

import asyncio
import os

import asyncpg

PG_PORT = int(os.environ.get("PG_PORT", "55432"))
ROLE, PASSWORD = "heat", "heat"


async def _admin() -> asyncpg.Connection:
    return await asyncpg.connect(host="127.0.0.1", port=PG_PORT, user=ROLE, password=PASSWORD, database="postgres")


async def _drop(conn: asyncpg.Connection, name: str) -> None:
    for attempt in range(10):
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except asyncpg.InsufficientPrivilegeError:
            if attempt == 9:
                raise
            await asyncio.sleep(0.5 * (attempt + 1))


async def recreate_database(name: str) -> None:
    """Drop ``name`` if a previous run left it, then create it empty."""
    conn = await _admin()
    try:
        await _drop(conn, name)
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(name: str) -> None:
    conn = await _admin()
    try:
        await _drop(conn, name)
    finally:
        await conn.close()
