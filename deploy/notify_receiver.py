"""Every provider the notifications reach, played on one port: what the demo and the tests send to instead of
企业微信, 钉钉, 阿里云短信 and the units' own systems.

- ``POST /wecom/send?key=K`` — a 企业微信 group robot; ``POST /dingtalk/robot/send?access_token=T`` — a 钉钉
  group robot (加签 checked against the configured secret, timestamp within an hour); ``POST /sms/`` — Dysmsapi's
  RPC endpoint (``SendSms``, signature, AccessKey, SignName, TemplateCode checked); ``POST /webhook/{unit}`` — a
  unit's system (the ``X-Heat-*`` signature checked; a repeated ``X-Heat-Delivery`` acknowledged, not recorded
  twice). Checks are strict and answered with each provider's own error codes (``deploy.notify_checks``).
- Rate limits as the providers impose them (企业微信 and 钉钉 20 messages a minute per robot → 45009 / 130101; SMS a
  few a minute per number → ``isv.BUSINESS_LIMIT_CONTROL``; a webhook none unless set → 429 with Retry-After).
- An outage switch (``Ear.down(status)``, ``Ear.hang()``, ``Ear.up()``), in process for tests.
- ``GET /heard`` (``?kind=``) — every accepted message: kind, target, the message parsed, received_at; plus the
  refusals and repeats. ``GET /readyz`` says it is up. One line is printed per accepted message unless ``--quiet``.

As a process: ``python -m deploy.notify_receiver serve --port N [--quiet]`` (secrets from the environment, with
development defaults below). In process: ``async with RunningReceiver(Ear(...)) as url:`` on a free port.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from deploy import notify_checks as checks
from deploy.notify_checks import Refusal

DEV_DINGTALK_SECRET = "SECdev-only-dingtalk-secret-change-me"
DEV_SMS_KEY_ID = "dev-only-access-key-id"
DEV_SMS_KEY_SECRET = "dev-only-access-key-secret"
DEV_SMS_SIGN_NAME = "供热热线"
DEV_SMS_TEMPLATE = "SMS_DEV_CONTENT"
DEV_WEBHOOK_SECRET = "dev-only-unit-webhook-secret"
LABELS = {"wecom": "企业微信", "dingtalk": "钉钉", "sms": "短信", "webhook": "单位系统"}
PER_MINUTE = {"wecom": 20, "dingtalk": 20, "sms": 5, "webhook": 0}  # 0: no limit


@dataclass
class Ear:
    """The receiver's configuration and what it heard. ``clock`` gives Unix seconds (tests may pin it)."""

    wecom_keys: frozenset[str] | None = None  # None: any key is a robot
    dingtalk_tokens: frozenset[str] | None = None
    dingtalk_secrets: dict[str, str | None] = field(default_factory=dict)  # per token; None: unsigned robot
    dingtalk_default_secret: str | None = DEV_DINGTALK_SECRET
    sms_access_keys: dict[str, str] = field(default_factory=lambda: {DEV_SMS_KEY_ID: DEV_SMS_KEY_SECRET})
    sms_sign_name: str = DEV_SMS_SIGN_NAME
    sms_template_code: str = DEV_SMS_TEMPLATE
    webhook_secrets: dict[str, str] = field(default_factory=dict)  # per unit
    webhook_default_secret: str = DEV_WEBHOOK_SECRET
    per_minute: dict[str, int] = field(default_factory=lambda: dict(PER_MINUTE))
    webhook_retry_after: int = 60
    quiet: bool = True
    clock: Callable[[], float] = time.time
    heard: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    repeats: int = 0
    _down_status: int | None = None  # answer this to everything (0: answer nothing until up or released)
    _down_until: float | None = None
    _released: asyncio.Event = field(default_factory=asyncio.Event)
    _sent: dict[tuple[str, str], deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _nonces: set[str] = field(default_factory=set)
    _deliveries: set[tuple[str, str]] = field(default_factory=set)

    # -- the switch -----------------------------------------------------------------------------------------------

    def down(self, status: int = 503, seconds: float | None = None) -> None:
        """Answer ``status`` to every provider path, for ``seconds`` (None: until ``up()``)."""
        self._down_status, self._down_until = status, None if seconds is None else self.clock() + seconds
        self._released.clear()

    def hang(self, seconds: float | None = None) -> None:
        """Answer nothing (a sender's timeout fires) until ``up()`` or ``seconds`` pass."""
        self.down(0, seconds)

    def up(self) -> None:
        self._down_status = self._down_until = None
        self._released.set()

    async def outage(self) -> int | None:
        """The status to answer while down (None: up). A hang waits here until released, then answers 503."""
        if self._down_status is None:
            return None
        if self._down_until is not None and self.clock() >= self._down_until:
            self.up()
            return None
        if self._down_status == 0:
            left = None if self._down_until is None else max(0.0, self._down_until - self.clock())
            try:
                await asyncio.wait_for(self._released.wait(), left)
            except TimeoutError:
                pass
            return 503
        return self._down_status

    # -- limits and records ---------------------------------------------------------------------------------------

    def over_limit(self, kind: str, key: str) -> bool:
        """Counts this message against ``key``'s last 60 s; True when it is one too many."""
        limit = self.per_minute.get(kind, 0)
        if limit <= 0:
            return False
        now, sent = self.clock(), self._sent[(kind, key)]
        while sent and sent[0] <= now - 60:
            sent.popleft()
        if len(sent) >= limit:
            return True
        sent.append(now)
        return False

    def refuse(self, kind: str, target: str, refusal: Refusal) -> tuple[int, dict[str, Any], dict[str, str]]:
        self.refused.append({"kind": kind, "target": target, "status": refusal.status, "reason": refusal.reason})
        return refusal.status, refusal.body, {}

    def record(self, kind: str, target: str, message: dict[str, Any]) -> None:
        self.heard.append({"kind": kind, "target": target, "message": message, "received_at": self.clock()})
        if not self.quiet:
            print(describe(kind, target, message), flush=True)

    def summary(self, kind: str | None = None) -> dict[str, Any]:
        heard = [h for h in self.heard if kind in (None, h["kind"])]
        return {"heard": heard, "refused": self.refused, "repeats": self.repeats}

    # -- the four providers ---------------------------------------------------------------------------------------

    def wecom(self, query: dict[str, str], body: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        key = query.get("key", "")
        try:
            message = checks.wecom(key, body, keys=self.wecom_keys)
        except Refusal as refusal:
            return self.refuse("wecom", key, refusal)
        if self.over_limit("wecom", key):
            return self.refuse(
                "wecom", key, Refusal(200, {"errcode": 45009, "errmsg": "api freq out of limit"}, "45009")
            )
        self.record("wecom", key, message)
        return 200, {"errcode": 0, "errmsg": "ok"}, {}

    def dingtalk(self, query: dict[str, str], body: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        token = query.get("access_token", "")
        secret = self.dingtalk_secrets.get(token, self.dingtalk_default_secret)
        try:
            message = checks.dingtalk(query, body, secret=secret, tokens=self.dingtalk_tokens, now=self.clock())
        except Refusal as refusal:
            return self.refuse("dingtalk", token, refusal)
        if self.over_limit("dingtalk", token):
            answer = {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
            return self.refuse("dingtalk", token, Refusal(200, answer, "130101"))
        self.record("dingtalk", token, message)
        return 200, {"errcode": 0, "errmsg": "ok"}, {}

    def sms(self, method: str, params: dict[str, str]) -> tuple[int, dict[str, Any], dict[str, str]]:
        key_id = params.get("AccessKeyId", "")
        try:
            message = checks.aliyun(
                method,
                params,
                access_keys=self.sms_access_keys,
                sign_name=self.sms_sign_name,
                template_code=self.sms_template_code,
                used_nonces=self._nonces,
                now=self.clock(),
            )
        except Refusal as refusal:
            return self.refuse("sms", key_id, refusal)
        if any([self.over_limit("sms", phone) for phone in message["phones"]]):
            no = Refusal(200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控Permits:1"}, "limit")
            return self.refuse("sms", key_id, no)
        self.record("sms", ",".join(message["phones"]), message)
        biz = uuid.uuid4().hex[:20]
        return 200, {"Code": "OK", "Message": "OK", "BizId": biz, "RequestId": uuid.uuid4().hex}, {}

    def webhook(self, unit: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        secret = self.webhook_secrets.get(unit, self.webhook_default_secret)
        try:
            message = checks.webhook(headers, body, secret=secret, now=self.clock())
        except Refusal as refusal:
            return self.refuse("webhook", unit, refusal)
        if (unit, message["delivery"]) in self._deliveries:
            self.repeats += 1
            return 200, {"ok": True, "repeat": True}, {}
        if self.over_limit("webhook", unit):
            no = Refusal(429, {"error": "too many requests"}, "429")
            status, answer, _ = self.refuse("webhook", unit, no)
            return status, answer, {"Retry-After": str(self.webhook_retry_after)}
        self._deliveries.add((unit, message["delivery"]))
        self.record("webhook", unit, message)
        return 200, {"ok": True}, {}


def describe(kind: str, target: str, message: dict[str, Any]) -> str:
    """One accepted message as one line: which channel, which target, its first line, whom it @'d."""
    text = message.get("content") or message.get("text")
    if text is None:  # a unit's system: what kind of news, of which case and assignment
        data = message.get("data") or {}
        parts = [str(data.get(k)) for k in ("kind", "case_id", "assignment_id") if data.get(k)]
        text = " ".join(parts) or json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    first = text.strip().splitlines()[0].lstrip("#> ") if text.strip() else ""
    for tag in ('<font color="warning">', "</font>"):  # 企业微信's urgent tag, as a person reads it
        first = first.replace(tag, "")
    ats = message.get("mentions") or []
    return f"[{LABELS[kind]}] {target} ← {first}" + (f"（@{'、'.join(ats)}）" if ats else "")


def app(ear: Ear) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    def provider(handle: Callable[[Request, bytes], Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            body = await request.body()
            status = await ear.outage()
            if status is not None:
                return JSONResponse({"error": "service unavailable"}, status_code=status)
            code, answer, headers = handle(request, body)
            return JSONResponse(answer, status_code=code, headers=headers)

        return endpoint

    def sms(request: Request, body: bytes) -> Any:
        from urllib.parse import parse_qsl

        params = dict(request.query_params) | dict(parse_qsl(body.decode(errors="replace"), keep_blank_values=True))
        return ear.sms(request.method, params)

    async def heard(request: Request) -> JSONResponse:
        return JSONResponse(ear.summary(request.query_params.get("kind")))

    async def ready(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ready"})

    def lower(request: Request) -> dict[str, str]:
        return {k.lower(): v for k, v in request.headers.items()}

    return Starlette(
        routes=[
            Route("/wecom/send", provider(lambda r, b: ear.wecom(dict(r.query_params), b)), methods=["POST"]),
            Route(
                "/dingtalk/robot/send", provider(lambda r, b: ear.dingtalk(dict(r.query_params), b)), methods=["POST"]
            ),
            Route("/sms/", provider(sms), methods=["POST", "GET"]),
            Route(
                "/webhook/{unit}",
                provider(lambda r, b: ear.webhook(r.path_params["unit"], lower(r), b)),
                methods=["POST"],
            ),
            Route("/heard", heard, methods=["GET"]),
            Route("/readyz", ready, methods=["GET"]),
        ]
    )


class RunningReceiver:
    """The receiver behind uvicorn in this event loop on a free port (the server binds port 0 itself, so no other
    process can take it in between). ``await start()`` gives the base URL; ``stop()`` releases a hang first so the
    server can finish. Also ``async with RunningReceiver(ear) as url``."""

    def __init__(self, ear: Ear | None = None, host: str = "127.0.0.1") -> None:
        self.ear = ear or Ear()
        self.host = host
        self.url = ""
        self._server: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> str:
        import uvicorn

        config = uvicorn.Config(app(self.ear), host=self.host, port=0, log_level="warning", lifespan="off")
        self._server = server = uvicorn.Server(config)
        self._task = task = asyncio.create_task(server.serve())
        deadline = time.monotonic() + 30
        while not server.started and not task.done():
            if time.monotonic() > deadline:
                await self.stop()
                raise TimeoutError("the receiver did not start listening within 30 s")
            await asyncio.sleep(0.02)
        if not server.started:
            task.result()  # raises what stopped it
            raise RuntimeError("the receiver stopped before it listened")
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        self.ear.up()
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        self._server = self._task = None

    async def __aenter__(self) -> str:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def ear_from_env(*, quiet: bool) -> Ear:
    e = os.environ.get
    return Ear(
        dingtalk_default_secret=e("NOTIFY_DINGTALK_SECRET", DEV_DINGTALK_SECRET) or None,
        sms_access_keys={
            e("NOTIFY_SMS_ACCESS_KEY_ID", DEV_SMS_KEY_ID): e("NOTIFY_SMS_ACCESS_KEY_SECRET", DEV_SMS_KEY_SECRET)
        },
        sms_sign_name=e("NOTIFY_SMS_SIGN_NAME", DEV_SMS_SIGN_NAME),
        sms_template_code=e("NOTIFY_SMS_TEMPLATE_CODE", DEV_SMS_TEMPLATE),
        webhook_default_secret=e("NOTIFY_WEBHOOK_SECRET", DEV_WEBHOOK_SECRET),
        quiet=quiet,
    )


def serve(argv: list[str]) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m deploy.notify_receiver serve")
    parser.add_argument("--port", type=int, default=int(os.environ.get("NOTIFY_RECEIVER_PORT", "8006")))
    parser.add_argument("--quiet", action="store_true", help="do not print each message")
    args = parser.parse_args(argv)
    print(f"通知接收端（模拟企业微信、钉钉、短信、单位系统）监听 http://127.0.0.1:{args.port}", flush=True)
    uvicorn.run(app(ear_from_env(quiet=args.quiet)), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    if sys.argv[1:2] != ["serve"]:
        raise SystemExit("usage: python -m deploy.notify_receiver serve [--port N] [--quiet]")
    serve(sys.argv[2:])
