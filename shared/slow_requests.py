"""A time limit on receiving a request, so a client that sends slowly cannot hold a connection (and a worker's
memory) open for as long as it likes.

uvicorn bounds only the idle time between requests (``timeout_keep_alive``): a request whose head or body stops
half-way is waited for forever, and a few hundred such connections (one byte every few seconds each) tie up a
service. Two guards, both given ``ServiceSettings.http_request_timeout_seconds``:

- the head (request line and headers): ``guarded_protocol`` subclasses uvicorn's HTTP protocol with a timer armed
  when a connection opens and when a request's first byte arrives, cancelled once its headers are complete. When it
  fires the connection is closed: with no complete head there is no request to answer. The same timer runs for the
  rest of a body that was answered before it was read (a refusal), which uvicorn would otherwise read to its end.
- the body: ``BodyDeadline``, an ASGI middleware, gives the body as long again from the moment the app is called
  (the head is complete), plus a second for every ``MIN_BODY_RATE`` bytes that arrive, so a large upload on a slow
  line (a district's registry, 2.2 MB) is not cut off while a client that drips a few bytes gains nothing (Apache's
  mod_reqtimeout ``MinRate`` works the same way). A body that has not arrived by then is answered 408
  ``request_timeout`` in the error JSON, and the connection is closed; the app sees a client that went away.

Once a request's head is complete the head timer is off, and once its body is in, the deadline is too: the time the
app takes to answer, and the idle time before the next request on the connection (``timeout_keep_alive``), are not
bounded here.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from shared import errors
from shared.limits import send_refusal

log = logging.getLogger(__name__)

# Each this many bytes of a body that arrive give it one more second: 64 KiB/s (0.5 Mbit/s), well below any line
# that carries the services' traffic, far above what a slow-sending attacker can afford per connection.
MIN_BODY_RATE = 64 * 1024

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools comes with uvicorn[standard]; h11 is the fallback, as in uvicorn
    HttpToolsProtocol = None  # type: ignore[assignment,misc]


class _HeadTimer:
    """The timer of one connection's request head."""

    def __init__(self, protocol: Any, seconds: float) -> None:
        self._protocol = protocol
        self._seconds = seconds
        self._handle: asyncio.TimerHandle | None = None

    def arm(self) -> None:
        if self._handle is None:
            self._handle = self._protocol.loop.call_later(self._seconds, self._expired)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _expired(self) -> None:
        self._handle = None
        protocol = self._protocol
        transport: asyncio.Transport | None = protocol.transport
        if transport is None or transport.is_closing():
            return
        cycle = protocol.cycle
        if cycle is not None and not cycle.response_complete:
            # A pipelined request's head is incomplete while the one before it is still answered: let that answer
            # finish, then close instead of reading on.
            cycle.keep_alive = False
            return
        log.info("request head not complete in time; connection closed", extra={"limit_s": self._seconds})
        transport.close()


class _H11HeadTimeout(H11Protocol):
    head_timeout: float = 15.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._head_timer = _HeadTimer(self, self.head_timeout)
        super().connection_made(transport)
        self._head_timer.arm()

    def data_received(self, data: bytes) -> None:
        before = self.conn.their_state
        if before is h11.IDLE:
            self._head_timer.arm()  # the first bytes of the next request's head
        super().data_received(data)
        after = self.conn.their_state
        if after is not before and before in (h11.IDLE, h11.SEND_BODY):
            # The head was parsed (h11 leaves IDLE only on a complete head), or the rest of a body came in.
            self._head_timer.cancel()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing():
            return
        if self.conn.their_state is h11.SEND_BODY or (self.conn.their_state is h11.IDLE and self.conn.trailing_data[0]):
            # Answered before its body was read (a refusal): the rest must still come in time, or a client
            # dripping it holds the connection. Or part of a pipelined request's head came while the answer went out.
            self._head_timer.arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_timer.cancel()
        super().connection_lost(exc)


def _httptools_head_timeout() -> type[Any] | None:
    if HttpToolsProtocol is None:  # pragma: no cover
        return None

    class _HttpToolsHeadTimeout(HttpToolsProtocol):
        head_timeout: float = 15.0

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            self._head_timer = _HeadTimer(self, self.head_timeout)
            super().connection_made(transport)
            self._head_timer.arm()

        def on_message_begin(self) -> None:
            self._head_timer.arm()  # the first byte of a request (kept armed from connection_made for the first)
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._head_timer.cancel()
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._head_timer.cancel()  # the rest of a body answered before it was read (below) is in
            super().on_message_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self.cycle is not None and self.cycle.more_body and not self.transport.is_closing():
                # Answered before its body was read (a refusal): the rest must still come in time, or a client
                # dripping it holds the connection (each byte would put off the keep-alive timeout).
                self._head_timer.arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._head_timer.cancel()
            super().connection_lost(exc)

    return _HttpToolsHeadTimeout


_HTTPTOOLS = _httptools_head_timeout()


def guarded_protocol(seconds: float, *, parser: str = "auto") -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools when installed, as uvicorn's ``auto``; or ``parser="h11"``) closing a
    connection whose request head is not complete ``seconds`` after the connection opened or the request began."""
    base: type[Any] = _HTTPTOOLS if parser in ("auto", "httptools") and _HTTPTOOLS is not None else _H11HeadTimeout
    if parser == "httptools" and _HTTPTOOLS is None:  # pragma: no cover
        raise ValueError("httptools is not installed")
    guarded: type[asyncio.Protocol] = type(base.__name__, (base,), {"head_timeout": float(seconds)})
    return guarded


class BodyDeadline:
    """Answers 408 when a request's body has not arrived ``seconds`` after its head. A plain ASGI middleware: the
    decorator form (BaseHTTPMiddleware) costs a task and a queue per request."""

    def __init__(self, app: Any, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds
        body_done = started = expired = False
        received = 0

        async def timed_receive() -> dict[str, Any]:
            nonlocal body_done, expired, received
            if expired:
                return {"type": "http.disconnect"}
            if body_done:
                return dict(await receive())  # waiting for a disconnect (a stream) is not bounded here
            remaining = deadline + received / MIN_BODY_RATE - loop.time()
            try:
                message: dict[str, Any] = await asyncio.wait_for(receive(), max(0.0, remaining))
            except TimeoutError:
                expired = True
                if not started:
                    await self._refuse(scope, send)
                # The app sees a client that went away; whatever it answers now is dropped below.
                return {"type": "http.disconnect"}
            received += len(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def guarded_send(message: dict[str, Any]) -> None:
            nonlocal started
            if expired:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, guarded_send)
        except Exception:
            if not expired:
                raise
            # The app failed on the body that never came (a client disconnect to it): the 408 was the answer.

    async def _refuse(self, scope: dict[str, Any], send: Any) -> None:
        log.info("request body not complete in time; answered 408", extra={"limit_s": self.seconds})
        message = errors.REQUEST_TIMEOUT.format(seconds=_seconds(self.seconds))
        await send_refusal(scope, send, 408, "request_timeout", message)


def _seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"
