"""The simulator's client rides out a service that disappears: a request safe to resend is sent again, unchanged in
what identifies it (the idempotency key, the 12345 order number), until answered or out of patience; anything else
is not resent."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from deploy.platform12345 import sign
from deploy.simulate import actors, plan
from deploy.simulate import api as api_module
from deploy.simulate.api import Api, Credentials

pytestmark = pytest.mark.unit

_sleep = asyncio.sleep


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The resend's back-off is the client's business, not this test's: no waiting."""

    async def instant(_: float) -> None:
        await _sleep(0)

    monkeypatch.setattr(api_module.asyncio, "sleep", instant)


def flaky(failures: list[str], seen: list[httpx.Request]) -> httpx.MockTransport:
    """Fails the first requests as ``failures`` says ("connect": refused, "503": a service unavailable), then 201."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) <= len(failures):
            if failures[len(seen) - 1] == "connect":
                raise httpx.ConnectError("connection refused", request=request)
            return httpx.Response(503, json={"detail": "database starting up"})
        return httpx.Response(201, json={"id": "R-1", "report_id": "R-1"})

    return httpx.MockTransport(handle)


def api(transport: httpx.MockTransport, patience: float) -> Api:
    return Api(
        urls={"intake": "http://intake"},
        tokens={"gw": "token"},
        credentials=Credentials(),
        patience=patience,
        transport=transport,
    )


@pytest.mark.usefixtures("no_backoff")
async def test_a_keyed_report_is_resent_with_its_key_until_the_service_is_back() -> None:
    seen: list[httpx.Request] = []
    client = api(flaky(["connect", "503", "connect", "503", "connect", "503"], seen), patience=60)
    body = {"household_id": "H-1", "description": "暖气不热", "idempotency_key": "sim-1"}
    assert (await client.grid_report("gw", body))["id"] == "R-1"
    await client.close()
    assert len(seen) == 7  # more than the 3 retries a run without patience allows
    assert {json.loads(r.content)["idempotency_key"] for r in seen} == {"sim-1"}


@pytest.mark.usefixtures("no_backoff")
async def test_a_12345_order_is_resent_with_its_order_number_and_signed_anew() -> None:
    seen: list[httpx.Request] = []
    client = api(flaky(["connect", "503", "503", "connect", "503"], seen), patience=60)
    assert await client.hotline_order({"order_no": "SIM-1", "household_id": "H-1", "content": "家里冷"})
    await client.close()
    assert {json.loads(r.content)["order_no"] for r in seen} == {"SIM-1"}
    assert len({r.headers["X-Heat-Signature"] for r in seen}) == len(seen)  # no resend is refused as a replay
    for r in seen:
        assert r.headers["X-Heat-Signature"] == sign(
            Credentials().hotline_secret, r.headers["X-Heat-Timestamp"], r.content
        )


@pytest.mark.usefixtures("no_backoff")
async def test_without_patience_the_retries_are_counted_and_a_batch_is_resent_under_one_key() -> None:
    seen: list[httpx.Request] = []
    client = api(flaky(["connect"] * 10, seen), patience=0)
    with pytest.raises(httpx.ConnectError):
        await client.grid_report("gw", {"idempotency_key": "k"})
    assert len(seen) == 4
    seen.clear()
    patient = api(flaky(["503", "connect"], seen), patience=60)
    reading = {"sensor_id": "S-1", "measured_at": "2026-11-20T08:00:00+00:00", "temp_c": 15}
    assert await patient.sensor_readings([reading])
    await client.close()
    await patient.close()
    # a lost answer is resent under the batch's Idempotency-Key: intake stores it once
    assert len(seen) == 3 and len({r.headers["Idempotency-Key"] for r in seen}) == 1
    assert len({r.content for r in seen}) == 1


async def test_patience_runs_out() -> None:
    seen: list[httpx.Request] = []
    client = api(flaky(["connect"] * 1000, seen), patience=1.0)
    started = time.monotonic()
    with pytest.raises(httpx.ConnectError):
        await client.grid_report("gw", {"idempotency_key": "k"})
    await client.close()
    assert 1.0 <= time.monotonic() - started < 5


async def test_a_console_s_stream_is_followed_across_reconnections_until_it_is_refused(no_backoff: None) -> None:
    """The simulated console follows ``/console/events`` as EventSource does: every ``version`` of a stream, a new
    connection when one ends or breaks, and a refusal raised rather than retried for ever."""
    answers = [
        'retry: 50\n\nevent: version\ndata: {"version": "a", "open": 0}\n\n: ping\n\n'
        'event: version\ndata: {"version": "b", "open": 1}\n\n',
        "connect",
        'event: expired\ndata: {}\n\nevent: version\ndata: {"version": "c", "open": 1}\n\n',
        "401",
    ]
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers[len(seen) - 1]
        if answer == "connect":
            raise httpx.ConnectError("connection refused", request=request)
        if answer == "401":
            return httpx.Response(401, json={"detail": {"code": "unauthenticated"}})
        return httpx.Response(200, text=answer, headers={"content-type": "text/event-stream"})

    api = Api(
        urls={"dispatch": "http://dispatch"},
        tokens={"U-1": "tok"},
        credentials=Credentials(),
        transport=httpx.MockTransport(handle),
    )
    versions: list[str] = []
    with pytest.raises(api_module.Refused) as refused:
        async for version in api.versions("dispatch", "U-1"):
            versions.append(version)
    await api.close()
    assert versions == ["a", "b", "c"]
    assert refused.value.status == 401
    assert [(r.url.path, r.url.params["token"]) for r in seen] == [("/console/events", "tok")] * 4
    assert api.tally.transport_errors["console_events"] == 1


async def test_each_service_and_the_photo_store_have_a_pool_of_their_own() -> None:
    """One pool for all let a busy service's connections push out another's, and httpcore walks all of a pool's
    connections at each request: the load generator spent most of its CPU there."""
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        if request.url.path == "/v1/photos/uploads":
            return httpx.Response(201, json={"key": "k", "url": "http://s3/bucket", "fields": {}})
        return httpx.Response(200, json={})

    api = Api(
        urls={"intake": "http://intake", "dispatch": "http://dispatch"},
        tokens={"GW-1": "tok"},
        credentials=Credentials(),
        transport=httpx.MockTransport(handle),
    )
    await api.request("intake", "GET", "/v1/visits", label="visits", who="GW-1")
    await api.request("dispatch", "GET", "/v1/assignments", label="assignments", who="GW-1")
    await api.photo("dispatch", "GW-1", label="photo")
    pools = dict(api._pools)
    await api.close()
    assert seen == ["intake", "dispatch", "dispatch", "s3"]
    assert set(pools) == {"intake", "dispatch", "photo store"}
    assert len({id(p) for p in pools.values()}) == 3 and all(p.is_closed for p in pools.values())


async def test_an_assignee_whose_stream_is_refused_says_so_and_polls_its_list() -> None:
    reads: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/console/events":
            return httpx.Response(401, json={"detail": {"code": "unauthenticated"}})
        reads.append(request.url.path)
        return httpx.Response(200, json=[])

    api = Api(
        urls={"dispatch": "http://dispatch"},
        tokens={"U-1": "tok"},
        credentials=Credentials(),
        transport=httpx.MockTransport(handle),
    )
    crew = actors.Crew(api, plan.Fates(1), minute_s=0.001, log=lambda _: None, poll_s=0.01)
    worker = asyncio.create_task(actors.assignee(crew, "U-1", plan.UnitProfile()))
    await asyncio.sleep(0.3)
    worker.cancel()
    await asyncio.gather(worker, return_exceptions=True)
    await api.close()
    assert len(crew.errors) == 1 and crew.errors[0].startswith("U-1 stream: console_events → 401")
    assert len(reads) >= 5 and set(reads) == {"/v1/assignments"}
