"""A request must arrive within ``http_request_timeout_seconds`` (shared.slow_requests): a real server, and a raw
socket that sends slowly. A head that stalls gets its connection closed; a body that stalls gets 408 in the error
JSON; a slow request within the limit, and keep-alive between requests, work as before."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from fastapi import FastAPI, Request

from services.dispatch.main import create_app as dispatch_app
from services.followup.main import create_app as followup_app
from services.intake import open311
from services.intake.main import create_app as intake_app
from shared.http.server import server_config
from shared.limits import speak_refusals
from shared.settings import ServiceSettings
from shared.slow_requests import BodyDeadline
from tests.harness import serving

LIMIT = 1.5
PARSERS = ["httptools", "h11"]


def echo_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(BodyDeadline, seconds=LIMIT)

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/refuse")
    async def refuse() -> dict[str, bool]:
        return {"read": False}  # answers without reading the body, as a refusal does

    return app


def config(parser: str, *, keep_alive: int = 75, app: FastAPI | None = None) -> object:
    settings = ServiceSettings(http_port=0, http_request_timeout_seconds=LIMIT, http_keep_alive_seconds=keep_alive)
    cfg = server_config(app or echo_app(), settings)
    if parser == "h11":
        from shared.slow_requests import guarded_protocol

        cfg.http = guarded_protocol(LIMIT, parser="h11")
    return cfg


async def connect(base: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", httpx.URL(base).port)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), 10)
    return status, headers, body


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> float:
    """Seconds until the server closed the connection (EOF or reset), failing after ``seconds``."""
    start = time.monotonic()
    try:
        rest = await asyncio.wait_for(reader.read(), seconds)
    except ConnectionResetError:
        rest = b""
    assert rest == b"", rest
    return time.monotonic() - start


@pytest.mark.parametrize("parser", PARSERS)
async def test_a_head_that_stalls_gets_its_connection_closed(parser: str) -> None:
    async with serving(config(parser)) as base:  # type: ignore[arg-type]
        reader, writer = await connect(base)
        try:
            writer.write(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")
            await writer.drain()
            waited = await closed_within(reader, LIMIT + 5)
            assert LIMIT - 0.5 <= waited <= LIMIT + 2
        finally:
            writer.close()


@pytest.mark.parametrize("parser", PARSERS)
async def test_a_connection_that_never_sends_is_closed(parser: str) -> None:
    async with serving(config(parser)) as base:  # type: ignore[arg-type]
        reader, writer = await connect(base)
        try:
            await closed_within(reader, LIMIT + 5)
        finally:
            writer.close()


@pytest.mark.parametrize("parser", PARSERS)
async def test_a_head_dripped_byte_by_byte_is_cut_off_at_the_limit(parser: str) -> None:
    request = b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"a" * 200 + b"\r\n\r\n"
    async with serving(config(parser)) as base:  # type: ignore[arg-type]
        reader, writer = await connect(base)
        start, closed = time.monotonic(), False
        try:
            for byte in request:  # one byte every 0.1 s: 24 s for the whole head
                try:
                    writer.write(bytes([byte]))
                    await writer.drain()
                    answer = await asyncio.wait_for(reader.read(1), 0.1)
                except TimeoutError:
                    continue
                except ConnectionError:
                    answer = b""
                assert answer == b"", answer
                closed = True
                break
            assert closed
            assert time.monotonic() - start <= LIMIT + 2
        finally:
            writer.close()


@pytest.mark.parametrize("parser", PARSERS)
async def test_a_body_that_stalls_is_answered_408(parser: str) -> None:
    async with serving(config(parser)) as base:  # type: ignore[arg-type]
        reader, writer = await connect(base)
        try:
            start = time.monotonic()
            writer.write(
                b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100\r\n\r\n" + b"x" * 10
            )
            await writer.drain()
            status, headers, body = await read_response(reader)
            assert LIMIT - 0.5 <= time.monotonic() - start <= LIMIT + 2
            assert status == 408
            assert headers["connection"] == "close"
            detail = json.loads(body)["detail"]
            assert detail["code"] == "request_timeout"
            assert "秒内发送完毕" in detail["message"]
            await closed_within(reader, 5)
        finally:
            writer.close()


@pytest.mark.parametrize("suffix", ["json", "xml"])
async def test_a_stalled_body_under_open311_is_answered_in_the_spec_error_list(suffix: str) -> None:
    """The 408 is rendered like the body limit's 413: in the format registered for the path (Open311's list)."""
    app = echo_app()
    speak_refusals(app, open311.router.prefix + "/", open311.plumbing_refusal)

    @app.post(open311.router.prefix + "/requests.{fmt}")
    async def submit(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}

    async with serving(config("httptools", app=app)) as base:  # type: ignore[arg-type]
        reader, writer = await connect(base)
        try:
            writer.write(
                f"POST {open311.router.prefix}/requests.{suffix} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
                + b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nservice_code=1"
            )
            await writer.drain()
            status, headers, body = await read_response(reader)
            assert status == 408
            if suffix == "json":
                assert headers["content-type"].startswith("application/json")
                [error] = json.loads(body)
                assert error["code"] == 408 and "秒内发送完毕" in error["description"]
            else:
                assert "xml" in headers["content-type"]
                assert body.decode().count("<error>") == 1 and "<code>408</code>" in body.decode()
        finally:
            writer.close()


@pytest.mark.parametrize("parser", PARSERS)
async def test_the_rest_of_a_body_answered_before_it_was_read_must_still_come_in_time(parser: str) -> None:
    async with serving(config(parser)) as base:  # type: ignore[arg-type]
        reader, writer = await connect(base)
        try:
            writer.write(b"POST /refuse HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
            await writer.drain()
            status, _, body = await read_response(reader)
            assert (status, json.loads(body)) == (200, {"read": False})
            for _ in range(int(LIMIT / 0.3) + 10):  # drip the rest: each byte would put off the keep-alive timeout
                try:
                    writer.write(b"x")
                    await writer.drain()
                    assert await asyncio.wait_for(reader.read(1), 0.3) == b""
                except TimeoutError:
                    continue
                except ConnectionError:
                    pass
                break
            else:
                pytest.fail("the connection is still open")
        finally:
            writer.close()


@pytest.mark.parametrize("parser", PARSERS)
async def test_a_slow_request_within_the_limit_and_the_next_one_on_the_connection_are_answered(parser: str) -> None:
    async with serving(config(parser)) as base:  # type: ignore[arg-type]
        reader, writer = await connect(base)
        try:
            for _ in range(2):  # the second on the same (kept-alive) connection, after an idle pause
                writer.write(b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                await writer.drain()
                await asyncio.sleep(LIMIT / 3)
                writer.write(b"Content-Length: 20\r\n\r\n" + b"y" * 10)
                await writer.drain()
                await asyncio.sleep(LIMIT / 3)
                writer.write(b"y" * 10)
                await writer.drain()
                status, _, body = await read_response(reader)
                assert (status, json.loads(body)) == (200, {"received": 20})
                await asyncio.sleep(LIMIT + 0.5)  # idle between requests: keep-alive's business, not the limit's
        finally:
            writer.close()


async def test_a_streamed_body_is_given_more_time_as_it_arrives() -> None:
    """Bytes arriving extend the body's deadline (MIN_BODY_RATE): a large upload on a slow line goes through."""
    app = FastAPI()
    app.add_middleware(BodyDeadline, seconds=0.3)

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}

    chunks = [b"z" * 64 * 1024] * 6

    async def receive_slowly() -> dict[str, object]:
        await asyncio.sleep(0.2)  # 64 KiB every 0.2 s: 1.2 s in all, four times the bare limit
        chunk = chunks.pop()
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/echo",
        "raw_path": b"/echo",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive_slowly, send)
    assert sent[0]["status"] == 200
    assert json.loads(sent[1]["body"]) == {"received": 6 * 64 * 1024}  # type: ignore[arg-type]


@pytest.mark.parametrize("create_app", [intake_app, dispatch_app, followup_app])
def test_every_service_bounds_the_body_and_the_head(create_app: object) -> None:
    app = create_app()  # type: ignore[operator]
    deadlines = [m for m in app.user_middleware if m.cls is BodyDeadline]
    assert len(deadlines) == 1
    assert deadlines[0].kwargs["seconds"] == ServiceSettings().http_request_timeout_seconds == 15
    cfg = server_config(app, ServiceSettings())
    assert getattr(cfg.http, "head_timeout", None) == 15
