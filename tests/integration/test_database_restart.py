"""A database restart under a service whose pool pings nothing (``db_pool_pre_ping`` off, as intake runs, the hot
write path): the request that meets a dead connection answers 503 with Retry-After, never a 500, and the next one is
served on a fresh connection. Real PostgreSQL; the backends are ended the way a restart ends them
(``pg_terminate_backend``)."""

from __future__ import annotations

import asyncpg
import httpx
from fastapi import FastAPI
from sqlalchemy import text

from services.intake.config import IntakeSettings
from shared import errors
from shared.db import create_engine, session_factory
from tests.harness import drop_database, fresh_database, run_db


async def test_a_restart_answers_503_once_and_the_next_request_is_served() -> None:
    assert IntakeSettings().db_pool_pre_ping is False
    name = run_db("restart")
    url = await fresh_database(name)
    engine = create_engine(url, pool_size=1, pre_ping=False)
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
            assert (await client.get("/now")).status_code == 200  # the pool holds one connection now
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
            lost = await client.get("/now")
            assert lost.status_code == 503, lost.text
            assert lost.headers["retry-after"] == "1"
            assert lost.json()["detail"]["code"] == "database_unavailable"
            assert (await client.get("/now")).status_code == 200
    finally:
        await engine.dispose()
        await drop_database(name)
