"""The services' HTTP server holds an idle keep-alive connection longer than their clients do (shared.http.server.
server_config): a client that reuses a connection idle for a few seconds gets its answer, never a closed socket."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from shared.http.server import server_config
from shared.settings import ServiceSettings
from tests.harness import serving

REQUEST = b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n"


def ping_app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    return app


async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(REQUEST)
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    return await reader.readexactly(length)


def test_the_default_outlasts_the_clients_own_idle_limit() -> None:
    assert ServiceSettings().http_keep_alive_seconds > httpx.Limits().keepalive_expiry + 30


@pytest.mark.parametrize(("keep_alive", "idle", "kept"), [(75, 6.0, True), (1, 2.0, False)])
async def test_an_idle_connection_is_kept_as_long_as_configured(keep_alive: int, idle: float, kept: bool) -> None:
    settings = ServiceSettings(http_port=0, http_keep_alive_seconds=keep_alive)
    async with serving(server_config(ping_app(), settings)) as base:
        reader, writer = await asyncio.open_connection("127.0.0.1", httpx.URL(base).port)
        try:
            assert await answer(reader, writer) == b'{"ok":true}'
            await asyncio.sleep(idle)  # longer than uvicorn's own default of 5 s in the first case
            if kept:
                assert await answer(reader, writer) == b'{"ok":true}'
            else:
                assert await asyncio.wait_for(reader.read(), 5) == b""  # the server closed its end
        finally:
            writer.close()
