"""A 12345 platform, simulated: what the demo, the simulator and the e2e tests talk to as the city's hotline.

It speaks the published protocol and nothing else (written from the API description, importing nothing of the
services): ``X-Heat-Integration``, ``X-Heat-Timestamp`` (Unix seconds) and ``X-Heat-Signature`` = lowercase hex
HMAC-SHA256 with the integration's secret over ``timestamp + "." + body`` (the request path, with its query, for a
GET). Both ways:

- **Out** (``Platform``): signed work orders (派单), the operations on them — 撤单 (withdraw), 补充诉求
  (supplement), 催单 (hurry) — and status polls.
- **In** (``python -m deploy.platform12345 serve``): the status callbacks intake pushes to ``POST /callbacks``. It
  checks each one's signature and timestamp, drops a repeat of a delivery it already has (``X-Heat-Delivery:
  <order>:<seq>``; delivery is at least once), notes a callback that arrives out of its order's sequence, prints
  what it heard, and answers ``GET /heard`` with all of it. ``GET /readyz`` says it is up.

``make demo`` starts it beside the services (deploy.local.services) and points the development integration's
``callback_url`` at it, so every change of a 12345 order is called back and shown.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx

# The services' development integration (they refuse these credentials in production); the env overrides them.
DEV_INTEGRATION = "12345-dev"
DEV_SECRET = "dev-only-12345-secret-change-me"
MAX_SKEW_SECONDS = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signed_headers(integration: str, secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    timestamp = str(int(now if now is not None else time.time()))
    return {
        "X-Heat-Integration": integration,
        "X-Heat-Timestamp": timestamp,
        "X-Heat-Signature": sign(secret, timestamp, body),
    }


# -- out: orders and operations ----------------------------------------------------------------------------------


class PlatformRefused(RuntimeError):
    def __init__(self, what: str, response: httpx.Response) -> None:
        super().__init__(f"{what} → {response.status_code}: {response.text[:300]}")
        self.status = response.status_code


class Platform:
    """The platform's client of intake's 12345 API (synchronous: the demo's pace). Every send is signed anew with
    its own ``request_id``, so a resend is never refused as a replay, and stays idempotent by the order number or
    the operation id."""

    def __init__(
        self, intake_url: str, *, integration: str = DEV_INTEGRATION, secret: str = DEV_SECRET, timeout: float = 10
    ) -> None:
        self.intake_url = intake_url.rstrip("/")
        self.integration = integration
        self.secret = secret
        self._http = httpx.Client(timeout=timeout)

    @classmethod
    def from_env(cls, intake_url: str) -> Platform:
        e = os.environ.get
        return cls(
            intake_url, integration=e("HOTLINE_INTEGRATION", DEV_INTEGRATION), secret=e("HOTLINE_SECRET", DEV_SECRET)
        )

    def close(self) -> None:
        self._http.close()

    def _post(self, path: str, body: dict[str, Any], what: str) -> Any:
        raw = json.dumps(body | {"request_id": uuid.uuid4().hex}, ensure_ascii=False).encode()
        headers = signed_headers(self.integration, self.secret, raw) | {"Content-Type": "application/json"}
        r = self._http.post(self.intake_url + path, content=raw, headers=headers)
        if r.status_code >= 400:
            raise PlatformRefused(what, r)
        return r.json()

    def order(
        self, *, content: str, household_id: str | None = None, building_id: str | None = None, **more: Any
    ) -> Any:
        """派单: a new work order; returns intake's answer (its ``order_no`` among it)."""
        body = {"order_no": more.pop("order_no", None) or f"GD{uuid.uuid4().hex[:12].upper()}", "content": content}
        body |= {k: v for k, v in (("household_id", household_id), ("building_id", building_id)) if v}
        return self._post("/hotline/v1/orders", body | more, "order")

    def operate(self, order_no: str, kind: str, *, operation_id: str | None = None, **body: Any) -> Any:
        """撤单 (``withdraw``, with ``reason``), 补充诉求 (``supplement``, with ``content``), 催单 (``hurry``)."""
        body["operation_id"] = operation_id or f"OP-{uuid.uuid4().hex[:16]}"
        return self._post(f"/hotline/v1/orders/{order_no}/{kind}", body, kind)

    def status(self, order_no: str) -> Any:
        """A signed status poll (a read: the same signature may poll again)."""
        path = f"/hotline/v1/orders/{order_no}"
        r = self._http.get(self.intake_url + path, headers=signed_headers(self.integration, self.secret, path.encode()))
        if r.status_code >= 400:
            raise PlatformRefused("status", r)
        return r.json()


def heard(platform_url: str, order_no: str | None = None) -> dict[str, Any]:
    """What the platform heard: ``orders`` (order → its callbacks in the order they arrived), ``bad_signatures``,
    ``out_of_order``, ``repeats``."""
    params = {"order_no": order_no} if order_no else {}
    r = httpx.get(platform_url.rstrip("/") + "/heard", params=params, timeout=10)
    r.raise_for_status()
    return r.json()  # type: ignore[no-any-return]


# -- in: the callbacks ------------------------------------------------------------------------------------------


@dataclass
class Ear:
    """The callbacks heard, by order, checked as the platform checks them."""

    secrets: dict[str, str]
    orders: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    bad_signatures: int = 0
    out_of_order: list[str] = field(default_factory=list)
    repeats: int = 0
    quiet: bool = False

    def hear(self, headers: dict[str, str], body: bytes, *, now: float | None = None) -> tuple[int, dict[str, Any]]:
        """The answer to one callback: 401 for a bad signature or timestamp, else 200 (a repeat is acknowledged
        and not recorded twice)."""
        integration = headers.get("x-heat-integration", "")
        timestamp = headers.get("x-heat-timestamp", "")
        secret = self.secrets.get(integration)
        fresh = timestamp.isdigit() and abs((now or time.time()) - int(timestamp)) <= MAX_SKEW_SECONDS
        given = headers.get("x-heat-signature", "")
        if secret is None or not fresh or not hmac.compare_digest(sign(secret, timestamp, body), given.lower()):
            self.bad_signatures += 1
            return 401, {"error": "bad signature"}
        payload = json.loads(body)
        order, seq = str(payload["order_no"]), int(payload["seq"])
        heard = self.orders[order]
        if headers.get("x-heat-delivery") != f"{order}:{seq}":
            self.bad_signatures += 1
            return 400, {"error": "delivery id does not match the body"}
        if any(c["seq"] == seq for c in heard):
            self.repeats += 1
            return 200, {"ok": True, "repeat": True}
        if seq != len(heard) + 1:
            self.out_of_order.append(f"{order}:{seq} after {len(heard)}")
        heard.append({k: payload.get(k) for k in ("seq", "status", "status_text", "note", "occurred_at", "case_id")})
        if not self.quiet:
            print(f"[12345] 工单 {order} 回调 #{seq} {payload.get('status_text')}：{payload.get('note')}", flush=True)
        return 200, {"ok": True}

    def summary(self, order_no: str | None = None) -> dict[str, Any]:
        orders = {order_no: self.orders.get(order_no, [])} if order_no else dict(self.orders)
        return {
            "orders": orders,
            "bad_signatures": self.bad_signatures,
            "out_of_order": self.out_of_order,
            "repeats": self.repeats,
        }


def app(ear: Ear) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def callbacks(request: Request) -> JSONResponse:
        status, answer = ear.hear({k.lower(): v for k, v in request.headers.items()}, await request.body())
        return JSONResponse(answer, status_code=status)

    async def heard_route(request: Request) -> JSONResponse:
        return JSONResponse(ear.summary(request.query_params.get("order_no")))

    async def ready(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ready"})

    return Starlette(
        routes=[
            Route("/callbacks", callbacks, methods=["POST"]),
            Route("/heard", heard_route, methods=["GET"]),
            Route("/readyz", ready, methods=["GET"]),
        ]
    )


def serve(argv: list[str]) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m deploy.platform12345 serve")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PLATFORM12345_PORT", "8005")))
    parser.add_argument("--quiet", action="store_true", help="do not print each callback")
    args = parser.parse_args(argv)
    secrets = {os.environ.get("HOTLINE_INTEGRATION", DEV_INTEGRATION): os.environ.get("HOTLINE_SECRET", DEV_SECRET)}
    print(f"12345 平台（模拟）监听 http://127.0.0.1:{args.port}/callbacks", flush=True)
    uvicorn.run(app(Ear(secrets, quiet=args.quiet)), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    if sys.argv[1:2] != ["serve"]:
        raise SystemExit("usage: python -m deploy.platform12345 serve [--port N] [--quiet]")
    serve(sys.argv[2:])
