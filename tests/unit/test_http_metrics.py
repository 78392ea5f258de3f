"""The HTTP latency histogram: an answer is timed until it is complete, an event stream until it opens."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse, StreamingResponse
from prometheus_client import REGISTRY

from shared.http.middleware import HttpMetrics

SERVICE = "test-http-metrics"
PAUSE = 0.3


def _app() -> HttpMetrics:
    app = FastAPI()

    @app.get("/slow")
    async def slow() -> JSONResponse:
        await asyncio.sleep(PAUSE)
        return JSONResponse({"ok": True})

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def events() -> AsyncIterator[bytes]:
            yield b"event: version\ndata: {}\n\n"
            await asyncio.sleep(PAUSE)
            yield b"event: version\ndata: {}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return HttpMetrics(app, SERVICE)


def _observed(route: str) -> tuple[float, float]:
    labels = {"service": SERVICE, "method": "GET", "route": route}
    count = REGISTRY.get_sample_value("http_request_duration_seconds_count", labels) or 0.0
    return count, REGISTRY.get_sample_value("http_request_duration_seconds_sum", labels) or 0.0


async def test_a_stream_is_timed_until_it_opens_and_an_answer_until_it_is_complete() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://t") as http:
        before = {route: _observed(route) for route in ("/slow", "/stream")}
        assert (await http.get("/slow")).status_code == 200
        r = await http.get("/stream")
        assert r.status_code == 200 and r.text.count("event: version") == 2  # the stream lived its whole life
    (n_slow, slow), (n_stream, stream) = (
        tuple(a - b for a, b in zip(_observed(route), before[route], strict=True)) for route in ("/slow", "/stream")
    )
    assert n_slow == n_stream == 1
    assert slow >= PAUSE, "an answer is timed until it is complete"
    assert stream < PAUSE / 3, "a stream is timed until it opens, not for its life"
