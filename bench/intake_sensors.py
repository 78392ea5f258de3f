"""Sensor readings per second through ``POST /v1/sensor-readings`` in batches of 500, beside asyncpg's COPY of the
same rows measured in the same run.

``python -m bench.intake_sensors [BATCHES] [CONCURRENCY] [BATCH_SIZE]`` (the local stack must be up).

- intake: the intake app in this process (HTTP through httpx's ASGI transport, gateway key, validation of every
  reading, then one statement: the sensors locked, the readings stored, every sensor's cold run moved; commit). Rooms
  are warm, so no report is raised: the steady state of a fleet.
- baseline: ``copy_records_to_table`` of the same batches through an asyncpg pool, no HTTP, no rule.

Prints readings/s (target ≥ 20,000/s for batches of 500) and the ratio, and the CPU each reading cost this process
and the whole machine (PostgreSQL's share is the difference). No assertion: figures, not a test.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench.intake_common import ADMIN, Figures, drive, dsn, registry, running_intake
from services.intake.config import DEV_SENSOR_KEY

SENSORS = 2000


def batch(n: int, size: int, start: datetime) -> list[dict[str, Any]]:
    """``size`` readings of consecutive sensors, 15 minutes apart per round, so runs advance in time."""
    first = n * size
    return [
        {
            "sensor_id": f"S-B-{(first + k) % SENSORS}",
            "measured_at": (start + timedelta(minutes=15 * ((first + k) // SENSORS))).isoformat(),
            "temp_c": round(19.0 + random.random() * 3, 1),
        }
        for k in range(size)
    ]


async def measure(batches: int, concurrency: int, size: int) -> tuple[Figures, Figures]:
    """(intake, raw COPY) per batch, the same batches on both sides."""
    start = datetime(2026, 11, 20, tzinfo=UTC)
    async with running_intake("sensors") as (_, http, db):
        doc = registry(SENSORS)
        doc["sensors"] = [{"id": f"S-B-{i}", "household_id": f"H-B-{i}"} for i in range(SENSORS)]
        (await http.put("/admin/registry", json=doc, headers=ADMIN)).raise_for_status()
        headers = {"X-Api-Key": DEV_SENSOR_KEY, "Content-Type": "application/json"}
        bodies = [{"readings": batch(n, size, start)} for n in range(batches + 50)]
        # Encoded up front: a gateway serialises on its own machine, so this process measures the server.
        encoded = [json.dumps(b).encode() for b in bodies]

        async def post(n: int) -> None:
            r = await http.post("/v1/sensor-readings", content=encoded[n], headers=headers)
            if r.status_code != 200:
                raise RuntimeError(f"{r.status_code}: {r.text[:300]}")

        await drive(20, 1, lambda n: post(batches + n))  # warm-up, in order
        ours = await drive(batches, concurrency, post)

        pool = await asyncpg.create_pool(dsn(db), min_size=concurrency, max_size=concurrency)
        assert pool is not None
        nums = {f"S-B-{i}": i + 1 for i in range(SENSORS)}
        records = [
            [(nums[r["sensor_id"]], datetime.fromisoformat(r["measured_at"]), r["temp_c"]) for r in b["readings"]]
            for b in bodies
        ]

        async def copy(n: int) -> None:
            async with pool.acquire() as conn:
                await conn.copy_records_to_table(
                    "sensor_readings", records=records[n], columns=["sensor_num", "measured_at", "temp_c"]
                )

        try:
            raw = await drive(batches, concurrency, copy)
        finally:
            await pool.close()
    return ours, raw


async def main(batches: int, concurrency: int, size: int) -> None:
    ours, raw = await measure(batches, concurrency, size)

    def per_reading(f: Figures) -> Figures:
        return Figures(f.count * size, f.seconds, f.latencies, f.cpu_seconds, f.machine_cpu_seconds)

    print(f"\nintake sensor readings · real PostgreSQL · {batches} batches of {size}, concurrency {concurrency}")
    print(per_reading(ours).line("intake POST /v1/sensor-readings", "readings/s") + "  (latency per batch)")
    print(per_reading(raw).line("raw asyncpg COPY of the same batches", "readings/s") + "  (latency per batch)")
    rate, ratio = ours.rate * size, ours.rate / raw.rate
    print(f"intake: {rate:,.0f} readings/s (target >= 20,000); ratio to raw COPY {ratio:.2f}")


if __name__ == "__main__":
    b = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    c = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    s = int(sys.argv[3]) if len(sys.argv) > 3 else 500
    asyncio.run(main(b, c, s))
