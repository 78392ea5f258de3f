"""Room sensors on the real stack: batches stored by COPY; below 16 °C for 2 h raises one report, more cold
readings while its case is open raise none, and after closure a new cold spell raises a new one."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import domain, feedback, sensors
from services.intake.config import DEV_SENSOR_KEY
from services.intake.models import Report, Sensor, sensor_readings
from shared.settings import DEV_ADMIN_TOKEN
from tests.harness import wait_until
from tests.integration.conftest import Loop

ADMIN = {"X-Admin-Token": DEV_ADMIN_TOKEN}
GATEWAY = {"X-Api-Key": DEV_SENSOR_KEY}
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=12)
STEP = timedelta(minutes=15)


def series(sensor: str, start: timedelta, temps: list[float]) -> list[dict[str, Any]]:
    return [
        {"sensor_id": sensor, "measured_at": (T0 + start + i * STEP).isoformat(), "temp_c": t}
        for i, t in enumerate(temps)
    ]


async def post(loop: Loop, readings: list[dict[str, Any]], headers: dict[str, str] = GATEWAY) -> Any:
    return await loop.intake.http.post("/v1/sensor-readings", json={"readings": readings}, headers=headers)


Run = tuple[datetime | None, datetime | None, float | None]  # a sensor row's cold_since, last reading, last temp


async def runs_of(session: AsyncSession, ids: list[str]) -> dict[str, Run]:
    found = await session.execute(
        select(Sensor.id, Sensor.cold_since, Sensor.last_reading_at, Sensor.last_temp_c).where(Sensor.id.in_(ids))
    )
    return {row[0]: (row[1], row[2], row[3]) for row in found}


async def readings_stored(session: AsyncSession, ids: list[str]) -> int:
    nums = select(Sensor.num).where(Sensor.id.in_(ids))
    count = await session.scalar(
        select(func.count()).select_from(sensor_readings).where(sensor_readings.c.sensor_num.in_(nums))
    )
    return int(count or 0)


def advanced(
    run: domain.ColdRun, batch: list[tuple[str, datetime, float]], sensor_id: str, *, threshold_c: float,
    duration: timedelta,
) -> tuple[domain.ColdRun, datetime | None]:  # fmt: skip
    """The rule's specification applied to one sensor's readings of a batch (in time order, as it takes them)."""
    points = sorted((t, temp) for sid, t, temp in batch if sid == sensor_id)
    return domain.advance(run, points, threshold_c=threshold_c, duration=duration)


async def test_two_cold_hours_raise_one_report_per_open_case(loop: Loop) -> None:
    registry = {
        "buildings": [{"id": "B-IT-SENSOR", "name": "测试采集楼", "compound_id": "CP-LK", "grid_id": "G-PHN-01"}],
        "households": [
            {"id": "H-IT-SENS-1", "building_id": "B-IT-SENSOR", "unit_no": "1", "room": "101"},
            {"id": "H-IT-SENS-2", "building_id": "B-IT-SENSOR", "unit_no": "1", "room": "102"},
        ],
        "sensors": [
            {"id": "S-IT-1-BED", "household_id": "H-IT-SENS-1"},
            {"id": "S-IT-1-LIVING", "household_id": "H-IT-SENS-1"},
            {"id": "S-IT-2", "household_id": "H-IT-SENS-2"},
        ],
    }
    assert (await loop.intake.http.put("/admin/registry", json=registry, headers=ADMIN)).status_code == 200

    # 1 h 45 below 16 °C in the bedroom, the living room and the neighbour warm: nothing yet
    first = (
        series("S-IT-1-BED", timedelta(0), [15.0] * 8)
        + series("S-IT-1-LIVING", timedelta(0), [17.5] * 8)
        + series("S-IT-2", timedelta(0), [20.0] * 8)
    )
    r = await post(loop, first)
    assert r.status_code == 200, r.text
    assert r.json() == {"stored": 24, "reports": []}

    # the reading at 2 h raises the report
    r = await post(loop, series("S-IT-1-BED", timedelta(hours=2), [15.2]))
    [report_id] = r.json()["reports"]
    async with loop.intake.runtime.sessions() as s:
        report = await s.get(Report, report_id)
        assert report is not None
        assert (report.channel, report.category, report.reporter_kind) == ("sensor", "cold_room", "sensor")
        assert report.household_id == "H-IT-SENS-1" and report.measured_temp_c == 15.2

    # hours more of cold, now in both rooms: the case is open, no second report
    more = series("S-IT-1-BED", timedelta(hours=2, minutes=15), [14.5] * 10) + series(
        "S-IT-1-LIVING", timedelta(hours=2, minutes=15), [15.5] * 10
    )
    r = await post(loop, more)
    assert r.status_code == 200 and r.json()["reports"] == []

    # the case is closed (as the CaseClosed consumer does); the next full cold spell is a new report
    case_id = await wait_until("dispatch to open the case", lambda: _case_of(loop, report_id), timeout=60)
    async with loop.intake.runtime.sessions() as s, s.begin():
        await feedback.set_case_status(
            s, case_id=case_id, status="closed", at=datetime.now(UTC), calls_back=frozenset()
        )
    async with loop.intake.runtime.sessions() as s:
        bed = await s.get(Sensor, "S-IT-1-BED")
        assert bed is not None and bed.alert_report_id is None and bed.cold_since is None
    r = await post(loop, series("S-IT-1-BED", timedelta(hours=5), [15.0] * 8))
    assert r.json()["reports"] == [], "a new spell needs its own two hours"
    r = await post(loop, series("S-IT-1-BED", timedelta(hours=7), [15.0]))
    [second] = r.json()["reports"]
    assert second != report_id

    # refused batches: too large, unknown sensor, wrong gateway key — and none of their readings stored
    too_many = series("S-IT-2", timedelta(hours=20), [20.0] * 5001)
    r = await post(loop, too_many)
    assert r.status_code == 413 and r.json()["detail"]["code"] == "batch_too_large"
    r = await post(loop, series("S-NOPE", timedelta(0), [15.0]))
    assert r.status_code == 422 and r.json()["detail"]["code"] == "unknown_sensor"
    assert "S-NOPE" in r.json()["detail"]["message"]
    r = await post(loop, series("S-IT-2", timedelta(0), [15.0]), headers={"X-Api-Key": "wrong"})
    assert r.status_code == 401
    r = await loop.intake.http.post(
        "/v1/sensor-readings", json={"readings": [{"sensor_id": "S-IT-2"}]}, headers=GATEWAY
    )
    assert r.status_code == 422 and {p["field"] for p in r.json()["detail"]} == {
        "readings.0.measured_at",
        "readings.0.temp_c",
    }
    async with loop.intake.runtime.sessions() as s:
        nums = select(Sensor.num).where(Sensor.id.like("S-IT-%"))
        stored = await s.scalar(
            select(func.count()).select_from(sensor_readings).where(sensor_readings.c.sensor_num.in_(nums))
        )
    assert stored == 24 + 1 + 20 + 8 + 1


async def _case_of(loop: Loop, report_id: str) -> str | None:
    async with loop.intake.runtime.sessions() as s:
        report = await s.get(Report, report_id)
        return report.case_id if report else None


async def test_a_batch_resent_with_its_idempotency_key_is_stored_once(loop: Loop) -> None:
    """A gateway whose answer was lost (a timeout, a 502 from a replica that died) sends the batch again with the same
    key: the first answer comes back and nothing is stored twice; the key used for another batch is refused."""
    registry = {
        "buildings": [{"id": "B-IT-IDEM", "name": "测试幂等楼", "compound_id": "CP-LK", "grid_id": "G-PHN-01"}],
        "households": [{"id": "H-IT-IDEM-1", "building_id": "B-IT-IDEM", "unit_no": "1", "room": "101"}],
        "sensors": [{"id": "S-IT-IDEM", "household_id": "H-IT-IDEM-1"}],
    }
    assert (await loop.intake.http.put("/admin/registry", json=registry, headers=ADMIN)).status_code == 200
    batch = series("S-IT-IDEM", timedelta(0), [20.0, 20.5, 21.0])
    keyed = GATEWAY | {"Idempotency-Key": "batch-2026-12-05-0001"}
    first = await post(loop, batch, headers=keyed)
    again = await post(loop, batch, headers=keyed)
    assert first.status_code == again.status_code == 200 and first.json() == again.json() == {
        "stored": 3,
        "reports": [],
    }
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = await post(loop, series("S-IT-IDEM", timedelta(hours=1), [19.0]), headers=keyed)
    assert other.status_code == 422 and other.json()["detail"]["code"] == "idempotency_key_reused"
    unkeyed = await post(loop, series("S-IT-IDEM", timedelta(hours=2), [19.0]))
    assert unkeyed.status_code == 200
    async with loop.intake.runtime.sessions() as s:
        stored = await readings_stored(s, ["S-IT-IDEM"])
    assert stored == 3 + 1


async def test_the_batch_statement_moves_each_run_as_the_rule_says(loop: Loop) -> None:
    """``sensors.store`` writes the cold-run rule over sets, in SQL; ``domain.advance`` is the rule in Python. Random
    batches (shuffled, times repeated, older than the stored latest, temperatures at the threshold, stored runs from
    the future) against stored runs: every sensor ends as ``advance`` says, and exactly the runs it says reached the
    duration come back."""
    n = 4
    registry = {
        "buildings": [{"id": "B-IT-RULE", "name": "测试规则楼", "compound_id": "CP-LK", "grid_id": "G-PHN-01"}],
        "households": [
            {"id": f"H-IT-RULE-{i}", "building_id": "B-IT-RULE", "unit_no": "1", "room": str(101 + i)} for i in range(n)
        ],
        "sensors": [{"id": f"S-IT-RULE-{i}", "household_id": f"H-IT-RULE-{i}"} for i in range(n)],
    }
    assert (await loop.intake.http.put("/admin/registry", json=registry, headers=ADMIN)).status_code == 200
    ids = [f"S-IT-RULE-{i}" for i in range(n)]
    rng = random.Random(20261205)
    base, latest = datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 1, 6, tzinfo=UTC)
    threshold, duration = 16.0, timedelta(minutes=60)

    def at(k: int) -> datetime:
        return base + k * STEP

    def stored_run() -> domain.ColdRun:
        shape = rng.choice(["none", "warm", "cold", "future"])
        if shape == "none":
            return domain.ColdRun(None, None, None)
        last = at(rng.randint(-2, 6)) if shape != "future" else latest + timedelta(hours=rng.randint(1, 3))
        since = last - STEP * rng.randint(0, 5) if shape in ("cold", "future") and rng.random() < 0.7 else None
        return domain.ColdRun(since, last, 15.0 if since else 19.0)

    cases, reached_seen, moved_seen = 200, 0, 0
    for _ in range(cases):
        stored = {s: stored_run() for s in ids}
        batch = [
            (s, at(rng.randint(-2, 8)), rng.choice([14.0, 15.5, 16.0, 16.5, 20.0]))
            for s in ids
            for _ in range(rng.randint(0, 7))
        ] or [(ids[0], at(0), 15.0)]
        rng.shuffle(batch)
        async with loop.intake.runtime.sessions() as s, s.begin():
            for sensor_id, run in stored.items():
                await s.execute(
                    update(Sensor)
                    .where(Sensor.id == sensor_id)
                    .values(
                        cold_since=run.cold_since,
                        last_reading_at=run.last_at,
                        last_temp_c=run.last_temp_c,
                        alert_report_id=None,
                    )
                )
            driver = await sensors._driver(s)
            unknown, reached = await sensors.store(
                driver,
                [b[0] for b in batch],
                [b[1] for b in batch],
                [b[2] for b in batch],
                latest=latest,
                threshold_c=threshold,
                duration=duration,
            )
            rows = await runs_of(s, ids)
            await s.rollback()
        assert unknown == []
        expected_reached = set()
        for sensor_id in ids:
            start = stored[sensor_id]
            if start.last_at is not None and start.last_at > latest:
                start = domain.ColdRun(None, None, None)
            run, hit = advanced(start, batch, sensor_id, threshold_c=threshold, duration=duration)
            row = rows[sensor_id]
            if run.last_at != start.last_at:
                moved_seen += 1
                assert row == (
                    run.cold_since,
                    run.last_at,
                    run.last_temp_c,
                ), (sensor_id, stored[sensor_id], batch)
            if hit is not None:
                expected_reached.add((sensor_id, f"H-IT-RULE-{sensor_id[-1]}", run.last_temp_c))
        assert set(reached) == expected_reached, (stored, batch)
        reached_seen += len(reached)
    # the cases reach every branch often enough to mean something
    assert reached_seen > 50 and moved_seen > 300


async def test_a_batch_naming_an_unknown_sensor_is_refused_whole(loop: Loop) -> None:
    registry = {
        "buildings": [{"id": "B-IT-UNKNOWN", "name": "测试未知楼", "compound_id": "CP-LK", "grid_id": "G-PHN-01"}],
        "households": [{"id": "H-IT-UNKNOWN-1", "building_id": "B-IT-UNKNOWN", "unit_no": "1", "room": "101"}],
        "sensors": [{"id": "S-IT-KNOWN", "household_id": "H-IT-UNKNOWN-1"}],
    }
    assert (await loop.intake.http.put("/admin/registry", json=registry, headers=ADMIN)).status_code == 200
    batch = series("S-IT-KNOWN", timedelta(0), [20.0, 20.5]) + series("S-IT-NOBODY", timedelta(0), [20.0])
    r = await post(loop, batch)
    assert r.status_code == 422 and r.json()["detail"]["code"] == "unknown_sensor", r.text
    assert "S-IT-NOBODY" in r.json()["detail"]["message"] and "S-IT-KNOWN" not in r.json()["detail"]["message"]
    async with loop.intake.runtime.sessions() as s:
        sensor = await s.get(Sensor, "S-IT-KNOWN")
        assert sensor is not None and sensor.last_reading_at is None
        stored = await readings_stored(s, ["S-IT-KNOWN"])
    assert stored == 0


async def test_two_batches_of_the_same_sensors_at_once_apply_one_after_the_other(loop: Loop) -> None:
    """Two gateways post batches of the same sensors at the same moment: both are stored whole, and every sensor
    ends as if one batch had been applied after the other (the statement locks the sensors in id order)."""
    ids = [f"S-IT-RACE-{i}" for i in range(40)]
    registry = {
        "buildings": [{"id": "B-IT-RACE", "name": "测试并发楼", "compound_id": "CP-LK", "grid_id": "G-PHN-01"}],
        "households": [
            {"id": f"H-IT-RACE-{i}", "building_id": "B-IT-RACE", "unit_no": "1", "room": str(101 + i)}
            for i in range(len(ids))
        ],
        "sensors": [{"id": s, "household_id": f"H-IT-RACE-{i}"} for i, s in enumerate(ids)],
    }
    assert (await loop.intake.http.put("/admin/registry", json=registry, headers=ADMIN)).status_code == 200

    # Interleaved in time, each sensor's latest reading in one batch for half the sensors and in the other for the
    # rest: a batch applied over a state it did not lock (its own readings alone) ends some run unlike either order.
    def readings(s: str, late: bool) -> list[dict[str, Any]]:
        if late:
            return series(s, timedelta(minutes=10), [15.0, 17.0, 15.0])  # at 10, 25, 40 min
        return series(s, timedelta(0), [15.0, 15.0, 15.0])  # at 0, 15, 30 min

    first = [r for i, s in enumerate(reversed(ids)) for r in readings(s, late=i % 2 == 0)]
    second = [r for i, s in enumerate(reversed(ids)) for r in readings(s, late=i % 2 == 1)][::-1]
    a, b = await asyncio.gather(post(loop, first), post(loop, second))
    assert a.status_code == b.status_code == 200, (a.text, b.text)

    def after(*batches: list[dict[str, Any]]) -> dict[str, Run]:
        runs = {s: domain.ColdRun(None, None, None) for s in ids}
        for batch in batches:
            rows = [(r["sensor_id"], datetime.fromisoformat(r["measured_at"]), r["temp_c"]) for r in batch]
            for s in ids:
                runs[s], _ = advanced(runs[s], rows, s, threshold_c=16.0, duration=timedelta(hours=2))
        return {s: (run.cold_since, run.last_at, run.last_temp_c) for s, run in runs.items()}

    async with loop.intake.runtime.sessions() as s:
        ended = await runs_of(s, ids)
        stored = await readings_stored(s, ids)
    assert stored == len(first) + len(second)
    assert ended in (after(first, second), after(second, first))
