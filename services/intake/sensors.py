"""Room-temperature sensors (室温采集器): batches of readings in, one report per cold spell out.

Readings go to a narrow append-only table by COPY (asyncpg's binary copy, inside the request's transaction).
Each sensor keeps its cold run (since when it has read below the threshold without a break); when the run has
lasted the configured duration the household gets one report, and none again while that report's case is open.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import domain, metrics, service, texts
from services.intake.complaint import Complaint
from services.intake.config import IntakeSettings
from services.intake.models import Building, Household, Report, Sensor, sensor_readings
from services.intake.schemas import ReadingIn
from services.intake.states import ReportStatus
from shared.contracts.common import Category, Channel
from shared.db import after_commit
from shared.errors import ApiError, Invalid

# A batch touches hundreds of rows: past the first statement (which opens the transaction through SQLAlchemy) the
# work runs on the session's own asyncpg connection, in the same transaction, without per-row result wrapping.
_LOCK_SENSORS = """
    WITH locked AS (
        SELECT id, num, household_id, cold_since, last_reading_at, last_temp_c, alert_report_id
          FROM sensors WHERE id = ANY($1::varchar[]) ORDER BY id FOR UPDATE
    )
    SELECT array_agg(id), array_agg(num), array_agg(household_id), array_agg(cold_since),
           array_agg(last_reading_at), array_agg(last_temp_c), array_agg(alert_report_id)
      FROM locked
"""
_UPDATE_RUNS = """
    UPDATE sensors AS s
       SET cold_since = v.cold_since, last_reading_at = v.last_at, last_temp_c = v.last_temp,
           alert_report_id = v.alert
      FROM unnest($1::varchar[], $2::timestamptz[], $3::timestamptz[], $4::float8[], $5::varchar[])
           AS v(id, cold_since, last_at, last_temp, alert)
     WHERE s.id = v.id
"""


class SensorRun(NamedTuple):
    id: str
    num: int
    household_id: str
    cold_since: datetime | None
    last_reading_at: datetime | None
    last_temp_c: float | None
    alert_report_id: str | None


async def _driver(session: AsyncSession) -> Any:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def ingest(
    session: AsyncSession,
    intake: service.Intake,
    *,
    readings: list[ReadingIn],
    settings: IntakeSettings,
    at: datetime,
) -> tuple[int, list[str]]:
    """Store a batch and apply the cold-room rule. Returns (readings stored, reports raised)."""
    if len(readings) > settings.sensor_max_batch:
        raise ApiError(
            413, "batch_too_large", texts.SENSOR_BATCH_TOO_LARGE.format(max=settings.sensor_max_batch), "readings"
        )
    latest = at + timedelta(seconds=settings.max_clock_skew_seconds)
    for i, r in enumerate(readings):
        if r.measured_at > latest:
            # Stored, a reading from the future would be the sensor's latest and hide every real one until then.
            raise Invalid(
                "in_future",
                texts.IN_FUTURE.format(seconds=settings.max_clock_skew_seconds),
                f"readings.{i}.measured_at",
            )
    ids = sorted({r.sensor_id for r in readings})
    # Locked in id order: two batches of the same sensors apply their runs one after the other.
    connection = await session.connection()
    # One row of arrays: hundreds of sensors without hundreds of result rows to wrap.
    columns = (await connection.exec_driver_sql(_LOCK_SENSORS, (ids,))).one()
    rows = [SensorRun._make(values) for values in zip(*columns, strict=True)] if columns[0] else []
    known = {row.id: row for row in rows}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise Invalid("unknown_sensor", texts.SENSOR_UNKNOWN.format(ids=", ".join(unknown[:20])), "readings")
    by_sensor: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for r in readings:
        by_sensor[r.sensor_id].append((r.measured_at, r.temp_c))
    driver = await _driver(session)
    await driver.copy_records_to_table(
        sensor_readings.name,
        records=[(known[r.sensor_id].num, r.measured_at, r.temp_c) for r in readings],
        columns=[c.name for c in sensor_readings.columns],
    )

    threshold, duration = settings.sensor_cold_threshold_c, timedelta(minutes=settings.sensor_cold_minutes)
    alerted: dict[str, str] | None = None  # looked up only when a run reaches the duration: rare
    runs: list[tuple[str, domain.ColdRun, str | None]] = []
    raised: list[str] = []
    for sensor_id, points in by_sensor.items():
        row = known[sensor_id]
        points.sort()
        stored = domain.ColdRun(row.cold_since, row.last_reading_at, row.last_temp_c)
        if row.last_reading_at is not None and row.last_reading_at > latest:
            # A reading from the future, stored before those were refused, would hide every real one after it.
            stored = domain.ColdRun(None, None, None)
        run, reached = domain.advance(
            stored,
            points,
            threshold_c=threshold,
            duration=duration,
        )
        alert = row.alert_report_id
        if reached is not None and alert is None:
            # One report per household and cold spell: another sensor of the household may have raised it.
            if alerted is None:
                alerted = await _open_alerts(session, {r.household_id for r in rows})
            alert = alerted.get(row.household_id)
            if alert is None:
                alert = await _raise(
                    session,
                    intake,
                    sensor_id=sensor_id,
                    household_id=row.household_id,
                    run=run,
                    settings=settings,
                    at=at,
                )
                alerted[row.household_id] = alert
                raised.append(alert)
        runs.append((sensor_id, run, alert))
    await driver.execute(
        _UPDATE_RUNS,
        [s for s, _, _ in runs],
        [r.cold_since for _, r, _ in runs],
        [r.last_at for _, r, _ in runs],
        [r.last_temp_c for _, r, _ in runs],
        [a for _, _, a in runs],
    )
    metrics.SENSOR_READINGS.inc(len(readings))
    return len(readings), raised


async def _open_alerts(session: AsyncSession, households: set[str]) -> dict[str, str]:
    """household → the open report one of its sensors raised."""
    rows = await session.execute(
        select(Sensor.household_id, Sensor.alert_report_id)
        .join(Report, Report.id == Sensor.alert_report_id)
        .where(Sensor.household_id.in_(households), Report.status != ReportStatus.CLOSED)
    )
    return {row[0]: row[1] for row in rows if row[1]}


async def _raise(
    session: AsyncSession,
    intake: service.Intake,
    *,
    sensor_id: str,
    household_id: str,
    run: domain.ColdRun,
    settings: IntakeSettings,
    at: datetime,
) -> str:
    household = await session.get(Household, household_id)
    assert household is not None
    building = await session.get(Building, household.building_id)
    assert building is not None
    report, _ = await service.accept(
        session,
        intake,
        Complaint(
            channel=Channel.SENSOR,
            building=building,
            household=household,
            category=Category.COLD_ROOM,
            description=texts.SENSOR_ALERT_DESCRIPTION.format(
                sensor=sensor_id,
                minutes=settings.sensor_cold_minutes,
                threshold=settings.sensor_cold_threshold_c,
                temp=run.last_temp_c,
            ),
            measured_temp_c=run.last_temp_c,
            reporter_kind="sensor",
            reporter_id=sensor_id,
            at=at,
        ),
    )
    after_commit(session, metrics.SENSOR_ALERTS.inc)
    return report.id
