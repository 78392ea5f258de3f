"""Arming an assignment's clocks on the real PostgreSQL: ``timers.schedule_many`` (the rows as arrays, one
statement) beside the same upsert sent as an executemany of one row each (how it was armed before), in one
transaction, three timers per call as an assignment has. Prints calls per second and the client's CPU per call.

    .venv/bin/python -m bench.timer_arming [--calls N]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import MetaData, Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bench.intake_common import scratch_sessions
from shared.timers import schedule_many, timers_table

Arming = Callable[[AsyncSession, Table, list[dict[str, Any]]], Awaitable[None]]


async def executemany(session: AsyncSession, timers: Table, rows: list[dict[str, Any]]) -> None:
    """The baseline: the upsert as SQLAlchemy's executemany, one row per execution."""
    stmt = insert(timers)
    excluded = stmt.excluded
    await session.execute(
        stmt.on_conflict_do_update(
            constraint="uq_timers_kind_ref",
            set_={"due_at": excluded.due_at, "payload": excluded.payload, "fired_at": None, "attempts": 0},
        ),
        rows,
    )


async def run(calls: int) -> dict[str, dict[str, float]]:
    metadata = MetaData()
    timers = timers_table(metadata)
    at = datetime.now(UTC)

    def clocks() -> list[dict[str, Any]]:
        ref = f"A-{uuid.uuid4().hex[:16]}"
        payload = {"deadline": at.isoformat(), "length_s": 1350.0, "working": False}
        return [
            {
                "kind": f"{clock}:reminder",
                "ref": ref,
                "due_at": at + timedelta(minutes=30 * (i + 1)),
                "payload": payload,
            }
            for i, clock in enumerate(("sign_in", "on_site", "resolve"))
        ]

    async def measure(arm: Arming) -> dict[str, float]:
        async with sessions() as session, session.begin():  # warm: the statement prepared, the pool connected
            for _ in range(100):
                await arm(session, timers, clocks())
        cpu, wall = time.process_time(), time.perf_counter()
        async with sessions() as session, session.begin():
            for _ in range(calls):
                await arm(session, timers, clocks())
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        return {"calls_per_s": round(calls / wall), "client_cpu_ms_per_call": round(1e3 * cpu / calls, 3)}

    async with scratch_sessions("arming") as sessions:
        async with sessions() as session, session.begin():
            await session.run_sync(lambda s: metadata.create_all(s.connection()))
        results: dict[str, dict[str, float]] = {}
        for label, arm in (("executemany", executemany), ("schedule_many", schedule_many)) * 2:
            results[label] = await measure(arm)  # the second round, warm, is kept
        return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=3000)
    results = asyncio.run(run(p.parse_args().calls))
    for label, r in results.items():
        print(
            f"{label:14s} {r['calls_per_s']:>7,.0f} calls/s   {r['client_cpu_ms_per_call']:.3f} client CPU ms per call"
        )


if __name__ == "__main__":
    main()
