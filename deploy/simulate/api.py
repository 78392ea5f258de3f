"""The simulator's client of the public HTTP APIs (async, so hundreds of actors can wait at once): bearer tokens,
the admin token, 12345's signed orders and the sensor gateway's key, with a tally of every answer.

12345 signing is the published protocol (``X-Heat-Integration``, ``X-Heat-Timestamp``, ``X-Heat-Signature`` = hex
HMAC-SHA256 over ``timestamp + "." + body``), as the simulated platform speaks it (deploy.platform12345), which the
services' callbacks reach.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
import uuid
from collections import Counter
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from deploy import platform12345
from deploy.field_photo import field_jpeg
from shared.settings import DEV_ADMIN_TOKEN, DEV_AUTH_PRIVATE_KEY

# The services' development credentials (they refuse them in production); the env overrides them.
DEV_HOTLINE_INTEGRATION = platform12345.DEV_INTEGRATION
DEV_HOTLINE_SECRET = platform12345.DEV_SECRET
DEV_SENSOR_KEY = "dev-only-sensor-key-change-me"


@dataclass(frozen=True)
class Credentials:
    auth_private_key: str = DEV_AUTH_PRIVATE_KEY  # signs the tokens of people and systems it acts as
    admin_token: str = DEV_ADMIN_TOKEN
    hotline_integration: str = DEV_HOTLINE_INTEGRATION
    hotline_secret: str = DEV_HOTLINE_SECRET
    sensor_key: str = DEV_SENSOR_KEY

    @classmethod
    def from_env(cls) -> Credentials:
        e = os.environ.get
        return cls(
            auth_private_key=e("AUTH_PRIVATE_KEY", DEV_AUTH_PRIVATE_KEY),
            admin_token=e("ADMIN_TOKEN", DEV_ADMIN_TOKEN),
            hotline_integration=e("HOTLINE_INTEGRATION", DEV_HOTLINE_INTEGRATION),
            hotline_secret=e("HOTLINE_SECRET", DEV_HOTLINE_SECRET),
            sensor_key=e("SENSOR_KEY", DEV_SENSOR_KEY),
        )


# A 429 is waited out (Retry-After) this many times before it counts as a refusal.
MAX_THROTTLED = 20


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(max(float(response.headers.get("Retry-After", "1")), 0.05), 10.0)
    except ValueError:
        return 1.0


class Refused(RuntimeError):
    """A request the service answered with 4xx/5xx (after the retries a safe request is allowed)."""

    def __init__(self, label: str, response: httpx.Response) -> None:
        super().__init__(f"{label} → {response.status_code}: {response.text[:300]}")
        self.status = response.status_code
        self.code = _code(response)


def _code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    detail = body.get("detail", body) if isinstance(body, dict) else {}
    return str(detail.get("code", "")) if isinstance(detail, dict) else ""


class Spread:
    """Durations in buckets 5 % apart (from 0.1 ms): quantiles to that precision from a fixed few hundred counters,
    however many millions of calls a long run makes."""

    _STEP = math.log(1.05)
    _FLOOR = 1e-4

    def __init__(self) -> None:
        self.buckets: Counter[int] = Counter()
        self.n = 0

    def add(self, seconds: float) -> None:
        self.buckets[max(0, math.ceil(math.log(max(seconds, self._FLOOR) / self._FLOOR) / self._STEP))] += 1
        self.n += 1

    def quantile(self, q: float) -> float:
        """The upper edge of the bucket holding the ``q`` quantile, in seconds (0 with nothing counted)."""
        rank, seen = q * self.n, 0
        for bucket in sorted(self.buckets):
            seen += self.buckets[bucket]
            if seen >= rank:
                return float(self._FLOOR * math.exp(bucket * self._STEP))
        return 0.0


@dataclass
class Tally:
    """Every answer by (label, status), the transport failures, and the latencies: per label, the wait for one of
    the client's connections (``waits``) and the request from sending to its answer (``latency``)."""

    answers: Counter[tuple[str, int]] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    calls: int = 0
    waits: dict[str, Spread] = field(default_factory=dict)
    latency: dict[str, Spread] = field(default_factory=dict)

    def count(self, label: str, *, lo: int, hi: int) -> int:
        return sum(n for (lab, status), n in self.answers.items() if lab == label and lo <= status < hi)

    def restart_timing(self) -> None:
        """Forget the latencies so far: what follows is timed alone (a benchmark's window)."""
        self.waits, self.latency = {}, {}

    def timed(self, label: str, waited: float, answered: float) -> None:
        self.waits.setdefault(label, Spread()).add(waited)
        self.latency.setdefault(label, Spread()).add(answered)


class Api:
    """``patience`` (seconds, 0: off): a request safe to resend (``retries`` > 0) is resent after a transport error
    or a 5xx for as long as this, however many tries that takes — a service killed and restarted, or a database
    restarting, answers again within it. The resend is the same request: the same idempotency key, the same 12345
    order number (signed anew), so a report accepted but never answered is found, not made twice."""

    def __init__(
        self,
        *,
        urls: dict[str, str],
        tokens: dict[str, str],
        credentials: Credentials,
        concurrency: int = 48,
        patience: float = 0.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.urls = urls
        self.tokens = tokens
        self.credentials = credentials
        self.patience = patience
        self.tally = Tally()
        self._concurrency = concurrency
        self._transport = transport
        self._pools: dict[str, httpx.AsyncClient] = {}
        self._gate = asyncio.Semaphore(concurrency)
        # The consoles' live streams: each holds its own connection for as long as the service keeps it open, as a
        # browser's EventSource does, outside the pool the requests share.
        self._streams = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0), transport=transport)

    def _pool(self, name: str) -> httpx.AsyncClient:
        """The connections to one service (or to the photo store): a pool each. In one pool for all, the services'
        connections pushed each other out (an idle one closed to open one to another origin), and httpcore walks
        every connection of a pool at each request and each answer (polling the idle ones' sockets): at 64
        connections that bookkeeping was most of the load generator's CPU."""
        pool = self._pools.get(name)
        if pool is None:
            pool = self._pools[name] = httpx.AsyncClient(
                timeout=httpx.Timeout(30.0, connect=5.0),
                limits=httpx.Limits(max_connections=self._concurrency, max_keepalive_connections=self._concurrency),
                transport=self._transport,
            )
        return pool

    async def close(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()
        await self._streams.aclose()

    async def versions(self, service: str, who: str, *, label: str = "console_events") -> AsyncGenerator[str, None]:
        """What a console page does (``live.js``): follow the service's ``/console/events`` and yield each
        ``version`` it sends (one on every connection, then one per change). A stream that ends or breaks is opened
        again after the ``retry`` it named, as EventSource does; a refusal (4xx) is raised."""
        retry_s = 1.0
        while True:
            try:
                async with self._streams.stream(
                    "GET", self.urls[service] + "/console/events", params={"token": self.tokens[who]}
                ) as r:
                    self.tally.answers[(label, r.status_code)] += 1
                    if 400 <= r.status_code < 500:
                        await r.aread()
                        raise Refused(label, r)
                    event = ""
                    async for line in r.aiter_lines():
                        if line.startswith("retry:"):
                            retry_s = int(line[6:]) / 1000
                        elif line.startswith("event:"):
                            event = line[6:].strip()
                        elif line.startswith("data:") and event == "version":
                            yield json.loads(line[5:])["version"]
            except httpx.TransportError:
                self.tally.transport_errors[label] += 1
            await asyncio.sleep(retry_s)

    async def request(
        self,
        service: str,
        method: str,
        path: str,
        *,
        label: str,
        who: str | None = None,
        admin: bool = False,
        body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        retries: int = 0,
        sign_with: tuple[str, str] | None = None,
    ) -> Any:
        """One call; JSON answer or ``Refused``. ``retries``: for requests safe to resend (GETs, keyed POSTs), how
        often a transport error or a 5xx is retried (with ``patience``: until it has run out instead). A 429 is
        waited out and resent whatever ``retries`` says. ``sign_with`` (integration, secret) signs each attempt anew."""
        attempt = throttled = 0
        give_up = time.monotonic() + self.patience

        def again() -> bool:
            return retries > 0 and (attempt < retries or time.monotonic() < give_up)

        while True:
            h = dict(headers or {})
            if who is not None:
                h["Authorization"] = f"Bearer {self.tokens[who]}"
            if admin:
                h["X-Admin-Token"] = self.credentials.admin_token
            if body is not None and content is None:
                payload = json.dumps(body, ensure_ascii=False).encode()
                h["Content-Type"] = "application/json"
            else:
                payload = content or b""
            if sign_with is not None:
                ts = str(int(time.time()))
                if method == "GET":  # a GET signs its path (it sends no body) and is never a replay
                    signed = path.encode()
                else:
                    if attempt or throttled:  # a resend within the same second needs a new signature: a new request id
                        doc = json.loads(payload)
                        doc["request_id"] = f"{doc.get('order_no', '')}-r{attempt}-t{throttled}"
                        payload = json.dumps(doc, ensure_ascii=False).encode()
                    signed = payload
                h |= {
                    "X-Heat-Integration": sign_with[0],
                    "X-Heat-Timestamp": ts,
                    "X-Heat-Signature": platform12345.sign(sign_with[1], ts, signed),
                }
            started = sent = time.perf_counter()
            try:
                async with self._gate:
                    sent = time.perf_counter()
                    r = await self._pool(service).request(
                        method, self.urls[service] + path, content=payload or None, headers=h, params=params
                    )
                self.tally.timed(label, sent - started, time.perf_counter() - sent)
            except httpx.TransportError:
                self.tally.transport_errors[label] += 1
                if not again():
                    raise
                attempt += 1
                await asyncio.sleep(min(2.0, 0.2 * attempt))
                continue
            finally:
                self.tally.seconds += time.perf_counter() - started
                self.tally.calls += 1
            self.tally.answers[(label, r.status_code)] += 1
            if r.status_code == 429 and throttled < MAX_THROTTLED:
                # Refused before anything was done, so any request may be sent again, after the time it names.
                throttled += 1
                await asyncio.sleep(_retry_after(r))
                continue
            if r.status_code >= 500 and again():
                attempt += 1
                await asyncio.sleep(min(2.0, 0.2 * attempt))
                continue
            if r.status_code >= 400:
                raise Refused(label, r)
            return r.json() if r.content else None

    # -- photos ---------------------------------------------------------------------------------------------------

    async def photo(self, service: str, who: str, *, label: str) -> str:
        """A photo taken now, uploaded with a grant of ``service`` (to name in an action sent to it): the grant
        (an unused one is harmless) and the S3 upload are retried like any request safe to resend."""
        grant = await self.request(
            service,
            "POST",
            "/v1/photos/uploads",
            label=f"{label}_grant",
            who=who,
            body={"content_type": "image/jpeg"},
            retries=3,
        )
        data = field_jpeg(datetime.now(UTC), shade=len(grant["key"]))
        give_up, attempt = time.monotonic() + max(self.patience, 10.0), 0
        while True:
            try:
                r = await self._pool("photo store").post(
                    grant["url"], data=grant["fields"], files={"file": ("photo.jpg", data, "image/jpeg")}
                )
            except httpx.TransportError:
                r = None
            self.tally.answers[(f"{label}_upload", r.status_code if r is not None else 0)] += 1
            if r is not None and r.status_code < 300:
                return str(grant["key"])
            if (r is not None and r.status_code < 500) or time.monotonic() > give_up:
                raise RuntimeError(f"photo upload to S3 failed: {r.status_code if r is not None else 'no connection'}")
            attempt += 1
            await asyncio.sleep(min(2.0, 0.2 * attempt))

    # -- the channels --------------------------------------------------------------------------------------------

    async def grid_report(self, who: str, body: dict[str, Any]) -> Any:
        return await self.request(
            "intake", "POST", "/v1/grid-reports", label="grid_report", who=who, body=body, retries=3
        )

    async def log_visit(self, who: str, body: dict[str, Any]) -> Any:
        return await self.request("intake", "POST", "/v1/visits", label="ledger_visit", who=who, body=body, retries=3)

    async def hotline_order(self, body: dict[str, Any]) -> Any:
        c = self.credentials
        return await self.request(
            "intake",
            "POST",
            "/hotline/v1/orders",
            label="hotline_order",
            content=json.dumps(body, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json"},
            sign_with=(c.hotline_integration, c.hotline_secret),
            retries=3,
        )

    async def hotline_status(self, order_no: str) -> Any:
        """A signed status poll (a read: never refused as a replay)."""
        c = self.credentials
        return await self.request(
            "intake",
            "GET",
            f"/hotline/v1/orders/{order_no}",
            label="hotline_status",
            sign_with=(c.hotline_integration, c.hotline_secret),
            retries=3,
        )

    async def hotline_operation(self, order_no: str, kind: str, body: dict[str, Any]) -> Any:
        """撤单 / 补充诉求 / 催单 on an order: idempotent by ``operation_id``, so resent like an order."""
        c = self.credentials
        return await self.request(
            "intake",
            "POST",
            f"/hotline/v1/orders/{order_no}/{kind}",
            label=f"hotline_{kind}",
            content=json.dumps(body, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json"},
            sign_with=(c.hotline_integration, c.hotline_secret),
            retries=3,
        )

    async def sensor_readings(self, readings: list[dict[str, Any]]) -> Any:
        # Resent under its Idempotency-Key when the answer was lost (a 502 from a replica that died): stored once.
        key = {"Idempotency-Key": f"batch-{uuid.uuid4().hex}"}
        return await self.request(
            "intake",
            "POST",
            "/v1/sensor-readings",
            label="sensor_batch",
            body={"readings": readings},
            headers={"X-Api-Key": self.credentials.sensor_key} | key,
            retries=3,
        )
