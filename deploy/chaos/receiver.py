"""A stand-in for the 12345 platform's callback endpoint: it checks each callback's signature, remembers every
delivery (``X-Heat-Delivery: <order_no>:<seq>``) and answers 200, so intake's callback queue drains during the run
and the audit can tell what 12345 heard, in which order, and how often."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from deploy.platform12345 import sign


@dataclass
class Receiver:
    integration: str
    secret: str
    port: int
    heard: Counter[tuple[str, int]] = field(default_factory=Counter)  # (order_no, seq) → deliveries
    order: dict[str, list[int]] = field(default_factory=dict)  # order_no → seqs in the order first heard
    statuses: dict[tuple[str, int], str] = field(default_factory=dict)
    bad_signatures: int = 0
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/callbacks"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the sender died mid-request (intake kill -9'd): nothing was delivered, it sends again
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        ts = headers.get("x-heat-timestamp", "")
        if headers.get("x-heat-signature") != sign(self.secret, ts, body):
            self.bad_signatures += 1
        with contextlib.suppress(ValueError, KeyError):
            order_no, seq = headers["x-heat-delivery"].rsplit(":", 1)
            key = (order_no, int(seq))
            if key not in self.heard:
                self.order.setdefault(order_no, []).append(int(seq))
                self.statuses[key] = str(json.loads(body).get("status"))
            self.heard[key] += 1
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})

    def start(self, timeout: float = 10.0) -> None:
        """Serve in a thread of its own (uvicorn takes over signals only in the main thread, which the run keeps)."""
        config = uvicorn.Config(self, host="127.0.0.1", port=self.port, log_config=None, access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=asyncio.run, args=(self._server.serve(),), daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the 12345 callback receiver did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)

    def out_of_order(self) -> int:
        """Orders whose callbacks were first heard out of sequence (#2 before #1)."""
        return sum(1 for seqs in self.order.values() if seqs != sorted(seqs))
