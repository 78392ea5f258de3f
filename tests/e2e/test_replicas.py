"""Two processes of each service on the same databases and topics, behind a local haproxy (ServiceSet(replicas=2)):
both replicas of a service take requests, a replica killed with ``kill -9`` costs a client at most a retried request
and loses nothing, the consumer group hands a killed dispatch replica's partitions to the other, and a restarted
replica rejoins."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Running, services_running

GRID_WORKER = "GW-01"
HOUSEHOLDS = ("H-LK-1-101", "H-LK-1-102", "H-LK-2-201")  # GW-01's grid


@pytest.fixture(scope="module")
def pair() -> Iterator[Running]:
    with services_running("replicas", replicas=2) as r:
        yield r


def report(r: Running, n: int, *, category: str = "cold_room", retried: list[int]) -> str:
    """One-tap report through the balancer, resent with its idempotency key after a 502 or a broken connection
    (what a phone does): returns the report id; ``retried`` counts the resends."""
    body = {
        "household_id": HOUSEHOLDS[n % len(HOUSEHOLDS)],
        "category": category,
        "description": f"暖气不热（第{n}次上报）",
        "idempotency_key": f"replicas-{n}-{uuid.uuid4().hex[:6]}",
    }
    headers = {"Authorization": f"Bearer {r.client.tokens[GRID_WORKER]}"}
    for attempt in range(30):
        try:
            answer = httpx.post(r.services.url("intake") + "/v1/grid-reports", json=body, headers=headers, timeout=10)
            if answer.status_code < 500:
                assert answer.status_code in (200, 201), answer.text
                return str(answer.json()["id"])
        except httpx.TransportError:
            pass
        retried.append(n)
        time.sleep(0.2 * (attempt + 1))
    raise AssertionError(f"report {n} never accepted")


def served(r: Running, replica: str) -> float:
    """Grid reports the replica itself answered (its own /metrics, not the balancer's)."""
    text = httpx.get(r.services.url(replica) + "/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("http_requests_total{") and 'route="/v1/grid-reports"' in line and 'method="POST"' in line
    )


def cases_of(r: Running, report_ids: list[str]) -> dict[str, Any]:
    return {rid: r.client.wait_case_of(GRID_WORKER, rid, timeout=90) for rid in report_ids}


def test_both_replicas_serve_and_a_killed_one_costs_at_most_a_retry(pair: Running) -> None:
    s, retried = pair.services, []
    first = [report(pair, n, retried=retried) for n in range(12)]
    assert served(pair, "intake.1") > 0 and served(pair, "intake.2") > 0, "round-robin over both replicas"

    s.kill("intake.1")  # kill -9: no graceful shutdown
    during = [report(pair, n, retried=retried) for n in range(12, 36)]
    s.start("intake.1")
    s.wait_ready("intake.1", 120)
    after = [report(pair, n, retried=retried) for n in range(36, 48)]
    ids = first + during + after
    assert len(set(ids)) == len(ids) == 48, "every report accepted once"
    assert len(retried) <= 6, f"at most a retried request or two while the balancer takes the dead one out: {retried}"
    print(f"48 reports through the balancer, intake.1 kill -9'd and restarted: {len(retried)} resent")
    # every report reached dispatch and has its case, whichever replica accepted it
    cases = cases_of(pair, ids)
    assert all(cases.values())


def test_a_killed_dispatch_replica_hands_its_partitions_to_the_other(pair: Running) -> None:
    s, retried = pair.services, []
    s.kill("dispatch.1")
    started = time.monotonic()
    # new problems (a category of their own, so each is a new case) whose complaints land on every partition
    ids = [report(pair, n, category="air_lock", retried=retried) for n in range(3)]
    cases = cases_of(pair, ids)
    took = time.monotonic() - started
    assert all(cases.values())
    print(f"cases opened by the surviving dispatch replica within {took:.1f}s of the kill")
    s.start("dispatch.1")
    s.wait_ready("dispatch.1", 120)
