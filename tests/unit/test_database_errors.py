"""A database error under a request: a lost connection answers 503 to resend (the pool pings nothing, so a restart
shows this way, once); a value the database refused answers 422; anything else stays a 500."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError

from shared import errors


class _Refused(Exception):
    sqlstate = "22P05"  # untranslatable character


def _app(exc: DBAPIError) -> FastAPI:
    app = FastAPI()
    errors.install(app)

    @app.get("/fails")
    async def fails() -> None:
        raise exc

    return app


async def _get(exc: DBAPIError) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(exc), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get("/fails")


async def test_a_lost_connection_answers_503_to_resend() -> None:
    r = await _get(DBAPIError("SELECT 1", {}, ConnectionResetError("closed"), connection_invalidated=True))
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1"
    assert r.json() == {"detail": {"code": "database_unavailable", "message": errors.DATABASE_AWAY, "field": None}}


async def test_a_refused_value_answers_422() -> None:
    r = await _get(DBAPIError("INSERT", {}, _Refused("bad byte")))
    assert r.status_code == 422
    assert r.json()["detail"]["code"] == "value_refused"


async def test_any_other_database_error_stays_a_500() -> None:
    r = await _get(DBAPIError("SELECT", {}, RuntimeError("boom")))
    assert r.status_code == 500
    assert "boom" not in r.text
