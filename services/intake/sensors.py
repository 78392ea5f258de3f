"""Room-temperature sensors (室温采集器): batches of readings in, one report per cold spell out.

Readings go to a narrow append-only table, inside the request's transaction and in the same statement that moves
their sensors' runs (``store``). Each sensor keeps its cold run (since when it has read below the threshold without a
break); when the run has lasted the configured duration the household gets one report, and none again while that
report's case is open.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import metrics, service, texts
from services.intake.complaint import Complaint
from services.intake.config import IntakeSettings
from services.intake.models import Building, Household, Report, Sensor
from services.intake.schemas import ReadingIn
from services.intake.states import ReportStatus
from shared.contracts.common import Category, Channel
from shared.db import after_commit
from shared.errors import ApiError, Invalid

# A batch is one statement: the readings go in as three arrays, are stored, and move their sensors' cold runs there,
# so the request's process encodes each reading once and decodes nothing but the rare run that reached the duration.
# The rule is ``domain.advance`` (its specification, unit-tested) written over sets, per sensor:
# - a reading moves the run if it is later than the sensor's latest one; of readings at the same instant the first
#   in (time, temperature) order moves it (advance sorts its points so and skips a time it has seen);
# - each warm reading ends the run, so the moving readings fall into segments numbered by the warm readings up to
#   them: in segment 0 (no warm reading yet in this batch) a cold reading continues the stored run, or starts one at
#   the segment's first reading; in a later segment the run started at the segment's first cold reading;
# - the run reached the duration at its first cold reading that far from its start;
# - the sensor keeps its last moving reading and the run as it stands after it.
# A sensor whose latest reading lies beyond the allowed skew (stored before those were refused) starts afresh, or it
# would hide every real reading until then. Sensors are locked in id order, the order every batch takes them.
_INGEST = """
    WITH batch AS (
        SELECT b.sensor_id, b.at, b.temp
          FROM unnest($1::varchar[], $2::timestamptz[], $3::float8[]) AS b(sensor_id, at, temp)
    ),
    locked AS (
        SELECT s.id, s.num, s.household_id, s.alert_report_id,
               CASE WHEN s.last_reading_at > $4 THEN NULL ELSE s.cold_since END AS cold_since,
               CASE WHEN s.last_reading_at > $4 THEN NULL ELSE s.last_reading_at END AS last_at
          FROM sensors AS s
         WHERE s.id = ANY(ARRAY(SELECT DISTINCT sensor_id FROM batch))
         ORDER BY s.id
           FOR UPDATE
    ),
    stored AS (
        INSERT INTO sensor_readings (sensor_num, measured_at, temp_c)
        SELECT l.num, b.at, b.temp FROM batch AS b JOIN locked AS l ON l.id = b.sensor_id
    ),
    moving AS (
        SELECT DISTINCT ON (b.sensor_id, b.at) b.sensor_id, b.at, b.temp, b.temp < $5 AS cold
          FROM batch AS b JOIN locked AS l ON l.id = b.sensor_id
         WHERE l.last_at IS NULL OR b.at > l.last_at
         ORDER BY b.sensor_id, b.at, b.temp
    ),
    segmented AS (
        SELECT m.*, count(*) FILTER (WHERE NOT m.cold)
                        OVER (PARTITION BY m.sensor_id ORDER BY m.at ROWS UNBOUNDED PRECEDING) AS segment
          FROM moving AS m
    ),
    runs AS (
        SELECT g.*,
               CASE WHEN NOT g.cold THEN NULL
                    WHEN g.segment = 0 THEN coalesce(l.cold_since, min(g.at) OVER own)
                    ELSE min(g.at) FILTER (WHERE g.cold) OVER own
               END AS since
          FROM segmented AS g JOIN locked AS l ON l.id = g.sensor_id
        WINDOW own AS (PARTITION BY g.sensor_id, g.segment)
    ),
    moved AS (
        SELECT DISTINCT ON (r.sensor_id) r.sensor_id, r.at, r.temp, r.since,
               bool_or(r.at - r.since >= $6) OVER (PARTITION BY r.sensor_id) AS reached
          FROM runs AS r
         ORDER BY r.sensor_id, r.at DESC
    ),
    updated AS (
        UPDATE sensors AS s SET cold_since = m.since, last_reading_at = m.at, last_temp_c = m.temp
          FROM moved AS m
         WHERE s.id = m.sensor_id
    )
    SELECT ARRAY(SELECT DISTINCT b.sensor_id FROM batch AS b LEFT JOIN locked AS l ON l.id = b.sensor_id
                  WHERE l.id IS NULL ORDER BY 1),
           array_agg(m.sensor_id ORDER BY m.sensor_id), array_agg(l.household_id ORDER BY m.sensor_id),
           array_agg(m.temp ORDER BY m.sensor_id)
      FROM moved AS m JOIN locked AS l ON l.id = m.sensor_id
     WHERE m.reached AND l.alert_report_id IS NULL
"""
_SET_ALERTS = """
    UPDATE sensors AS s SET alert_report_id = v.alert
      FROM unnest($1::varchar[], $2::varchar[]) AS v(id, alert)
     WHERE s.id = v.id
"""


async def _driver(session: AsyncSession) -> Any:
    """The asyncpg connection under the session's transaction (which this begins through SQLAlchemy if need be)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


class Reached(NamedTuple):
    """A sensor whose run reached the duration in this batch and which has no open alert, as its run stands."""

    sensor_id: str
    household_id: str
    temp_c: float


async def store(
    driver: Any,
    sensor_ids: list[str],
    times: list[datetime],
    temps: list[float],
    *,
    latest: datetime,
    threshold_c: float,
    duration: timedelta,
) -> tuple[list[str], list[Reached]]:
    """Store readings (three parallel lists) and move their sensors' runs, on the driver's connection inside the
    caller's transaction. Returns the unknown sensor ids (sorted; the caller refuses the batch and rolls back) and the
    runs that reached the duration."""
    unknown, ids, households, last_temps = await driver.fetchrow(
        _INGEST, sensor_ids, times, temps, latest, threshold_c, duration
    )
    reached = [Reached(*row) for row in zip(ids, households, last_temps, strict=True)] if ids else []
    return list(unknown), reached


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
    # In UTC's own tzinfo: pydantic's compares and encodes several times slower, per reading.
    times = [r.measured_at.astimezone(UTC) for r in readings]
    if max(times) > latest:
        # Stored, a reading from the future would be the sensor's latest and hide every real one until then.
        first = next(i for i, t in enumerate(times) if t > latest)
        raise Invalid(
            "in_future",
            texts.IN_FUTURE.format(seconds=settings.max_clock_skew_seconds),
            f"readings.{first}.measured_at",
        )
    # The request's transaction's own asyncpg connection: no per-row wrapping.
    driver = await _driver(session)
    unknown, reached = await store(
        driver,
        [r.sensor_id for r in readings],
        times,
        [r.temp_c for r in readings],
        latest=latest,
        threshold_c=settings.sensor_cold_threshold_c,
        duration=timedelta(minutes=settings.sensor_cold_minutes),
    )
    if unknown:
        raise Invalid("unknown_sensor", texts.SENSOR_UNKNOWN.format(ids=", ".join(unknown[:20])), "readings")
    raised: list[str] = []
    if reached:  # rare
        # One report per household and cold spell: another sensor of the household may have raised it.
        alerted = await _open_alerts(session, {r.household_id for r in reached})
        alerts: list[str] = []
        for sensor_id, household_id, temp in reached:
            alert = alerted.get(household_id)
            if alert is None:
                alert = await _raise(
                    session,
                    intake,
                    sensor_id=sensor_id,
                    household_id=household_id,
                    temp_c=temp,
                    settings=settings,
                    at=at,
                )
                alerted[household_id] = alert
                raised.append(alert)
            alerts.append(alert)
        await driver.execute(_SET_ALERTS, [r.sensor_id for r in reached], alerts)
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
    temp_c: float,
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
                temp=temp_c,
            ),
            measured_temp_c=temp_c,
            reporter_kind="sensor",
            reporter_id=sensor_id,
            at=at,
        ),
    )
    after_commit(session, metrics.SENSOR_ALERTS.inc)
    return report.id
