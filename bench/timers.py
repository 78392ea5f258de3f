"""Benchmark of dispatch's deadline engine on the real PostgreSQL.

500,000 pending deadlines, of which 50,000 fall due within one minute; the real escalation handler fires
each one (timeline row, CaseEscalated in the outbox, the next step's timer). Prints how long the due ones
take to drain, firings per second, and lateness p50/p99 (fired − due).

    .venv/bin/python -m bench.timers                 # full size
    .venv/bin/python -m bench.timers --quick         # small, to check it works
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import REGISTRY
from sqlalchemy import func, select, update

from services.dispatch import rules
from services.dispatch.config import DispatchSettings
from services.dispatch.domain import load_rules
from services.dispatch.main import MIGRATIONS, timer_engine
from services.dispatch.models import inbox, outbox, timers
from shared import migrate
from shared.clock import SystemClock
from shared.db import create_engine, session_factory
from shared.runtime import ServiceRuntime
from tests.harness import drop_database, fresh_database

LOCATION = {
    "district_id": "D-CG",
    "street_id": "S-JYG",
    "community_id": "CM-PHN",
    "grid_id": "G-PHN-01",
    "compound_id": "CP-LK",
    "building_id": "B-LK-1",
    "household_id": "H-LK-1-102",
    "substation_id": "SS-01",
}


async def _copy(runtime: ServiceRuntime, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    assert runtime.engine is not None
    async with runtime.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(table, records=rows, columns=columns)  # type: ignore[union-attr]
        await conn.commit()


async def prepare(runtime: ServiceRuntime, *, pending: int, due: int, window: float, lead: float) -> datetime:
    """Cases and assignments for the timers that will fire, and ``pending - due`` timers far in the future."""
    now = datetime.now(UTC)
    start = now + timedelta(seconds=lead)
    dispatched = start - timedelta(minutes=30)
    cases, assignments, rows = [], [], []
    for i in range(due):
        cid, aid = f"C-b{i:07d}", f"A-b{i:07d}"
        cases.append(
            (
                cid,
                "assigned",
                "technical",
                "cold_room",
                "normal",
                False,
                json.dumps(LOCATION),
                "D-CG",
                "S-JYG",
                "H-LK-1-102",
                1,
                0,
                0,
                False,
                dispatched,
            )
        )
        assignments.append(
            (
                aid,
                cid,
                "U-HEAT-1",
                "heating_company",
                1,
                "dispatched",
                dispatched,
                dispatched + timedelta(minutes=30),
                dispatched + timedelta(hours=24),
                dispatched + timedelta(hours=48),
                "[]",
            )
        )
        due_at = start + timedelta(seconds=random.uniform(0, window))
        rows.append(("sign_in:reminder", aid, due_at, json.dumps({"deadline": due_at.isoformat(), "length_s": 1800.0})))
    far = now + timedelta(days=30)
    for i in range(pending - due):
        rows.append(
            (
                "resolve:reminder",
                f"A-far{i:07d}",
                far + timedelta(seconds=i % 86400),
                json.dumps({"deadline": far.isoformat(), "length_s": 172800.0}),
            )
        )
    await _copy(
        runtime,
        "cases",
        [
            "id",
            "status",
            "tier",
            "category",
            "priority",
            "priority_resident",
            "location",
            "district_id",
            "street_id",
            "household_id",
            "round",
            "redo_count",
            "bounce_count",
            "supervised",
            "opened_at",
        ],
        cases,
    )
    await _copy(
        runtime,
        "assignments",
        [
            "id",
            "case_id",
            "unit_id",
            "unit_type",
            "round",
            "status",
            "dispatched_at",
            "sign_in_due",
            "on_site_due",
            "resolve_due",
            "photo_refs",
        ],
        assignments,
    )
    await _copy(runtime, "timers", ["kind", "ref", "due_at", "payload"], rows)
    return start


async def run(pending: int, due: int, window: float, replicas: int) -> dict[str, Any]:
    db = f"bench_timers_{uuid.uuid4().hex[:6]}"
    url = await fresh_database(db)
    await asyncio.to_thread(migrate.upgrade, MIGRATIONS, url)
    runtimes = []
    try:
        for _ in range(replicas):
            rt = ServiceRuntime(
                DispatchSettings(database_url=url, service_name="dispatch-bench"),
                outbox=outbox,
                inbox=inbox,
                migrations_dir=MIGRATIONS,
            )
            rt.engine = create_engine(url, pool_size=5)
            rt.sessions = session_factory(rt.engine)
            runtimes.append(rt)
        async with runtimes[0].sessions() as s, s.begin():  # type: ignore[misc]
            await rules.ensure_rules(s, default=load_rules())
        t0 = time.perf_counter()
        start = await prepare(runtimes[0], pending=pending, due=due, window=window, lead=5)
        setup_s = time.perf_counter() - t0
        # Loading 500k rows can outlast the lead: shift the window so it opens after the load, or the engine would
        # start on a backlog and measure that instead of steady state.
        shift = datetime.now(UTC) + timedelta(seconds=3) - start
        if shift > timedelta(0):
            async with runtimes[0].sessions() as s, s.begin():  # type: ignore[misc]
                await s.execute(
                    update(timers).where(timers.c.kind == "sign_in:reminder").values(due_at=timers.c.due_at + shift)
                )
            start += shift
        fired_before = (
            REGISTRY.get_sample_value("timers_fired_total", {"service": "dispatch-bench", "kind": "sign_in:reminder"})
            or 0
        )
        engines = [timer_engine(rt, rt.writer("bench.cases"), SystemClock()) for rt in runtimes]
        tasks = [asyncio.create_task(e.run()) for e in engines]
        wall0 = time.perf_counter()
        # Count firings from the engines' own counter: polling the 500k-row table would load the database
        # the engines are measured on.
        while (
            REGISTRY.get_sample_value("timers_fired_total", {"service": "dispatch-bench", "kind": "sign_in:reminder"})
            or 0
        ) < fired_before + due:
            await asyncio.sleep(0.1)
        finished = datetime.now(UTC)
        wall = time.perf_counter() - wall0
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        async with runtimes[0].sessions() as s:  # type: ignore[misc]
            late = [
                (r.fired_at - r.due_at).total_seconds()
                for r in (
                    await s.execute(
                        select(timers.c.due_at, timers.c.fired_at).where(timers.c.kind == "sign_in:reminder")
                    )
                ).all()
            ]
            first_fired = await s.scalar(select(func.min(timers.c.fired_at)).where(timers.c.kind == "sign_in:reminder"))
        late.sort()
        last_due = start + timedelta(seconds=window)
        return {
            "pending": pending,
            "due": due,
            "window_s": window,
            "replicas": replicas,
            "setup_s": round(setup_s, 1),
            "drain_after_last_due_s": round(max(0.0, (finished - last_due).total_seconds()), 2),
            "firing_span_s": round((finished - (first_fired or start)).total_seconds(), 2),
            "wall_s": round(wall, 1),
            "firings_per_s": round(due / max(1e-9, (finished - (first_fired or start)).total_seconds()), 1),
            "lateness_p50_s": round(statistics.quantiles(late, n=100)[49], 3) if len(late) > 1 else late[0],
            "lateness_p99_s": round(statistics.quantiles(late, n=100)[98], 3) if len(late) > 1 else late[0],
            "lateness_max_s": round(late[-1], 3),
        }
    finally:
        for rt in runtimes:
            if rt.engine is not None:
                await rt.engine.dispose()
        await drop_database(db)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pending", type=int, default=500_000)
    p.add_argument("--due", type=int, default=50_000)
    p.add_argument("--window", type=float, default=60.0, help="seconds over which the due ones fall due")
    p.add_argument("--replicas", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="5,000 pending / 500 due over 5 s")
    p.add_argument("--json", help="write the result to this file")
    a = p.parse_args()
    if a.quick:
        a.pending, a.due, a.window = 5_000, 500, 5.0
    result = asyncio.run(run(a.pending, a.due, a.window, a.replicas))
    print(
        f"timers: {result['pending']:,} pending, {result['due']:,} due over {result['window_s']:.0f} s, "
        f"{result['replicas']} replica(s)"
    )
    print(
        f"  drained {result['drain_after_last_due_s']} s after the last one fell due "
        f"(firing span {result['firing_span_s']} s, target: drained ≤ 60 s)"
    )
    print(
        f"  {result['firings_per_s']:,} firings/s; lateness p50 {result['lateness_p50_s']} s, "
        f"p99 {result['lateness_p99_s']} s (target p99 ≤ 2 s), max {result['lateness_max_s']} s"
    )
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump({"timers": result}, f, indent=2)


if __name__ == "__main__":
    main()
