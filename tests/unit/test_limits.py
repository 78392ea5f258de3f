"""shared.limits on a hand-moved clock: token buckets, the per-kind limiter and its counter, the body-size middleware
(a declared Content-Length, and a streamed body without one), and the sensor route's limit against the heaviest
valid batch."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from prometheus_client import REGISTRY

from services.intake.config import SENSOR_READING_MAX_BYTES, IntakeSettings
from services.intake.schemas import ReadingsIn
from shared import errors
from shared.clock import ManualClock
from shared.limits import BodyLimit, Rate, RateLimited, RateLimiter, TokenBuckets, retry_after


def seconds(clock: ManualClock, s: float) -> None:
    clock.advance(timedelta(seconds=s))


def test_a_bucket_grants_its_burst_then_one_token_per_interval() -> None:
    clock = ManualClock()
    buckets = TokenBuckets(Rate(per_second=0.5, burst=3), clock)
    assert [buckets.take("GW-01") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("GW-01") == pytest.approx(2.0)  # empty: the next token is 2 s away
    seconds(clock, 1.5)
    assert buckets.take("GW-01") == pytest.approx(0.5)  # three quarters of a token by now
    seconds(clock, 0.5)
    assert buckets.take("GW-01") == 0.0
    assert buckets.take("GW-01") == pytest.approx(2.0)
    seconds(clock, 3600)  # a long pause refills the burst, no more
    assert [buckets.take("GW-01") for _ in range(4)][-1] == pytest.approx(2.0)


def test_callers_have_buckets_of_their_own() -> None:
    buckets = TokenBuckets(Rate(per_second=1, burst=1), ManualClock())
    assert buckets.take("GW-01") == 0.0
    assert buckets.take("GW-01") > 0
    assert buckets.take("GW-02") == 0.0


def test_a_clock_set_back_refills_nothing() -> None:
    clock = ManualClock()
    buckets = TokenBuckets(Rate(per_second=1, burst=1), clock)
    assert buckets.take("k") == 0.0
    clock.set(clock.now() - timedelta(hours=1))
    assert buckets.take("k") == pytest.approx(1.0)


def test_refilled_buckets_are_forgotten_when_there_are_too_many() -> None:
    clock = ManualClock()
    buckets = TokenBuckets(Rate(per_second=1, burst=2), clock, max_keys=3)
    for key in ("a", "b", "c"):
        buckets.take(key)
    seconds(clock, 1)  # a, b and c are full again
    buckets.take("d")
    buckets.take("d")
    buckets.take("e")  # the fifth key: the full ones go, "d" (empty) and "e" stay
    assert len(buckets) == 2
    assert buckets.take("d") > 0


def test_retry_after_is_whole_seconds_and_at_least_one() -> None:
    assert [retry_after(w) for w in (0.001, 1.0, 1.0000000001, 1.2, 59.9)] == [1, 1, 1, 2, 60]


def test_rates_must_refill_and_hold_a_token() -> None:
    with pytest.raises(ValueError):
        Rate(per_second=0, burst=10)
    with pytest.raises(ValueError):
        Rate(per_second=1, burst=0)


def test_the_limiter_refuses_with_429_and_counts_by_kind_never_by_caller() -> None:
    clock = ManualClock()
    limiter = RateLimiter(
        service="unit-limits", rates={"grid_worker": Rate(0.25, 1), "hotline": Rate(10, 5)}, clock=clock
    )

    def refused(kind: str) -> float:
        return REGISTRY.get_sample_value("http_rate_limited_total", {"service": "unit-limits", "kind": kind}) or 0.0

    assert refused("hotline") == 0.0  # the series exist at zero before the first refusal
    limiter.check("grid_worker", "GW-01")
    with pytest.raises(RateLimited) as caught:
        limiter.check("grid_worker", "GW-01")
    assert caught.value.status == 429 and caught.value.code == "rate_limited"
    assert caught.value.headers == {"Retry-After": "4"} and caught.value.retry_after == 4
    assert caught.value.message == errors.RATE_LIMITED.format(seconds=4)
    assert refused("grid_worker") == 1.0 and refused("hotline") == 0.0
    samples = [s for m in REGISTRY.collect() if m.name == "http_rate_limited" for s in m.samples]
    assert all(set(s.labels) == {"service", "kind"} for s in samples)
    seconds(clock, 4)
    limiter.check("grid_worker", "GW-01")


# -- request bodies ----------------------------------------------------------------------------------------------


def body_app(limits: dict[str, int]) -> FastAPI:
    app = FastAPI()
    app.state.reached = []

    @app.post("/{path:path}")
    async def echo(path: str, request: Request) -> dict[str, Any]:
        body = await request.body()
        app.state.reached.append(path)
        return {"path": path, "bytes": len(body)}

    app.add_middleware(BodyLimit, service="unit-body", default=100, limits=limits)
    return app


def too_large() -> float:
    return REGISTRY.get_sample_value("http_body_too_large_total", {"service": "unit-body"}) or 0.0


async def chunks(n: int, size: int) -> AsyncIterator[bytes]:
    for _ in range(n):
        yield b"x" * size


async def test_a_declared_length_over_the_limit_is_refused_before_the_app_runs() -> None:
    app = body_app({})
    before = too_large()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        r = await http.post("/v1/reports", content=b"x" * 101)
        assert r.status_code == 413
        assert r.json() == {
            "detail": {"code": "body_too_large", "message": errors.BODY_TOO_LARGE.format(limit=100), "field": None}
        }
        assert r.headers["connection"] == "close"
        assert app.state.reached == []
        ok = await http.post("/v1/reports", content=b"x" * 100)
        assert ok.status_code == 200 and ok.json()["bytes"] == 100
    assert too_large() == before + 1


async def test_a_streamed_body_without_length_is_counted_and_cut_off() -> None:
    app = body_app({})
    before = too_large()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        r = await http.post("/v1/reports", content=chunks(5, 30))  # chunked: no Content-Length
        assert r.status_code == 413 and r.json()["detail"]["code"] == "body_too_large"
        assert app.state.reached == []  # the app never got the body
        ok = await http.post("/v1/reports", content=chunks(2, 50))
        assert ok.status_code == 200 and ok.json()["bytes"] == 100
    assert too_large() == before + 1


async def test_the_longest_matching_prefix_sets_the_limit() -> None:
    app = body_app({"/admin/": 1000, "/v1/sensor-readings": 500})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        assert (await http.post("/v1/sensor-readings", content=b"x" * 500)).status_code == 200
        assert (await http.post("/v1/sensor-readings", content=chunks(6, 100))).status_code == 413
        assert (await http.post("/admin/registry", content=b"x" * 1000)).status_code == 200
        assert (await http.post("/admin/registry", content=b"x" * 1001)).status_code == 413
        assert (await http.post("/v1/grid-reports", content=b"x" * 101)).status_code == 413


def heaviest_batch(n: int, *, indent: int | None) -> bytes:
    """The heaviest valid readings: a 64-character id (registry ids are ASCII), a timestamp with microseconds and
    offset, a 17-digit temperature."""
    reading = {
        "sensor_id": "S" * 64,
        "measured_at": "2026-11-20T08:00:00.123456+08:00",
        "temp_c": -0.30000000000000004,
    }
    return json.dumps({"readings": [reading] * n}, indent=indent).encode()


def test_the_sensor_route_admits_a_full_batch_of_the_heaviest_valid_readings() -> None:
    settings = IntakeSettings(environment="test")
    each = len(heaviest_batch(2, indent=4)) - len(heaviest_batch(1, indent=4))
    assert each <= SENSOR_READING_MAX_BYTES
    full = heaviest_batch(settings.sensor_max_batch, indent=4)
    assert len(ReadingsIn.model_validate_json(full).readings) == settings.sensor_max_batch
    assert len(full) <= settings.sensor_max_body_bytes < 2 * len(full)
    assert settings.sensor_max_body_bytes > settings.max_body_bytes  # the default would refuse it
    bigger = IntakeSettings(environment="test", sensor_max_batch=20_000)
    assert len(heaviest_batch(20_000, indent=4)) <= bigger.sensor_max_body_bytes
