"""A database restart under a service: a connection that lay idle in the pool longer than the ping's threshold is
tested as it leaves it and replaced, so a restart while the service was quiet costs no request; one used within the
threshold (or any, with ``db_pool_pre_ping`` off) is handed out as it is, and the request that meets it dead answers
503 with Retry-After, never a 500, and the next one is served on a fresh connection. Real PostgreSQL; the backends
are ended the way a restart ends them (``pg_terminate_backend``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.dispatch.config import DispatchSettings
from services.followup.config import FollowupSettings
from services.intake.config import IntakeSettings
from shared import errors
from shared.db import create_engine, session_factory
from tests.harness import drop_database, fresh_database, run_db


@asynccontextmanager
async def served(name: str, **pool: object) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A one-route app on a pool of one connection over a fresh database; yields its client and the database URL."""
    url = await fresh_database(name)
    engine = create_engine(url, pool_size=1, **pool)  # type: ignore[arg-type]
    sessions = session_factory(engine)
    app = FastAPI()
    errors.install(app)

    @app.get("/now")
    async def now() -> dict[str, str]:
        async with sessions.begin() as session:
            return {"now": str(await session.scalar(text("SELECT now()")))}

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client, url
    finally:
        await engine.dispose()
        await drop_database(name)


async def restart(url: str, name: str) -> None:
    """Ends every backend of the database, as a restart does."""
    admin = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        ended = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
    finally:
        await admin.close()
    assert ended == 1


def test_every_service_tests_the_connections_that_lay_idle() -> None:
    assert IntakeSettings().db_pool_pre_ping and DispatchSettings().db_pool_pre_ping
    assert FollowupSettings().db_pool_pre_ping


async def test_a_restart_while_the_pool_was_quiet_costs_no_request() -> None:
    name = run_db("restart_idle")
    async with served(name, ping_idle_seconds=0.2) as (client, url):
        assert (await client.get("/now")).status_code == 200  # the pool holds one connection now
        await restart(url, name)
        await asyncio.sleep(0.3)
        served_again = await client.get("/now")
        assert served_again.status_code == 200, served_again.text


@pytest.mark.parametrize("pool", [{"pre_ping": False}, {"ping_idle_seconds": 60.0}], ids=["no ping", "used lately"])
async def test_a_restart_under_a_connection_used_lately_answers_503_once(pool: dict[str, object]) -> None:
    name = run_db("restart_" + ("noping" if "pre_ping" in pool else "recent"))
    async with served(name, **pool) as (client, url):
        assert (await client.get("/now")).status_code == 200
        await restart(url, name)
        lost = await client.get("/now")
        assert lost.status_code == 503, lost.text
        assert lost.headers["retry-after"] == "1"
        assert lost.json()["detail"]["code"] == "database_unavailable"
        assert (await client.get("/now")).status_code == 200
