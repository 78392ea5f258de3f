"""shared.limits on a hand-moved clock: the bucket arithmetic (``Bucket.take``, which the database store repeats in
SQL), the in-memory store, the per-kind limiter and its counter, the body-size middleware (a declared Content-Length,
and a streamed body without one), and the sensor route's limit against the heaviest valid batch."""

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
from shared.limits import BodyLimit, Bucket, MemoryBuckets, Rate, RateLimited, RateLimiter, retry_after


def seconds(clock: ManualClock, s: float) -> None:
    clock.advance(timedelta(seconds=s))


def takes(bucket: Bucket, rate: Rate, *times: float) -> tuple[Bucket, list[float]]:
    waits = []
    for t in times:
        bucket, wait = bucket.take(rate, t)
        waits.append(wait)
    return bucket, waits


def test_a_bucket_grants_its_burst_then_one_token_per_interval() -> None:
    rate = Rate(per_second=0.5, burst=3)
    bucket, waits = takes(Bucket.full(rate, 100.0), rate, 100.0, 100.0, 100.0, 100.0)
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(2.0)  # empty: the next token is 2 s away
    bucket, waits = takes(bucket, rate, 101.5, 102.0, 102.0)
    assert waits[0] == pytest.approx(0.5)  # three quarters of a token by now
    assert waits[1:] == [0.0, pytest.approx(2.0)]
    bucket, waits = takes(bucket, rate, 4000.0, 4000.0, 4000.0, 4000.0)  # a long pause refills the burst, no more
    assert waits == [0.0, 0.0, 0.0, pytest.approx(2.0)]


def test_a_refused_take_takes_nothing() -> None:
    rate = Rate(per_second=1, burst=1)
    bucket, _ = Bucket.full(rate, 0.0).take(rate, 0.0)
    for t in (0.25, 0.5, 0.75):
        bucket, wait = bucket.take(rate, t)
        assert wait == pytest.approx(1.0 - t)
    assert bucket.take(rate, 1.0)[1] == 0.0


def test_a_time_behind_the_bucket_refills_nothing_and_the_bucket_keeps_its_later_time() -> None:
    """A clock set back, or a replica whose clock runs behind another's: the seconds between are never counted
    twice."""
    rate = Rate(per_second=1, burst=2)
    bucket, _ = takes(Bucket.full(rate, 1000.0), rate, 1000.0, 1000.0)
    late, wait = bucket.take(rate, 400.0)
    assert wait == pytest.approx(1.0) and late == Bucket(0.0, 1000.0)
    assert late.take(rate, 1000.5)[1] == pytest.approx(0.5)  # half a token since 1000, not 600.5 s of them


async def test_callers_and_kinds_have_buckets_of_their_own() -> None:
    store, clock, rate = MemoryBuckets(), ManualClock(), Rate(per_second=1, burst=1)
    assert await store.take("grid_worker", "GW-01", rate, clock.now()) == 0.0
    assert await store.take("grid_worker", "GW-01", rate, clock.now()) > 0
    assert await store.take("grid_worker", "GW-02", rate, clock.now()) == 0.0
    assert await store.take("open311", "GW-01", rate, clock.now()) == 0.0


async def test_refilled_buckets_are_forgotten_when_there_are_too_many_or_pruned() -> None:
    clock, rate = ManualClock(), Rate(per_second=1, burst=2)
    store = MemoryBuckets(max_keys=3)
    for key in ("a", "b", "c"):
        await store.take("k", key, rate, clock.now())
    seconds(clock, 1)  # a, b and c are full again
    await store.take("k", "d", rate, clock.now())
    await store.take("k", "d", rate, clock.now())
    await store.take("k", "e", rate, clock.now())  # the fifth key: the full ones go, "d" (empty) and "e" stay
    assert len(store) == 2
    assert await store.take("k", "d", rate, clock.now()) > 0
    seconds(clock, 1.5)  # "e" (taken 1.5 s ago, one token short) is full; "d" (just refused) is not
    assert await store.prune({"k": rate}, clock.now()) == 1 and len(store) == 1


def test_retry_after_is_whole_seconds_and_at_least_one() -> None:
    assert [retry_after(w) for w in (0.001, 1.0, 1.0000000001, 1.2, 59.9)] == [1, 1, 1, 2, 60]


def test_rates_must_refill_and_hold_a_token() -> None:
    with pytest.raises(ValueError):
        Rate(per_second=0, burst=10)
    with pytest.raises(ValueError):
        Rate(per_second=1, burst=0)
    assert Rate(per_second=0.5, burst=60).refill_seconds == 120.0


async def test_the_limiter_refuses_with_429_and_counts_by_kind_never_by_caller() -> None:
    clock = ManualClock()
    limiter = RateLimiter(
        service="unit-limits",
        rates={"grid_worker": Rate(0.25, 1), "hotline": Rate(10, 5)},
        clock=clock,
        store=MemoryBuckets(),
    )

    def refused(kind: str) -> float:
        return REGISTRY.get_sample_value("http_rate_limited_total", {"service": "unit-limits", "kind": kind}) or 0.0

    assert refused("hotline") == 0.0  # the series exist at zero before the first refusal
    await limiter.check("grid_worker", "GW-01")
    with pytest.raises(RateLimited) as caught:
        await limiter.check("grid_worker", "GW-01")
    assert caught.value.status == 429 and caught.value.code == "rate_limited"
    assert caught.value.headers == {"Retry-After": "4"} and caught.value.retry_after == 4
    assert caught.value.message == errors.RATE_LIMITED.format(seconds=4)
    assert refused("grid_worker") == 1.0 and refused("hotline") == 0.0
    samples = [s for m in REGISTRY.collect() if m.name == "http_rate_limited" for s in m.samples]
    assert all(set(s.labels) == {"service", "kind"} for s in samples)
    seconds(clock, 4)
    await limiter.check("grid_worker", "GW-01")


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
