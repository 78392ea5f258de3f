"""What the intake benchmarks share: a fresh database and topic prefix on the real stack, the intake app in this
process, a registry big enough that every report opens its own incident, and the latency/throughput driver."""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.cpu import machine_cpu_seconds
from deploy.local.scratch_db import drop_database, recreate_database
from services.intake.config import IntakeSettings
from services.intake.main import create_app
from shared.db import create_engine, session_factory
from shared.migrate import upgrade
from shared.photos import PhotoStoreSettings
from shared.settings import DEV_ADMIN_TOKEN

# httpx's ASGI transport tries ``import sniffio`` on every request; absent, each try walks sys.path. Record the
# absence once so the client's cost does not blur the servers' (both sides of every comparison use this client).
sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

PG_PORT = int(os.environ.get("PG_PORT", "55432"))
KAFKA = f"127.0.0.1:{os.environ.get('KAFKA_PORT', '19092')}"
S3 = f"http://127.0.0.1:{os.environ.get('S3_PORT', '19000')}"
RUN = uuid.uuid4().hex[:8]
ADMIN = {"X-Admin-Token": DEV_ADMIN_TOKEN}
# One grid worker sends every report of a run: what is measured is the request path, not its rate limit.
UNLIMITED: dict[str, Any] = {"rate_limit_grid_worker_per_second": 1e6, "rate_limit_grid_worker_burst": 1_000_000}


def dsn(db: str) -> str:
    return f"postgresql://heat:heat@127.0.0.1:{PG_PORT}/{db}"


@contextlib.asynccontextmanager
async def scratch_sessions(
    name: str, *, migrations: Path | None = None
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on a fresh database of one connection (no ping), for a benchmark of statements: migrated to head
    from ``migrations`` if given; the engine disposed and the database dropped afterwards."""
    db = f"bench_{name}_{uuid.uuid4().hex[:6]}"
    await recreate_database(db)
    url = f"postgresql+asyncpg://heat:heat@127.0.0.1:{PG_PORT}/{db}"
    engine = create_engine(url, pool_size=1, pre_ping=False)
    try:
        if migrations is not None:
            await asyncio.to_thread(upgrade, migrations, url)
        yield session_factory(engine)
    finally:
        await engine.dispose()
        await drop_database(db)


@contextlib.asynccontextmanager
async def running_intake(name: str, **overrides: Any) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, str]]:
    """The intake app started in this process on a fresh database and topic prefix; dropped afterwards."""
    db = f"bench_{name}_{RUN}"
    await recreate_database(db)
    settings = IntakeSettings(
        database_url=f"postgresql+asyncpg://heat:heat@127.0.0.1:{PG_PORT}/{db}",
        kafka_bootstrap=KAFKA,
        kafka_topic_prefix=f"bench-{RUN}.",
        environment="test",
        log_level="WARNING",
        db_pool_size=20,
        photos=PhotoStoreSettings(endpoint_url=S3),
        **(UNLIMITED | overrides),
    )
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=60) as http:
                yield app, http, db
    finally:
        await drop_database(db)


def registry(households: int, *, grid: str = "G-B-01") -> dict[str, Any]:
    """One district … one grid, buildings of 50 households on two substations, ``households`` households."""
    areas = [
        {"id": "D-B", "kind": "district", "name": "压测区", "parent_id": None},
        {"id": "S-B", "kind": "street", "name": "压测街道", "parent_id": "D-B"},
        {"id": "CM-B", "kind": "community", "name": "压测社区", "parent_id": "S-B"},
        {"id": grid, "kind": "grid", "name": "压测网格", "parent_id": "CM-B"},
        {"id": "CP-B", "kind": "compound", "name": "压测小区", "parent_id": "CM-B"},
        {"id": "SS-B1", "kind": "substation", "name": "压测一站", "parent_id": None},
        {"id": "SS-B2", "kind": "substation", "name": "压测二站", "parent_id": None},
    ]
    n_buildings = (households + 49) // 50
    buildings = [
        {
            "id": f"B-B-{b}",
            "name": f"{b}号楼",
            "compound_id": "CP-B",
            "grid_id": grid,
            "substation_id": f"SS-B{b % 2 + 1}",
        }
        for b in range(n_buildings)
    ]
    homes = [
        {"id": f"H-B-{h}", "building_id": f"B-B-{h // 50}", "unit_no": "1", "room": str(h % 50)}
        for h in range(households)
    ]
    return {"areas": areas, "buildings": buildings, "households": homes}


@dataclass
class Figures:
    count: int
    seconds: float
    latencies: list[float]
    # CPU over the run: this process's (client and, in process, the server), and the whole machine's (the database
    # too). Steadier than a rate on two shared cores, and they show where work went.
    cpu_seconds: float = 0.0
    machine_cpu_seconds: float = 0.0

    @classmethod
    def merged(cls, runs: Sequence[Figures]) -> Figures:
        """Rounds of the same measurement as one: counts, seconds and CPU added, latencies pooled."""
        return cls(
            sum(r.count for r in runs),
            sum(r.seconds for r in runs),
            [x for r in runs for x in r.latencies],
            sum(r.cpu_seconds for r in runs),
            sum(r.machine_cpu_seconds for r in runs),
        )

    @property
    def cpu_us_each(self) -> tuple[float, float]:
        """CPU µs per call: this process's, the machine's."""
        calls = max(self.count, 1)
        return self.cpu_seconds / calls * 1e6, self.machine_cpu_seconds / calls * 1e6

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else 0.0

    def line(self, label: str, unit: str = "req/s") -> str:
        mean = statistics.fmean(self.latencies) * 1000 if self.latencies else 0.0
        return (
            f"{label:<44} {self.rate:>10,.0f} {unit}   p50 {self.pct(0.50):7.2f} ms   p99 {self.pct(0.99):7.2f} ms"
            f"   mean {mean:6.2f} ms   CPU µs each: this process {self.cpu_us_each[0]:.1f},"
            f" machine {self.cpu_us_each[1]:.1f}   (n={self.count})"
        )


async def drive(total: int, concurrency: int, call: Callable[[int], Awaitable[None]]) -> Figures:
    """``total`` calls from ``concurrency`` workers; per-call latency and overall throughput."""
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            start = time.perf_counter()
            await call(i)
            latencies.append(time.perf_counter() - start)

    start, cpu, machine = time.perf_counter(), time.process_time(), machine_cpu_seconds()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Figures(
        total, time.perf_counter() - start, latencies, time.process_time() - cpu, machine_cpu_seconds() - machine
    )
