"""The console stream's version read on the real PostgreSQL: ``console.version`` (the digest made by the database,
one statement) beside the read it replaced and the units' list poll does, as the baseline: the unit's open
assignments with their cases as ORM objects, hashed in Python. A unit with ``--open`` open assignments, each case
with a dozen timeline entries, in dispatch's own schema (its migrations). Prints reads per second and the client's
CPU per read; every open console makes one read a second.

    .venv/bin/python -m bench.console_version [--open N] [--reads N]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bench.intake_common import scratch_sessions
from services.dispatch import access, console
from services.dispatch.main import MIGRATIONS
from services.dispatch.models import Assignment, Case, CaseEvent
from shared.auth import Principal, Role

UNIT = Principal(role=Role.UNIT, sub="U-BENCH", scope="D-BENCH")
_NEWEST = select(func.max(CaseEvent.id)).where(CaseEvent.case_id.in_(bindparam("case_ids", expanding=True)))
Read = Callable[[AsyncSession, Principal], Awaitable[tuple[str, int]]]


async def listed(session: AsyncSession, principal: Principal) -> tuple[str, int]:
    """The baseline: the list as objects, digested in Python (the version read before the statement)."""
    rows = await access.list_for_actor(session, principal=principal)
    shown = [(a.id, a.status, a.resolve_due.isoformat(), a.escalation_level, c.tier, c.priority) for a, c in rows]
    parts: list[Any] = [shown]
    parts.append(await session.scalar(_NEWEST, {"case_ids": sorted({a.case_id for a, _ in rows})}))
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:20], len(rows)


def _world(open_assignments: int) -> tuple[list[Any], list[Any]]:
    """The cases, then what refers to them (inserted after: the models name no relationships to order them by)."""
    at = datetime.now(UTC)
    cases: list[Any] = []
    rows: list[Any] = []
    for i in range(open_assignments * 3):  # two of three done: a unit's history beside its open work
        case_id = f"C-{uuid.uuid4().hex[:16]}"
        done = i >= open_assignments
        cases.append(
            Case(
                id=case_id, status="closed" if done else "assigned", tier="technical", category="cold_room",
                priority="normal", priority_resident=False, location={"household_id": f"H-{i}"},
                district_id="D-BENCH", street_id="S-BENCH", household_id=f"H-{i}", opened_at=at,
            )
        )  # fmt: skip
        rows.append(
            Assignment(
                id=f"A-{uuid.uuid4().hex[:16]}", case_id=case_id, unit_id=UNIT.sub, unit_type="heating_company",
                round=1, status="resolved" if done else "dispatched", dispatched_at=at,
                sign_in_due=at + timedelta(minutes=30), on_site_due=at + timedelta(hours=24),
                resolve_due=at + timedelta(hours=48),
            )
        )  # fmt: skip
        rows += [CaseEvent(case_id=case_id, kind="progress", actor=UNIT.sub, at=at, detail={}) for _ in range(12)]
    return cases, rows


async def run(open_assignments: int, reads: int) -> dict[str, dict[str, float]]:
    async def measure(read: Read) -> dict[str, float]:
        async with sessions() as session:
            for _ in range(50):  # warm: the statements prepared
                await read(session, UNIT)
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(reads):
                _, mine = await read(session, UNIT)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert mine == open_assignments
        return {"reads_per_s": round(reads / wall), "client_cpu_us_per_read": round(1e6 * cpu / reads)}

    async with scratch_sessions("console", migrations=MIGRATIONS) as sessions:
        cases, rows = _world(open_assignments)
        async with sessions() as session, session.begin():
            session.add_all(cases)
            await session.flush()
            session.add_all(rows)
        results: dict[str, dict[str, float]] = {}
        for label, read in (("the list, hashed", listed), ("console.version", console.version)) * 2:
            results[label] = await measure(read)  # the second round is kept
        return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--open", type=int, default=30, help="the unit's open assignments")
    p.add_argument("--reads", type=int, default=2000)
    a = p.parse_args()
    results = asyncio.run(run(a.open, a.reads))
    for label, r in results.items():
        print(
            f"{label:17s} {r['reads_per_s']:>7,.0f} reads/s   {r['client_cpu_us_per_read']:>6,.0f} client CPU µs per"
            f" read   ({a.open} open assignments)"
        )


if __name__ == "__main__":
    main()
