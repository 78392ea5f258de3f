"""Durable deadlines across real dispatch processes: two replicas fire every due deadline exactly once, and a
replica killed mid-run (kill -9) and restarted fires nothing twice and misses nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update

from deploy.seed import registry
from services.dispatch import opening, rules
from services.dispatch import registry as units_registry
from services.dispatch.domain import load_rules
from services.dispatch.main import MIGRATIONS
from services.dispatch.models import outbox, timers
from shared import migrate
from shared.contracts.common import Category, Channel, Priority
from shared.contracts.intake import ComplaintReported
from shared.db import create_engine, session_factory
from shared.outbox import OutboxWriter
from shared.topics import Topics
from tests.harness import (
    KAFKA,
    SEED_HOUSEHOLD,
    check_stack,
    drop_database,
    free_ports,
    fresh_database,
    new_prefix,
    run_db,
)

REPO = Path(__file__).resolve().parents[2]
CASES = 120
STEPS_PER_CASE = 9  # one assignment × three clocks × (催办, 通报, 督办)
LOC = SEED_HOUSEHOLD


class Backlog:
    def __init__(self, url: str, prefix: str) -> None:
        self.url, self.prefix = url, prefix
        self.engine = create_engine(url)
        self.sessions = session_factory(self.engine)

    async def fill(self) -> None:
        """Cases dispatched three days ago and never touched: every clock and every escalation step is due."""
        await asyncio.to_thread(migrate.upgrade, MIGRATIONS, self.url)
        writer = OutboxWriter(outbox=outbox, topic=Topics(self.prefix).cases, producer="dispatch")
        long_ago = datetime.now(UTC) - timedelta(days=10)
        async with self.sessions() as s, s.begin():
            await rules.ensure_rules(s, default=load_rules())
            await units_registry.load_units(s, units=registry.dispatch_units(registry.read())["units"])
        async with self.sessions() as s, s.begin():
            for _ in range(CASES):
                rid = f"R-{uuid.uuid4().hex[:12]}"
                complaint = ComplaintReported(
                    report_id=rid,
                    channel=Channel.GRID_REPORT,
                    category=Category.COLD_ROOM,
                    priority=Priority.NORMAL,
                    priority_resident=False,
                    location=LOC,
                    description="测试",
                    reporter_kind="grid_worker",
                    reported_at=long_ago,
                )
                await opening.open_case(s, writer, complaint=complaint, at=long_ago)

    async def hold_until(self, seconds: float) -> None:
        """Keep every due timer back until the replicas are up, so they race for the same rows."""
        async with self.sessions() as s, s.begin():
            await s.execute(update(timers).values(due_at=func.now() + timedelta(seconds=seconds)))

    async def escalations(self) -> list[tuple[str, str, str]]:
        async with self.sessions() as s:
            rows = (await s.execute(select(outbox.c.value).where(outbox.c.event_type == "CaseEscalated"))).all()
        return [
            (r.value["payload"]["assignment_id"], r.value["payload"]["clock"], r.value["payload"]["level"])
            for r in rows
        ]

    async def unfired_due(self) -> int:
        async with self.sessions() as s:
            return int(
                await s.scalar(
                    select(func.count())
                    .select_from(timers)
                    .where(timers.c.fired_at.is_(None), timers.c.due_at <= func.now())
                )
                or 0
            )


@pytest.fixture
async def backlog() -> AsyncIterator[Backlog]:
    await check_stack()
    db = run_db(f"dispatch_replicas_{uuid.uuid4().hex[:6]}")
    b = Backlog(await fresh_database(db), new_prefix("replicas") + uuid.uuid4().hex[:4] + ".")
    await b.fill()
    yield b
    await b.engine.dispose()
    await drop_database(db)


@contextmanager
def replica(b: Backlog, port: int, log: Path, batch: int) -> Iterator[subprocess.Popen[bytes]]:
    env = dict(os.environ) | {
        "DISPATCH_DATABASE_URL": b.url,
        "DISPATCH_KAFKA_BOOTSTRAP": KAFKA,
        "DISPATCH_KAFKA_TOPIC_PREFIX": b.prefix,
        "DISPATCH_HTTP_PORT": str(port),
        "DISPATCH_TIMER_BATCH_SIZE": str(batch),
        "DISPATCH_TIMER_POLL_SECONDS": "0.05",
        "PYTHONPATH": str(REPO),
    }
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.dispatch", "serve"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=60)
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert datetime.now(UTC) < deadline, "replica not ready"
            time.sleep(0.2)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def until(what: str, probe: object, timeout: float = 120) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await probe():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


def fired_by(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("timers_fired_total{"))


def assert_exactly_once(steps: list[tuple[str, str, str]]) -> None:
    assert len(steps) == len(set(steps)), f"{len(steps) - len(set(steps))} escalation steps fired twice"
    assignments = {a for a, _, _ in steps}
    assert len(assignments) == CASES
    assert len(steps) == CASES * STEPS_PER_CASE, f"{CASES * STEPS_PER_CASE - len(steps)} steps missing"


async def test_two_replicas_fire_every_due_deadline_exactly_once(backlog: Backlog, tmp_path: Path) -> None:
    p1, p2 = free_ports(2)
    await backlog.hold_until(3600)  # until both are up: the second's start-up can outlast the first's whole run
    with replica(backlog, p1, tmp_path / "r1.log", batch=20), replica(backlog, p2, tmp_path / "r2.log", batch=20):
        await backlog.hold_until(0)  # both engines poll every 0.05 s: the backlog falls due to both at once

        async def done() -> bool:
            return len(await backlog.escalations()) >= CASES * STEPS_PER_CASE and await backlog.unfired_due() == 0

        await until("every step of every chain", done)
        await asyncio.sleep(1.0)  # anything fired twice would show up now
        shares = (fired_by(p1), fired_by(p2))
    assert_exactly_once(await backlog.escalations())
    assert all(share > 0 for share in shares), f"both replicas took part: {shares}"


async def test_a_replica_killed_mid_run_fires_nothing_twice_and_misses_nothing(
    backlog: Backlog, tmp_path: Path
) -> None:
    (port,) = free_ports(1)
    total = CASES * STEPS_PER_CASE
    await backlog.hold_until(6)
    with replica(backlog, port, tmp_path / "first.log", batch=10) as first:

        async def partly() -> bool:
            return len(await backlog.escalations()) >= total // 5

        await until("the first replica to be under way", partly)
        first.send_signal(signal.SIGKILL)
        first.wait()
    at_kill = len(await backlog.escalations())
    assert at_kill < total, "killed before the end"
    with replica(backlog, port, tmp_path / "second.log", batch=50):

        async def done() -> bool:
            return len(await backlog.escalations()) >= total and await backlog.unfired_due() == 0

        await until("the restarted replica to finish", done)
        await asyncio.sleep(1.0)
    assert_exactly_once(await backlog.escalations())
