"""Debian's Alertmanager, run with the project's routes and inhibition (deploy/alertmanager/alertmanager.yml through
``config_for``), delivers to a webhook receiver in this test: a page to the on-call's URL, a ticket to the group's,
each with the bearer token; with ServiceDown firing for dispatch, dispatch's other alerts are held back while
intake's still arrive. Seconds of grouping instead of minutes; no Kafka or PostgreSQL needed.

A missing prometheus-alertmanager is a failure (`python -m deploy.local.alertmanager install`, part of `make stack`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from deploy.local.alertmanager import SERVER, AlertmanagerServer, binary, config_for, write_config
from tests.harness import free_ports

pytestmark = pytest.mark.integration

TOKEN = "test-notify-token-0123456789"
TIMEOUT = 60.0


@dataclass(frozen=True)
class Delivery:
    path: str
    audience: str
    authorization: str
    body: dict[str, Any]

    def alertnames(self) -> set[tuple[str, str]]:
        return {(a["labels"]["alertname"], a["labels"].get("service", "")) for a in self.body["alerts"]}


@dataclass
class Receiver:
    """What dispatch's notifier would receive: every POST, as it came."""

    port: int
    deliveries: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def received(self, audience: str) -> set[tuple[str, str]]:
        with self.lock:
            return {name for d in self.deliveries if d.audience == audience for name in d.alertnames()}


def serve(receiver: Receiver) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            url = urlsplit(self.path)
            delivery = Delivery(
                url.path, parse_qs(url.query).get("audience", [""])[0], self.headers.get("Authorization", ""), body
            )
            with receiver.lock:
                receiver.deliveries.append(delivery)
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", receiver.port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    (port,) = free_ports(1)
    r = Receiver(port)
    server = serve(r)
    yield r
    server.shutdown()
    server.server_close()


@pytest.fixture
def alertmanager(tmp_path: Path, receiver: Receiver) -> Iterator[AlertmanagerServer]:
    if binary(SERVER) is None:
        pytest.fail(f"{SERVER} is missing: run `python -m deploy.local.alertmanager install`", pytrace=False)
    token = tmp_path / "notify-token"
    token.write_text(TOKEN + "\n")
    config = write_config(tmp_path / "alertmanager.yml", config_for(receiver.url, token))
    (port,) = free_ports(1)
    server = AlertmanagerServer(config, port, tmp_path / "state")
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def alert(name: str, severity: str, **labels: str) -> dict[str, Any]:
    return {
        "labels": {"alertname": name, "severity": severity, **labels},
        "annotations": {"summary": f"{name} 测试"},
    }


def wait_until(what: str, check: Callable[[], bool], alertmanager: AlertmanagerServer) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {TIMEOUT}s: {what}; alertmanager log:\n{alertmanager.tail()}")


def test_a_page_reaches_the_on_call_and_a_ticket_the_group(
    alertmanager: AlertmanagerServer, receiver: Receiver
) -> None:
    alertmanager.post_alerts(
        [
            alert("OutboxRelayFailing", "page", service="intake"),
            alert("DeadLettersArrived", "ticket", service="followup", topic="heat.verdicts", reason="schema"),
        ]
    )
    wait_until("the page and the ticket delivered", lambda: bool(receiver.received("oncall"))
               and bool(receiver.received("ops-group")), alertmanager)  # fmt: skip
    assert receiver.received("oncall") == {("OutboxRelayFailing", "intake")}
    assert receiver.received("ops-group") == {("DeadLettersArrived", "followup")}
    with receiver.lock:
        deliveries = list(receiver.deliveries)
    for delivery in deliveries:
        assert delivery.path == "/notify/v1/alertmanager"
        assert delivery.authorization == f"Bearer {TOKEN}"
        assert delivery.body["version"] == "4" and delivery.body["status"] == "firing"
        assert {"receiver", "groupKey", "groupLabels", "commonLabels", "externalURL", "alerts"} <= set(delivery.body)
    receivers = {d.audience: d.body["receiver"] for d in deliveries}
    assert receivers == {"oncall": "oncall-page", "ops-group": "ops-ticket"}


def test_service_down_holds_back_the_other_alerts_of_that_service_only(
    alertmanager: AlertmanagerServer, receiver: Receiver
) -> None:
    alertmanager.post_alerts(
        [
            alert("ServiceDown", "page", service="dispatch", job="dispatch", instance="127.0.0.1:8002"),
            alert("OutboxRelayFailing", "page", service="dispatch"),
            alert("BackgroundJobFailing", "ticket", service="dispatch", loop="timers"),
            alert("OutboxRelayFailing", "page", service="intake"),
            alert("BackgroundJobFailing", "ticket", service="intake", loop="callbacks"),
        ]
    )
    wait_until(
        "ServiceDown and intake's alerts delivered",
        lambda: (
            receiver.received("oncall") >= {("ServiceDown", "dispatch"), ("OutboxRelayFailing", "intake")}
            and ("BackgroundJobFailing", "intake") in receiver.received("ops-group")
        ),
        alertmanager,
    )
    # Alertmanager itself says why dispatch's alerts were not sent: inhibited by ServiceDown
    held = {
        (a["labels"]["alertname"], a["labels"]["service"]): a["status"]
        for a in alertmanager.alerts()
        if a["labels"]["service"] == "dispatch" and a["labels"]["alertname"] != "ServiceDown"
    }
    assert set(held) == {("OutboxRelayFailing", "dispatch"), ("BackgroundJobFailing", "dispatch")}
    for status in held.values():
        assert status["state"] == "suppressed" and status["inhibitedBy"], status
    assert receiver.received("oncall") == {("ServiceDown", "dispatch"), ("OutboxRelayFailing", "intake")}
    assert receiver.received("ops-group") == {("BackgroundJobFailing", "intake")}
