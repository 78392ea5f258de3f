"""Limits with clear answers, on the real stack. A body above its route's limit is refused with 413 whether its length
is declared or it is streamed without one, before anyone is authenticated; a full batch of the heaviest valid sensor
readings is not. A grid worker, a 12345 integration and an Open311 api_key over their rate get 429 with Retry-After
(Open311 in the spec's error format), counted by kind of caller; requests refused for their credentials spend no
tokens. For the rate tests the intake app's limiter is replaced by one built from low settings on a hand-moved
clock, on the app's own database store (emptied before and after: its rows were counted on the system clock)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest
import uvicorn
from prometheus_client import REGISTRY
from sqlalchemy import delete, func, select

from services.intake.config import (
    DEV_HOTLINE_INTEGRATION,
    DEV_HOTLINE_SECRET,
    DEV_OPEN311_KEY,
    DEV_SENSOR_KEY,
    IntakeSettings,
)
from services.intake.hotline import signed_headers
from services.intake.models import Sensor, rate_buckets, sensor_readings
from shared import errors
from shared.clock import ManualClock
from shared.limits import RateLimiter
from shared.rate_buckets import SharedBuckets
from shared.settings import DEV_ADMIN_TOKEN
from tests.harness import serving
from tests.integration.conftest import Loop

ADMIN = {"X-Admin-Token": DEV_ADMIN_TOKEN}


def sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def too_large() -> float:
    return sample("http_body_too_large_total", {"service": "intake"})


def limited(kind: str) -> float:
    return sample("http_rate_limited_total", {"service": "intake", "kind": kind})


def settings(loop: Loop) -> IntakeSettings:
    s: IntakeSettings = loop.intake.app.state.context.settings
    return s


async def forget_buckets(loop: Loop) -> None:
    async with loop.intake.runtime.sessions() as session, session.begin():
        await session.execute(delete(rate_buckets))


@pytest.fixture
async def clock(loop: Loop) -> AsyncIterator[ManualClock]:
    """Low limits, set through the settings, on a clock the test moves; the app's own limiter is put back after."""
    low = settings(loop).model_copy(
        update={
            "rate_limit_grid_worker_per_second": 0.5,
            "rate_limit_grid_worker_burst": 2,
            "rate_limit_hotline_per_second": 1.0,
            "rate_limit_hotline_burst": 2,
            "rate_limit_open311_per_second": 0.2,
            "rate_limit_open311_burst": 1,
        }
    )
    # From the real time: the app's own prune job runs on the system clock, and would take buckets counted weeks
    # before it (ManualClock's default start) for full ones and delete them mid-test.
    manual = ManualClock(datetime.now(UTC))
    state = loop.intake.app.state.context
    own = state.rate_limits
    store = SharedBuckets(rate_buckets, lambda: loop.intake.runtime.engine)
    state.rate_limits = RateLimiter(service="intake", rates=low.rate_limits(), clock=manual, store=store)
    await forget_buckets(loop)
    try:
        yield manual
    finally:
        state.rate_limits = own
        await forget_buckets(loop)


async def stream(total: int, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield b" " * min(chunk, total - sent)
        sent += chunk


# -- request bodies ---------------------------------------------------------------------------------------------


async def test_a_body_over_the_limit_gets_413_declared_or_streamed_before_authentication(loop: Loop) -> None:
    limit = settings(loop).max_body_bytes
    before = too_large()
    body = json.dumps({"household_id": "H-LK-1-101", "description": "暖" + " " * limit}).encode()
    r = await loop.intake.http.post("/v1/grid-reports", content=body, headers=loop.auth("GW-01"))
    assert r.status_code == 413
    assert r.json() == {
        "detail": {"code": "body_too_large", "message": errors.BODY_TOO_LARGE.format(limit=limit), "field": None}
    }
    # no token at all: the size is refused first, without reading the body
    r = await loop.intake.http.post("/hotline/v1/orders", content=b"{" + b" " * limit + b"}")
    assert r.status_code == 413
    # streamed without a Content-Length (chunked): counted as it comes, cut off past the limit
    r = await loop.intake.http.post(
        "/v1/grid-reports", content=stream(limit + 1), headers=loop.auth("GW-01") | {"Content-Type": "application/json"}
    )
    assert r.status_code == 413 and r.json()["detail"]["code"] == "body_too_large"
    r = await loop.intake.http.post("/open311/v2/requests.json", content=stream(4 * limit))
    assert r.status_code == 413
    assert too_large() == before + 4
    # what fits goes through as before
    r = await loop.intake.http.post(
        "/v1/grid-reports", json={"household_id": "H-LK-1-101", "description": "暖气片不热"}, headers=loop.auth("GW-01")
    )
    assert r.status_code in (200, 201), r.text


async def test_a_full_batch_of_the_heaviest_valid_readings_is_taken_and_one_byte_more_is_not(loop: Loop) -> None:
    s = settings(loop)
    sensor = "S-" + "9" * 62  # the longest id (registry ids are ASCII: one byte a character)
    registry = {
        "households": [{"id": "H-IT-LIMIT-1", "building_id": "B-LK-1", "unit_no": "9", "room": "901"}],
        "sensors": [{"id": sensor, "household_id": "H-IT-LIMIT-1"}],
    }
    assert (await loop.intake.http.put("/admin/registry", json=registry, headers=ADMIN)).status_code == 200
    start = datetime(2026, 11, 20, 0, 0, 0, 123456, tzinfo=UTC)
    readings = [
        {"sensor_id": sensor, "measured_at": (start + timedelta(seconds=i)).isoformat(), "temp_c": 21.300000000000004}
        for i in range(s.sensor_max_batch)
    ]
    body = json.dumps({"readings": readings}, indent=4).encode()
    assert s.max_body_bytes < len(body) <= s.sensor_max_body_bytes
    r = await loop.intake.http.post(
        "/v1/sensor-readings", content=body, headers={"X-Api-Key": DEV_SENSOR_KEY, "Content-Type": "application/json"}
    )
    assert r.status_code == 200, r.text[:500]
    assert r.json() == {"stored": s.sensor_max_batch, "reports": []}
    async with loop.intake.runtime.sessions() as session:
        num = await session.scalar(select(Sensor.num).where(Sensor.id == sensor))
        stored = await session.scalar(
            select(func.count()).select_from(sensor_readings).where(sensor_readings.c.sensor_num == num)
        )
    assert stored == s.sensor_max_batch
    before = too_large()
    r = await loop.intake.http.post(
        "/v1/sensor-readings",
        content=stream(s.sensor_max_body_bytes + 1),
        headers={"X-Api-Key": DEV_SENSOR_KEY, "Content-Type": "application/json"},
    )
    assert r.status_code == 413 and too_large() == before + 1


async def test_a_client_on_a_real_socket_reads_the_413_of_a_body_far_over_the_limit(loop: Loop) -> None:
    """The rest of the body is read and dropped before the answer: closing on unread data would reset the
    connection, and the client would see a broken pipe instead of the 413."""
    config = uvicorn.Config(loop.intake.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    async with serving(config) as base, httpx.AsyncClient(base_url=base, timeout=60) as http:
        size = 8 * settings(loop).max_body_bytes
        r = await http.post("/v1/grid-reports", content=b" " * size, headers=loop.auth("GW-01"))
        assert r.status_code == 413 and r.json()["detail"]["code"] == "body_too_large"
        r = await http.post("/v1/grid-reports", content=stream(size), headers=loop.auth("GW-01"))
        assert r.status_code == 413 and r.json()["detail"]["code"] == "body_too_large"


# -- rates ---------------------------------------------------------------------------------------------------


def quiet_visit(household: str) -> dict[str, Any]:
    return {"household_id": household, "measured_temp_c": 20.5, "residents_reached": 1}


async def test_a_grid_worker_over_its_rate_gets_429_with_retry_after(loop: Loop, clock: ManualClock) -> None:
    before = limited("grid_worker")
    gw1, gw2 = loop.auth("GW-01"), loop.auth("GW-02")
    for _ in range(2):  # the burst
        assert (
            await loop.intake.http.post("/v1/visits", json=quiet_visit("H-LK-1-101"), headers=gw1)
        ).status_code == 201
    r = await loop.intake.http.post("/v1/visits", json=quiet_visit("H-LK-1-101"), headers=gw1)
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    assert r.json() == {"detail": {"code": "rate_limited", "message": "请求过于频繁，请 2 秒后再试", "field": None}}
    # a report counts against the same bucket
    r = await loop.intake.http.post(
        "/v1/grid-reports", json={"household_id": "H-LK-1-101", "description": "暖气不热"}, headers=gw1
    )
    assert r.status_code == 429
    assert limited("grid_worker") == before + 2
    # another worker has a bucket of its own
    assert (await loop.intake.http.post("/v1/visits", json=quiet_visit("H-DF-3-302"), headers=gw2)).status_code == 201
    clock.advance(timedelta(seconds=2))
    assert (await loop.intake.http.post("/v1/visits", json=quiet_visit("H-LK-1-101"), headers=gw1)).status_code == 201


def lookup(order_no: str, secret: str = DEV_HOTLINE_SECRET) -> tuple[str, dict[str, str]]:
    path = f"/hotline/v1/orders/{order_no}"
    return path, signed_headers(DEV_HOTLINE_INTEGRATION, secret, path.encode())


async def test_a_12345_integration_over_its_rate_gets_429_and_may_resend_the_same_request(
    loop: Loop, clock: ManualClock
) -> None:
    before = limited("hotline")
    bad_before = sample("intake_hotline_refused_total", {"reason": "bad_signature"})
    # refused for the credentials: no tokens spent (nobody drains an integration's bucket without its secret)
    for _ in range(3):
        path, headers = lookup(f"GD-LIMIT-{uuid.uuid4().hex[:8]}", secret="wrong-secret")
        assert (await loop.intake.http.get(path, headers=headers)).status_code == 401
    for _ in range(2):  # the burst: signed lookups of orders that do not exist
        path, headers = lookup(f"GD-LIMIT-{uuid.uuid4().hex[:8]}")
        r = await loop.intake.http.get(path, headers=headers)
        assert r.status_code == 404 and r.json()["detail"]["code"] == "order_not_found"
    path, headers = lookup(f"GD-LIMIT-{uuid.uuid4().hex[:8]}")
    r = await loop.intake.http.get(path, headers=headers)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    assert r.json()["detail"]["code"] == "rate_limited"
    assert limited("hotline") == before + 1
    assert sample("intake_hotline_refused_total", {"reason": "bad_signature"}) == bad_before + 3
    # the signature of a request refused for its rate is not spent: the same request goes through later
    clock.advance(timedelta(seconds=1))
    r = await loop.intake.http.get(path, headers=headers)
    assert r.status_code == 404, r.text


async def test_an_open311_key_over_its_rate_gets_429_in_the_spec_format(loop: Loop, clock: ManualClock) -> None:
    before = limited("open311")
    form = {"api_key": DEV_OPEN311_KEY, "service_code": "no_such_service"}  # refused after the key and the rate
    assert (await loop.intake.http.post("/open311/v2/requests.json", data=form)).status_code == 400
    wrong = form | {"api_key": "not-a-key"}
    assert (await loop.intake.http.post("/open311/v2/requests.json", data=wrong)).status_code == 403
    r = await loop.intake.http.post("/open311/v2/requests.json", data=form)
    assert r.status_code == 429 and r.headers["Retry-After"] == "5"
    [problem] = r.json()
    assert problem["code"] == 429 and problem["description"].startswith("请求过于频繁")
    x = await loop.intake.http.post("/open311/v2/requests.xml", data=form)
    assert x.status_code == 429 and x.headers["Retry-After"] == "5"
    assert ET.fromstring(x.content).find("error/code").text == "429"  # type: ignore[union-attr]
    assert limited("open311") == before + 2
    clock.advance(timedelta(seconds=5))
    assert (await loop.intake.http.post("/open311/v2/requests.json", data=form)).status_code == 400
