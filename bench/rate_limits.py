"""What the shared rate limit costs a request, beside raw baselines measured in the same run.

``python -m bench.rate_limits [CHECKS] [REPORTS] [CONCURRENCY]`` (the local stack must be up:
``deploy/local/stack up``).

On the intake app in this process (its engine and pool, its migrated ``rate_buckets`` table):

- the limiter's check alone, the database store (``shared.rate_buckets``): calls spread over 1,000 callers, and every
  call on one caller (one row: the lock every replica takes in turn), beside a bare ``SELECT 1`` round trip on an
  autocommit connection of the same pool (the raw baseline: what any statement costs) and the in-memory store;
- one-tap reports (``POST /v1/grid-reports``) with the database store and with the in-memory one, two interleaved
  rounds of each, so drift of the machine touches both alike.

Prints the figures and the ratios. No assertion: figures, not a test.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass

from sqlalchemy import text

from bench.intake_common import ADMIN, Figures, drive, registry, running_intake
from bench.intake_reports import body
from services.intake.config import GRID_WORKER
from shared.auth import Principal, Role, issue
from shared.clock import SystemClock
from shared.limits import MemoryBuckets, RateLimiter
from shared.settings import DEV_AUTH_PRIVATE_KEY

CALLERS = 1000


@dataclass(frozen=True)
class Measured:
    select_1: Figures  # raw baseline: one round trip
    shared_spread: Figures  # the database store, calls over CALLERS callers
    shared_hot: Figures  # the database store, every call on one caller
    memory: Figures  # the in-memory store
    reports_shared: Figures  # one-tap reports, database store
    reports_memory: Figures  # one-tap reports, in-memory store


async def measure(checks: int, reports: int, concurrency: int, warmup: int = 100) -> Measured:
    async with running_intake("rates") as (app, http, _):
        (await http.put("/admin/registry", json=registry(warmup + 2 * reports), headers=ADMIN)).raise_for_status()
        ctx = app.state.context
        shared: RateLimiter = ctx.rate_limits
        memory = RateLimiter(service="bench", rates=shared.rates, clock=SystemClock(), store=MemoryBuckets())
        autocommit = ctx.runtime.engine.execution_options(isolation_level="AUTOCOMMIT")

        async def select_1(_: int) -> None:
            async with autocommit.connect() as conn:
                await conn.execute(text("SELECT 1"))

        async def spread(i: int) -> None:
            await shared.check(GRID_WORKER, f"GW-{i % CALLERS}")

        async def hot(_: int) -> None:
            await shared.check(GRID_WORKER, "GW-HOT")

        async def in_memory(i: int) -> None:
            await memory.check(GRID_WORKER, f"GW-{i % CALLERS}")

        for call in (select_1, spread, hot):
            await drive(warmup, concurrency, call)
        half = checks // 2
        runs: dict[str, list[Figures]] = {"select_1": [], "spread": [], "hot": [], "memory": []}
        for _ in range(2):
            for name, call in (("select_1", select_1), ("spread", spread), ("hot", hot), ("memory", in_memory)):
                runs[name].append(await drive(half, concurrency, call))

        token = issue(Principal(role=Role.GRID_WORKER, sub="GW-B", scope="G-B-01"), DEV_AUTH_PRIVATE_KEY)
        headers = {"Authorization": f"Bearer {token}"}
        sent = iter(range(10**9))

        async def report(_: int) -> None:
            r = await http.post("/v1/grid-reports", json=body(next(sent)), headers=headers)
            if r.status_code != 201:
                raise RuntimeError(f"{r.status_code}: {r.text}")

        await drive(warmup, concurrency, report)
        taps: dict[str, list[Figures]] = {"shared": [], "memory": []}
        for _ in range(2):
            for name, limiter in (("shared", shared), ("memory", memory)):
                ctx.rate_limits = limiter
                taps[name].append(await drive(reports // 2, concurrency, report))
        ctx.rate_limits = shared
    return Measured(
        select_1=Figures.merged(runs["select_1"]),
        shared_spread=Figures.merged(runs["spread"]),
        shared_hot=Figures.merged(runs["hot"]),
        memory=Figures.merged(runs["memory"]),
        reports_shared=Figures.merged(taps["shared"]),
        reports_memory=Figures.merged(taps["memory"]),
    )


async def main(checks: int, reports: int, concurrency: int) -> None:
    m = await measure(checks, reports, concurrency)
    print(f"\nshared rate limit · real PostgreSQL · {checks} checks, {reports} reports, concurrency {concurrency}")
    print(m.select_1.line("baseline: SELECT 1 round trip (same pool)", "/s"))
    print(m.shared_spread.line(f"limiter check, database, {CALLERS} callers", "/s"))
    print(m.shared_hot.line("limiter check, database, one caller", "/s"))
    print(m.memory.line("limiter check, in memory", "/s"))
    print(m.reports_shared.line("one-tap reports, database limiter"))
    print(m.reports_memory.line("one-tap reports, in-memory limiter"))
    print(f"ratio check (spread) / SELECT 1: {m.shared_spread.rate / m.select_1.rate:.2f}")
    print(f"ratio check (one caller) / SELECT 1: {m.shared_hot.rate / m.select_1.rate:.2f}")
    print(f"ratio one-tap reports, database / in-memory limiter: {m.reports_shared.rate / m.reports_memory.rate:.2f}")


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    r = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    c = int(sys.argv[3]) if len(sys.argv) > 3 else 32
    asyncio.run(main(n, r, c))
