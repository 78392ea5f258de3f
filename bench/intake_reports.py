"""One-tap reports per second and their latency on the real stack, beside a raw baseline measured in the same run.

``python -m bench.intake_reports [TOTAL] [CONCURRENCY]`` (the local stack must be up: ``deploy/local/stack up``).

- intake: ``POST /v1/grid-reports`` of the intake app in this process (HTTP through httpx's ASGI transport, token
  check, validation, registry enrichment, classification, grouping, report + timeline + outbox row in one
  transaction; the outbox relay publishes to Kafka meanwhile). Every report is a new incident (its own household).
- baseline: the same HTTP client, transport and concurrency against a bare FastAPI endpoint that does one
  single-row INSERT and COMMIT through an asyncpg pool of the same size.
- plumbing floor: a bench-only route added to the same intake app (the shared middleware, token check, body
  validation and SQLAlchemy session of every endpoint) doing the baseline's one INSERT + COMMIT: how much of the
  gap is the common stack rather than intake's own work.
- raw asyncpg: the same insert + commit with no HTTP at all, for scale.

Prints the figures and the ratio intake / baseline (target ``TARGET``, the suite's too). No assertion: figures, not
a test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI, Request
from sqlalchemy import text

from bench.intake_common import ADMIN, Figures, drive, dsn, registry, running_intake
from services.intake.api import Session
from services.intake.schemas import GridReportIn
from shared.auth import Principal, Role, issue, require
from shared.http.security import CurrentPrincipal
from shared.settings import DEV_AUTH_PRIVATE_KEY

TARGET = 0.35  # one-tap reports per second as a share of the baseline's, here and in the suite's table

CATEGORIES = ("cold_room", "leak", "clogged_filter", "air_lock")
DESCRIPTIONS = ("居民反映暖气不热，室温15度", "暖气片接口滴水", "入户滤网堵塞", "暖气片需要排气")
BASELINE_TABLE = """
CREATE TABLE IF NOT EXISTS bench_baseline (
    id text PRIMARY KEY, household_id text NOT NULL, category text NOT NULL, description text NOT NULL,
    measured_temp_c double precision, reported_at timestamptz NOT NULL
)"""
INSERT = (
    "INSERT INTO bench_baseline (id, household_id, category, description, measured_temp_c, reported_at) "
    "VALUES ($1, $2, $3, $4, $5, $6)"
)
POOL = 20


def body(i: int) -> dict[str, Any]:
    k = i % len(CATEGORIES)
    return {
        "household_id": f"H-B-{i}",
        "category": CATEGORIES[k],
        "description": DESCRIPTIONS[k],
        "measured_temp_c": 15.0,
    }


@contextlib.asynccontextmanager
async def baseline_app(db: str) -> AsyncIterator[httpx.AsyncClient]:
    pool = await asyncpg.create_pool(dsn(db), min_size=POOL, max_size=POOL)
    assert pool is not None
    async with pool.acquire() as conn:
        await conn.execute(BASELINE_TABLE)
    app = FastAPI()

    @app.post("/baseline", status_code=201)
    async def insert(request: Request) -> dict[str, str]:
        data = json.loads(await request.body())
        row_id = f"R-{uuid.uuid4().hex[:16]}"
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                INSERT,
                row_id,
                data["household_id"],
                data["category"],
                data["description"],
                data["measured_temp_c"],
                datetime.now(UTC),
            )
        return {"id": row_id}

    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://baseline", timeout=60) as http:
            yield http
    finally:
        await pool.close()


async def raw_loop(db: str, total: int, concurrency: int) -> Figures:
    pool = await asyncpg.create_pool(dsn(db), min_size=POOL, max_size=POOL)
    assert pool is not None

    async def one(i: int) -> None:
        b = body(i)
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                INSERT,
                f"X-{uuid.uuid4().hex}",
                b["household_id"],
                b["category"],
                b["description"],
                15.0,
                datetime.now(UTC),
            )

    try:
        return await drive(total, concurrency, one)
    finally:
        await pool.close()


@dataclass(frozen=True)
class Measured:
    intake: Figures
    baseline: Figures
    floor: Figures
    raw: Figures


async def measure(total: int, concurrency: int, warmup: int = 200) -> Measured:
    """Intake, the baseline, the plumbing floor (two interleaved rounds each) and raw asyncpg, one run."""
    async with running_intake("reports") as (app, http, db):
        (await http.put("/admin/registry", json=registry(total + warmup), headers=ADMIN)).raise_for_status()

        @app.post("/bench/floor", status_code=201)
        async def floor(body: GridReportIn, principal: CurrentPrincipal, session: Session) -> dict[str, str]:
            require(principal, Role.GRID_WORKER)
            row_id = f"F-{uuid.uuid4().hex[:16]}"
            await session.execute(
                text(
                    INSERT.replace("$1", ":id")
                    .replace("$2", ":h")
                    .replace("$3", ":c")
                    .replace("$4", ":d")
                    .replace("$5", ":t")
                    .replace("$6", ":at")
                ),
                {
                    "id": row_id,
                    "h": body.household_id,
                    "c": body.category,
                    "d": body.description,
                    "t": body.measured_temp_c,
                    "at": datetime.now(UTC),
                },
            )
            return {"id": row_id}

        token = issue(Principal(role=Role.GRID_WORKER, sub="GW-B", scope="G-B-01"), DEV_AUTH_PRIVATE_KEY)
        headers = {"Authorization": f"Bearer {token}"}

        async def report(i: int) -> None:
            r = await http.post("/v1/grid-reports", json=body(i), headers=headers)
            if r.status_code != 201:
                raise RuntimeError(f"{r.status_code}: {r.text}")

        async with baseline_app(db) as base:

            async def baseline(i: int) -> None:
                r = await base.post("/baseline", json=body(i))
                if r.status_code != 201:
                    raise RuntimeError(r.text)

            async def floor_call(i: int) -> None:
                r = await http.post("/bench/floor", json=body(i), headers=headers)
                if r.status_code != 201:
                    raise RuntimeError(r.text)

            await drive(warmup, concurrency, lambda i: report(total + i))
            await drive(warmup, concurrency, baseline)
            await drive(warmup, concurrency, floor_call)
            # interleave two rounds of each, so drift of the machine touches every side alike
            half = total // 2
            ours, base_runs, floor_runs = [], [], []
            for offset in (0, half):

                async def shifted(i: int, o: int = offset) -> None:
                    await report(o + i)

                ours.append(await drive(half, concurrency, shifted))
                base_runs.append(await drive(half, concurrency, baseline))
                floor_runs.append(await drive(half, concurrency, floor_call))
        raw = await raw_loop(db, total, concurrency)
    return Measured(Figures.merged(ours), Figures.merged(base_runs), Figures.merged(floor_runs), raw)


async def main(total: int, concurrency: int) -> None:
    m = await measure(total, concurrency)
    intake_fig, base_fig, floor_fig, raw = m.intake, m.baseline, m.floor, m.raw
    print(f"\nintake one-tap reports · real Kafka + PostgreSQL · {total} requests, concurrency {concurrency}")
    print(intake_fig.line("intake POST /v1/grid-reports"))
    print(base_fig.line("baseline: HTTP + asyncpg 1-row INSERT+COMMIT"))
    print(floor_fig.line("plumbing floor: intake app, 1-row INSERT+COMMIT"))
    print(raw.line("raw asyncpg 1-row INSERT+COMMIT (no HTTP)"))
    print(f"ratio intake / baseline: {intake_fig.rate / base_fig.rate:.2f}   (target >= {TARGET})")
    print(f"ratio plumbing floor / baseline: {floor_fig.rate / base_fig.rate:.2f}   (the shared stack alone)")
    print(f"ratio intake / plumbing floor: {intake_fig.rate / floor_fig.rate:.2f}   (intake's own work)")
    print(f"ratio intake / raw asyncpg: {intake_fig.rate / raw.rate:.2f}")


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    c = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    asyncio.run(main(n, c))
