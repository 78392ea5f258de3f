"""Limits on what a caller may send: the size of a request body, and how often a caller may call.

Body size: ``BodyLimit``, a plain ASGI middleware installed by the runtime on every service. A declared
``Content-Length`` above the route's limit is refused before the app runs; a body streamed without one (chunked) is
counted as it arrives and refused at the first chunk past the limit, so it is never buffered whole. The rest of a
refused body is read and dropped (up to ``DRAIN_BYTES``) before the 413 goes out, so the client can read it. An API
with an error format of its own (Open311's list of ``{code, description}``) registers it for its path prefix with
``speak_refusals``, and gets the 413 (and shared.slow_requests' 408) in that format.

Rate: ``RateLimiter``, a token bucket per caller and kind of caller (a 12345 integration, a grid worker, an Open311
api_key). A bucket holds ``burst`` tokens and gains ``per_second`` of them a second; a request takes one, or is
refused with 429 and ``Retry-After`` (whole seconds until a token is there). The buckets are kept in the service's
database (``shared.rate_buckets``), so every replica spends the same budget: N replicas admit the configured rate,
not N times it. A token taken stays taken whatever becomes of the request (a 422 spends one like a 201).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared import errors, metrics
from shared.clock import TimeSource
from shared.errors import ApiError

# What is left of a refused body is read and dropped, up to this much, before the 413 is sent: a server that closes a
# connection with unread data resets it, and the client never reads the answer. A body more than this past its
# limit gets the 413 and the connection closed under it (the client may see only the reset).
DRAIN_BYTES = 16 * 1024 * 1024


# (path, status, message) → (content type, body): a refusal of the plumbing in the format of the API at that path.
RefusalFormat = Callable[[str, int, str], tuple[str, bytes]]


def speak_refusals(app: Any, prefix: str, render: RefusalFormat) -> None:
    """Refusals the plumbing writes itself (413) under ``prefix`` of ``app`` are rendered by ``render``."""
    formats: dict[str, RefusalFormat] = getattr(app.state, "refusal_formats", {})
    app.state.refusal_formats = {**formats, prefix: render}


def _format_for(scope: dict[str, Any]) -> RefusalFormat | None:
    # Starlette puts the app in the scope before its middleware runs.
    formats: dict[str, RefusalFormat] = getattr(getattr(scope.get("app"), "state", None), "refusal_formats", {})
    for prefix, render in formats.items():
        if scope["path"].startswith(prefix):
            return render
    return None


def render_refusal(scope: dict[str, Any], status: int, code: str, message: str) -> tuple[str, bytes]:
    """(content type, body) of a refusal the plumbing writes itself (413 here, 408 in shared.slow_requests): in the
    format registered for the request's path with ``speak_refusals``, else the error JSON."""
    if render := _format_for(scope):
        return render(scope["path"], status, message)
    detail = {"code": code, "message": message, "field": None}
    return "application/json", json.dumps({"detail": detail}, ensure_ascii=False).encode()


async def send_refusal(scope: dict[str, Any], send: Any, status: int, code: str, message: str) -> None:
    """Answers with a plumbing refusal (``render_refusal``) and closes the connection: the rest of the request's body
    is not read, so the connection cannot carry another request."""
    kind, body = render_refusal(scope, status, code, message)
    headers = [
        (b"content-type", kind.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@dataclass(frozen=True, slots=True)
class Rate:
    """A token bucket's shape: ``burst`` requests at once, then ``per_second`` on average."""

    per_second: float
    burst: int

    def __post_init__(self) -> None:
        if not self.per_second > 0 or self.burst < 1:
            raise ValueError(f"a rate needs per_second > 0 and burst >= 1, not {self}")

    @property
    def refill_seconds(self) -> float:
        """How long an empty bucket takes to fill: a bucket counted this long ago is full, the same as none."""
        return self.burst / self.per_second


@dataclass(frozen=True, slots=True)
class Bucket:
    """One caller's bucket: ``tokens`` as counted at ``at`` (seconds since the epoch). A caller without one has a
    full bucket.

    ``take`` is the whole arithmetic; ``shared.rate_buckets`` does the same in one SQL statement (its integration
    test holds the two to the same answers)."""

    tokens: float
    at: float

    @classmethod
    def full(cls, rate: Rate, now: float) -> Bucket:
        return cls(float(rate.burst), now)

    def take(self, rate: Rate, now: float) -> tuple[Bucket, float]:
        """The bucket after a request at ``now``, and the wait: 0.0 when a token was taken, else the seconds until
        one is there (nothing is taken). A time behind the bucket's — a clock set back, or another replica's clock
        running late — refills nothing and takes nothing back, and the bucket keeps its later time, so two clocks
        that disagree can only refill less, never count the same seconds twice."""
        at = max(self.at, now)
        tokens = min(float(rate.burst), self.tokens + (at - self.at) * rate.per_second)
        if tokens >= 1.0:
            return Bucket(tokens - 1.0, at), 0.0
        return Bucket(tokens, at), wait_for(tokens, rate)

    def is_full(self, rate: Rate, now: float) -> bool:
        """Full by ``now``: the same as no bucket."""
        return self.tokens + max(0.0, now - self.at) * rate.per_second >= rate.burst


def wait_for(tokens: float, rate: Rate) -> float:
    """Seconds until a bucket holding ``tokens`` (fewer than one) holds one."""
    return (1.0 - tokens) / rate.per_second


def retry_after(wait: float) -> int:
    """``Retry-After`` in whole seconds (at least 1): after it a token is there."""
    return max(1, math.ceil(wait - 1e-9))


class RateLimited(ApiError):
    def __init__(self, wait: float) -> None:
        seconds = retry_after(wait)
        super().__init__(
            429,
            "rate_limited",
            errors.RATE_LIMITED.format(seconds=seconds),
            headers={"Retry-After": str(seconds)},
        )
        self.retry_after = seconds


class BucketStore(Protocol):
    """Where the buckets are kept: ``shared.rate_buckets.SharedBuckets`` (the services' database, one budget for
    every replica) or ``MemoryBuckets`` (one process)."""

    async def take(self, kind: str, key: str, rate: Rate, now: datetime) -> float:
        """Take a token of ``key``'s bucket of ``kind``: 0.0 when granted, else the seconds until one is there."""
        ...

    async def prune(self, rates: Mapping[str, Rate], now: datetime) -> int:
        """Forget the buckets that are full by ``now`` (the same as no bucket); how many were forgotten."""
        ...


class MemoryBuckets:
    """Buckets in this process's memory: N processes admit N times the rate, a restart forgets them. What the
    shared store is measured against (``bench.rate_limits``) and what the limiter's unit tests run on."""

    def __init__(self, *, max_keys: int = 10_000) -> None:
        self._max_keys = max_keys
        self._buckets: dict[tuple[str, str], tuple[Bucket, Rate]] = {}

    async def take(self, kind: str, key: str, rate: Rate, now: datetime) -> float:
        t = now.timestamp()
        found = self._buckets.get((kind, key))
        bucket, wait = (found[0] if found else Bucket.full(rate, t)).take(rate, t)
        self._buckets[kind, key] = (bucket, rate)
        if len(self._buckets) > self._max_keys:
            # The keys are authenticated callers (integrations, Open311 clients, grid workers with a signed token),
            # so the set stays small; past the bound, the full buckets go.
            self._forget_full(t)
        return wait

    async def prune(self, rates: Mapping[str, Rate], now: datetime) -> int:
        return self._forget_full(now.timestamp())

    def _forget_full(self, now: float) -> int:
        full = [k for k, (b, rate) in self._buckets.items() if b.is_full(rate, now)]
        for k in full:
            del self._buckets[k]
        return len(full)

    def __len__(self) -> int:
        return len(self._buckets)


class RateLimiter:
    """The per-caller limits of one service: a bucket per caller and kind of caller in ``store``, refusals counted
    by kind."""

    def __init__(self, *, service: str, rates: Mapping[str, Rate], clock: TimeSource, store: BucketStore) -> None:
        self.service = service
        self.rates = dict(rates)
        self.store = store
        self._clock = clock
        for kind in rates:  # created at zero, so increase() sees the first refusal
            metrics.HTTP_RATE_LIMITED.labels(service, kind)

    async def wait(self, kind: str, key: str) -> float:
        """Take a token of ``key``'s bucket of ``kind``: 0.0 to go ahead, else seconds to wait (counted)."""
        wait = await self.store.take(kind, key, self.rates[kind], self._clock.now())
        if wait > 0:
            metrics.HTTP_RATE_LIMITED.labels(self.service, kind).inc()
        return wait

    async def check(self, kind: str, key: str) -> None:
        """Go ahead, or raise ``RateLimited`` (429 with ``Retry-After`` and the error JSON)."""
        wait = await self.wait(kind, key)
        if wait > 0:
            raise RateLimited(wait)

    async def prune(self) -> int:
        """Forget the buckets that have refilled (a background job of the service)."""
        return await self.store.prune(self.rates, self._clock.now())


class BodyLimit:
    """Refuses request bodies above the route's limit with 413 and the error JSON. A plain ASGI middleware: the
    decorator form (BaseHTTPMiddleware) costs a task and a queue per request."""

    def __init__(self, app: Any, service: str, default: int, limits: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.service = service
        self.default = default
        # path prefix → limit; the longest matching prefix wins.
        self.limits = sorted((limits or {}).items(), key=lambda item: len(item[0]), reverse=True)

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.limits:
            if path.startswith(prefix):
                return limit
        return self.default

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            if declared <= limit + DRAIN_BYTES:
                await _drain(receive, more=True)
            await self._refuse(scope, send, limit)
            return
        received = 0
        started = refused = False

        async def counting_receive() -> dict[str, Any]:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await _drain(receive, more=message.get("more_body", False))
                        await self._refuse(scope, send, limit)
                    # The app sees a client that went away; whatever it answers now is dropped below.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: dict[str, Any]) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not refused:
                raise
            # The app failed on the body it was denied (a client disconnect to it): the 413 was the answer.

    async def _refuse(self, scope: dict[str, Any], send: Any, limit: int) -> None:
        metrics.HTTP_BODY_TOO_LARGE.labels(self.service).inc()
        await send_refusal(scope, send, 413, "body_too_large", errors.BODY_TOO_LARGE.format(limit=limit))


async def _drain(receive: Any, *, more: bool) -> None:
    drained = 0
    while more and drained <= DRAIN_BYTES:
        message = await receive()
        if message["type"] != "http.request":
            return
        drained += len(message.get("body", b""))
        more = message.get("more_body", False)


def _content_length(scope: dict[str, Any]) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed Content-Length itself
    return None
