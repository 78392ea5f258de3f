"""Room sensors on the real stack: batches stored by COPY; below 16 °C for 2 h raises one report, more cold
readings while its case is open raise none, and after closure a new cold spell raises a new one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from services.intake import feedback
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
        nums = select(Sensor.num).where(Sensor.id == "S-IT-IDEM")
        stored = await s.scalar(
            select(func.count()).select_from(sensor_readings).where(sensor_readings.c.sensor_num.in_(nums))
        )
    assert stored == 3 + 1
