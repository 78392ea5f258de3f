"""Two intake replicas (two apps in this process on one fresh database, on the real PostgreSQL and Kafka) spend one
budget per caller: with a burst of B and a refill too small to count, B requests are admitted in all — not B per
replica — whether they come one after another or all at once; the rest are 429 with Retry-After, a token spent by a
request that then fails stays spent. The bucket arithmetic in SQL gives the answers of ``shared.limits.Bucket.take``
step for step, and buckets that have refilled are pruned."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import delete, select

from services.intake.config import DEV_HOTLINE_INTEGRATION, DEV_HOTLINE_SECRET, DEV_OPEN311_KEY, IntakeSettings
from services.intake.hotline import signed_headers
from services.intake.main import create_app
from services.intake.models import rate_buckets
from shared.clock import ManualClock
from shared.limits import Bucket, Rate, RateLimiter
from shared.photos import PhotoStoreSettings
from shared.rate_buckets import SharedBuckets
from tests.harness import (
    KAFKA,
    S3_ENDPOINT,
    InProcess,
    check_stack,
    drop_database,
    fresh_database,
    new_prefix,
    run_db,
    run_in_process,
)

BURST = 6
TINY = 0.001  # a token every 1,000 s: nothing refills while a test runs


@pytest.fixture(scope="module")
async def replicas() -> AsyncIterator[tuple[InProcess, InProcess]]:
    await check_stack()
    db = run_db("intake_rates")
    settings = IntakeSettings(
        database_url=await fresh_database(db),
        kafka_bootstrap=KAFKA,
        kafka_topic_prefix=new_prefix("rates"),
        environment="test",
        photos=PhotoStoreSettings(endpoint_url=S3_ENDPOINT),
        rate_limit_hotline_per_second=TINY,
        rate_limit_hotline_burst=BURST,
        rate_limit_open311_per_second=TINY,
        rate_limit_open311_burst=BURST,
    )
    try:
        # One after the other: two Alembic upgrades in one process at once share Alembic's global context.
        async with contextlib.AsyncExitStack() as stack:
            a = await stack.enter_async_context(run_in_process(create_app(settings)))
            b = await stack.enter_async_context(run_in_process(create_app(settings)))
            yield a, b
    finally:
        await drop_database(db)


@pytest.fixture
async def fresh(replicas: tuple[InProcess, InProcess]) -> tuple[InProcess, InProcess]:
    """Every bucket full: each test starts from no rows."""
    async with replicas[0].runtime.sessions() as session, session.begin():
        await session.execute(delete(rate_buckets))
    return replicas


def limited(kind: str) -> float:
    return REGISTRY.get_sample_value("http_rate_limited_total", {"service": "intake", "kind": kind}) or 0.0


async def lookup(app: InProcess) -> httpx.Response:
    """A signed status poll of an order that does not exist: 404 once admitted, 429 when not."""
    path = f"/hotline/v1/orders/GD-RATE-{uuid.uuid4().hex[:10]}"
    return await app.http.get(path, headers=signed_headers(DEV_HOTLINE_INTEGRATION, DEV_HOTLINE_SECRET, path.encode()))


def waited_out(r: httpx.Response) -> bool:
    """429 with a Retry-After of the tiny refill: about 1,000 s for the next token."""
    return r.status_code == 429 and 990 <= int(r.headers["Retry-After"]) <= 1000


async def test_two_replicas_admit_one_burst_between_them_one_after_another(fresh: tuple[InProcess, InProcess]) -> None:
    a, b = fresh
    before = limited("hotline")
    answers = [await lookup(a if i % 2 == 0 else b) for i in range(2 * BURST)]
    assert [r.status_code for r in answers[:BURST]] == [404] * BURST
    assert all(waited_out(r) for r in answers[BURST:]), [(r.status_code, r.headers.get("Retry-After")) for r in answers]
    assert answers[-1].json()["detail"]["code"] == "rate_limited"
    assert limited("hotline") == before + BURST  # counted where refused: the two replicas' refusals add up


async def test_concurrent_requests_on_both_replicas_do_not_over_admit(fresh: tuple[InProcess, InProcess]) -> None:
    a, b = fresh
    answers = await asyncio.gather(*(lookup(a if i % 2 == 0 else b) for i in range(4 * BURST)))
    statuses = [r.status_code for r in answers]
    assert statuses.count(404) == BURST, statuses
    assert sum(waited_out(r) for r in answers) == 3 * BURST


async def test_an_open311_key_shares_its_budget_across_replicas_and_a_failed_request_keeps_its_token_spent(
    fresh: tuple[InProcess, InProcess],
) -> None:
    """Refused after the rate (an unknown service code, 400): the token is spent all the same — the take is not part
    of the request's transaction."""
    a, b = fresh
    form = {"api_key": DEV_OPEN311_KEY, "service_code": "no_such_service"}
    answers = await asyncio.gather(
        *((a if i % 2 else b).http.post("/open311/v2/requests.json", data=form) for i in range(3 * BURST))
    )
    statuses = [r.status_code for r in answers]
    assert statuses.count(400) == BURST and statuses.count(429) == 2 * BURST, statuses
    refused = next(r for r in answers if r.status_code == 429)
    [problem] = refused.json()
    assert problem["code"] == 429 and 990 <= int(refused.headers["Retry-After"]) <= 1000
    # the hotline's budget is its own
    assert (await lookup(b)).status_code == 404


async def test_the_sql_gives_the_answers_of_the_python_arithmetic_step_for_step(
    fresh: tuple[InProcess, InProcess],
) -> None:
    """One caller's takes at drawn times (some behind the last, as from a replica whose clock runs late) through the
    database store and through ``Bucket.take``: the same waits, the same tokens left."""
    a, _ = fresh
    store = SharedBuckets(rate_buckets, lambda: a.runtime.engine)
    rate = Rate(per_second=2.5, burst=4)
    draw = random.Random(19)
    start = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    t, bucket = 0.0, Bucket.full(rate, start.timestamp())
    for _ in range(200):
        t = max(0.0, t + draw.choice((0.0, 0.0, 0.05, 0.13, 0.4, 1.0, -0.3, 2.0)))
        at = start + timedelta(microseconds=round(t * 1e6))
        bucket, expected = bucket.take(rate, at.timestamp())
        got = await store.take("grid_worker", "GW-SQL", rate, at)
        assert got == pytest.approx(expected, abs=1e-6), t
    async with a.runtime.sessions() as session:
        tokens = await session.scalar(select(rate_buckets.c.tokens).where(rate_buckets.c.caller == "GW-SQL"))
    assert tokens == pytest.approx(bucket.tokens, abs=1e-6)


async def test_buckets_that_have_refilled_are_pruned_and_the_others_kept(fresh: tuple[InProcess, InProcess]) -> None:
    a, b = fresh
    clock = ManualClock(datetime(2026, 12, 5, 8, 0, tzinfo=UTC))
    limiter = RateLimiter(
        service="intake",
        rates={"hotline": Rate(1.0, 10), "grid_worker": Rate(0.5, 2)},
        clock=clock,
        store=SharedBuckets(rate_buckets, lambda: a.runtime.engine),
    )
    await limiter.check("hotline", "12345-A")  # full again 10 s later
    await limiter.check("grid_worker", "GW-A")  # full again 4 s later
    clock.advance(timedelta(seconds=5))
    await limiter.check("grid_worker", "GW-B")  # full again at 9 s

    async def callers() -> set[str]:
        async with b.runtime.sessions() as session:
            return set((await session.scalars(select(rate_buckets.c.caller))).all())

    assert await limiter.prune() == 1 and await callers() == {"12345-A", "GW-B"}
    clock.advance(timedelta(seconds=4.5))
    assert await limiter.prune() == 1 and await callers() == {"12345-A"}
    # a pruned caller starts again from a full bucket
    assert [await limiter.wait("grid_worker", "GW-A") for _ in range(3)][-1] == pytest.approx(2.0)
