"""Plain ASGI middleware of every service (the decorator form, BaseHTTPMiddleware, costs a task and a queue per
request): the request id every log line carries, and HTTP metrics by route template."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from fastapi import Request

from shared import logging as json_logging
from shared import metrics

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# The path parameters a log line may carry: the ids of what a request acts on (never a person's).
LOGGED_PATH_IDS = ("case_id", "assignment_id", "visit_id", "report_id", "extension_id", "spot_check_id")


class RequestContext:
    """Binds a request id to every log line of the request (shared.logging.bound): the caller's ``X-Request-ID`` when
    it is a plain token of at most 64 characters, else a new one; the answer carries it back in ``X-Request-ID``, so
    a grid worker's report of a failure can be found in the logs. A plain ASGI middleware, like HttpMetrics."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-request-id"), "")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex

        async def tag(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        with json_logging.bound(request_id=request_id):
            await self.app(scope, receive, tag)


async def bind_path_ids(request: Request) -> None:
    """A dependency of every route: the ids its path names join the request's log context."""
    json_logging.bind(**{k: v for k, v in request.path_params.items() if k in LOGGED_PATH_IDS})


EVENT_STREAM = b"text/event-stream"


class HttpMetrics:
    """Requests and latency by route template. A plain ASGI middleware: the decorator form
    (BaseHTTPMiddleware) costs a task and a queue per request.

    The latency of an answer is until it is complete; of an event stream (a console's live updates, open for a
    while by design), until it opens: a stream's life in the histogram would fill its top bucket and every latency
    quantile operators read from it."""

    def __init__(self, app: Any, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        opened: float | None = None  # when an event stream's answer started: its latency, not its whole life

        async def remember_status(message: dict[str, Any]) -> None:
            nonlocal status, opened
            if message["type"] == "http.response.start":
                status = message["status"]
                if any(k.lower() == b"content-type" and v.startswith(EVENT_STREAM) for k, v in message["headers"]):
                    opened = time.perf_counter()
            await send(message)

        try:
            await self.app(scope, receive, remember_status)
        finally:
            template = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            metrics.HTTP_REQUESTS.labels(self.service, method, template, f"{status // 100}xx").inc()
            ended = opened if opened is not None else time.perf_counter()
            metrics.HTTP_LATENCY.labels(self.service, method, template).observe(ended - start)
