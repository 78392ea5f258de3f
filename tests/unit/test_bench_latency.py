"""The loop's latency figures: the generator's per-label spreads (wait for a connection, then the request) and the
services' histogram differenced over the window."""

from __future__ import annotations

import itertools
import random

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from bench.loop import client_latency, offered, route_buckets, server_latency
from deploy.simulate.api import Spread, Tally


def test_a_spread_s_quantiles_are_within_five_percent_of_the_exact_ones() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(-3, 1.2) for _ in range(20_000)]
    spread = Spread()
    for v in values:
        spread.add(v)
    ordered = sorted(values)
    for q in (0.5, 0.9, 0.99):
        exact = ordered[int(q * len(ordered)) - 1]
        assert exact <= spread.quantile(q) <= exact * 1.05 + 1e-4, q
    assert len(spread.buckets) < 400
    assert Spread().quantile(0.5) == 0.0


def test_client_latency_keeps_waits_and_requests_apart_per_label() -> None:
    tally = Tally()
    for _ in range(30):
        tally.timed("sign-in", 0.200, 0.010)
        tally.timed("assignments", 0.0, 0.050)
    tally.timed("rare", 0.0, 1.0)
    got = client_latency(tally)
    assert set(got) == {"assignments", "sign-in"}
    assert 200 <= got["sign-in"]["wait_p50_ms"] <= 210 and 10 <= got["sign-in"]["p99_ms"] <= 10.5
    assert got["assignments"]["wait_p99_ms"] <= 0.1 and got["assignments"]["n"] == 30


def test_server_latency_counts_only_the_window() -> None:
    inf = float("inf")
    route = "dispatch POST /v1/assignments/{assignment_id}/sign-in"
    first = {route: {0.005: 100.0, 0.01: 100.0, 0.025: 100.0, 0.1: 100.0, inf: 100.0}}
    # in the window: 10 under 5 ms, 80 between 10 and 25 ms, 10 between 25 and 100 ms
    last = {route: {0.005: 110.0, 0.01: 110.0, 0.025: 190.0, 0.1: 200.0, inf: 200.0}}
    got = server_latency(first, last)
    assert got[route] == {"n": 100.0, "p50_le_ms": 25.0, "p99_le_ms": 100.0}
    assert server_latency(last, last) == {}  # nothing served in the window


def test_route_buckets_add_up_the_processes_of_a_service_from_their_pages() -> None:
    pages = {}
    for url, seconds in (("http://a", [0.003, 0.02]), ("http://b", [0.2])):
        registry = CollectorRegistry()
        latency = Histogram(
            "http_request_duration_seconds", "", ["service", "method", "route"], registry=registry,
            buckets=(0.005, 0.025, 0.25),
        )  # fmt: skip
        for s in seconds:
            latency.labels("dispatch", "GET", "/v1/assignments").observe(s)
        pages[url] = generate_latest(registry).decode()
    got = route_buckets(pages, ["http://a", "http://b"])
    assert got == {"dispatch GET /v1/assignments": {0.005: 1.0, 0.025: 2.0, 0.25: 3.0, float("inf"): 3.0}}


def test_the_loop_s_rate_rises_over_the_warm_up_then_holds() -> None:
    assert offered(0, 20, 30) == 0
    assert offered(15, 20, 30) == 20 * 15 / 4  # half-way up the ramp: a quarter of the ramp's reports
    assert offered(30, 20, 30) == 300  # the ramp sends half of what the full rate would
    assert offered(90, 20, 30) - offered(30, 20, 30) == 20 * 60  # then the rate itself
    times = [t / 10 for t in range(0, 1200)]
    sent = [offered(t, 20, 30) for t in times]
    assert all(b >= a for a, b in itertools.pairwise(sent))
