"""Intake tables: the geography and heat-network registry, households and sensors; reports, their groups and
timelines; 12345 callbacks and replay guard; sensor readings; the household-visit ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, REAL
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.intake.states import CallbackState
from shared.db import new_metadata
from shared.delivery import DeliveryRow
from shared.evidence import PhotoColumns
from shared.idempotency import IdempotentReplyColumns
from shared.outbox import messaging_tables
from shared.rate_buckets import rate_buckets_table
from shared.revocations import token_versions_table


class Base(DeclarativeBase):
    metadata = new_metadata()


outbox, inbox = messaging_tables(Base.metadata)
token_versions = token_versions_table(Base.metadata)  # what dispatch announced of accounts' tokens
rate_buckets = rate_buckets_table(Base.metadata)  # per-caller rate limits, one budget for every replica


class Area(Base):
    """A node of the geography (district, street, community, grid, compound) or heat network (substation)."""

    __tablename__ = "areas"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # district, street, community, grid, compound, substation
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[str | None] = mapped_column(String(64), index=True)


class Building(Base):
    __tablename__ = "buildings"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    compound_id: Mapped[str] = mapped_column(ForeignKey("areas.id"))
    grid_id: Mapped[str] = mapped_column(ForeignKey("areas.id"))
    substation_id: Mapped[str | None] = mapped_column(ForeignKey("areas.id"))
    # Denormalised from the tree at load time so enrichment is one row read.
    community_id: Mapped[str] = mapped_column(String(64))
    street_id: Mapped[str] = mapped_column(String(64))
    district_id: Mapped[str] = mapped_column(String(64))
    # Read only with the building (registry.place joins it): never loaded behind the caller's back.
    compound: Mapped[Area] = relationship(foreign_keys=[compound_id], lazy="raise", viewonly=True)


class Household(Base):
    __tablename__ = "households"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    building_id: Mapped[str] = mapped_column(ForeignKey("buildings.id"), index=True)
    unit_no: Mapped[str] = mapped_column(String(16))  # 单元
    room: Mapped[str] = mapped_column(String(16))
    resident_name: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    priority_group: Mapped[str | None] = mapped_column(String(32))  # elderly_alone, disabled, low_income


class ReportGroup(Base):
    """An incident: reports of one household and category, or of one building or substation, handled as one
    case. The first report is announced (ComplaintReported); the others are linked (ComplaintGrouped)."""

    __tablename__ = "report_groups"
    __table_args__ = (
        # At most one group per key takes new reports: concurrent first reports race on this index.
        Index("uq_report_groups_open_key", "key", unique=True, postgresql_where=text("accepting")),
        Index("ix_report_groups_case", "case_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(16))  # household, building, substation
    scope_id: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(32))
    lead_report_id: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(24))  # the case status its reports show: a states.ReportStatus
    accepting: Mapped[bool] = mapped_column(Boolean, default=True)
    report_count: Mapped[int] = mapped_column(Integer, default=1)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_report_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When the case fact behind ``status`` happened (dispatch's or follow-up's clock); None before any.
    status_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Report(Base):
    """One complaint as it came in, whatever the channel, with its enrichment and its case status."""

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_case", "case_id"), Index("ix_reports_reported_at", "reported_at"))

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel: Mapped[str] = mapped_column(String(24))
    external_id: Mapped[str | None] = mapped_column(String(120), unique=True)
    category: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(16))
    priority_resident: Mapped[bool]
    household_id: Mapped[str | None] = mapped_column(String(64))
    building_id: Mapped[str] = mapped_column(String(64))
    location: Mapped[dict[str, Any]] = mapped_column(JSONB)
    description: Mapped[str] = mapped_column(Text)
    measured_temp_c: Mapped[float | None] = mapped_column(Float)
    photo_refs: Mapped[list[str]] = mapped_column(JSONB, default=list)
    reporter_kind: Mapped[str] = mapped_column(String(24))
    reporter_id: Mapped[str | None] = mapped_column(String(64))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(24))  # a states.ReportStatus
    case_id: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # When the case fact behind ``status`` happened; a fact older than this arrived late and moves nothing.
    # Not ``updated_at``: a report that joins after a fact happened but before intake heard of it still hears it.
    status_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    group_id: Mapped[str | None] = mapped_column(ForeignKey("report_groups.id"), index=True)
    integration_id: Mapped[str | None] = mapped_column(String(64))  # the 12345 platform owed status callbacks
    order_no: Mapped[str | None] = mapped_column(String(80))  # its work-order number
    agency: Mapped[str | None] = mapped_column(String(300))  # unit ids convened for the case, comma-separated
    expected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # latest resolve deadline
    # unit id → unit type of the units answering for the case (CaseAssigned, minus 退单 and re-tiering): the public
    # view shows the types (供热企业, 物业), never a unit's id or name.
    handling: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))


class ReportEvent(Base):
    """What the reporter is told (事事有回音): each change of the case, in order."""

    __tablename__ = "report_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(24))  # a states.Told: a status or an entry that moves nothing
    note: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class HotlineCallback(DeliveryRow, Base):
    """A status change owed to a 12345 platform: a row of the shared delivery machine (shared.delivery) whose
    stream is the order. Per order, rows go out strictly in ``seq`` order; a row that failed
    ``callback_max_attempts`` times is parked as ``dead`` and holds back the rest of its order."""

    __tablename__ = "hotline_callbacks"
    __table_args__ = (
        UniqueConstraint("integration_id", "order_no", "seq", name="uq_hotline_callbacks_order_seq"),
        Index(
            "ix_hotline_callbacks_due", "next_attempt_at", postgresql_where=text(f"state = '{CallbackState.PENDING}'")
        ),
    )

    integration_id: Mapped[str] = mapped_column(String(64))
    order_no: Mapped[str] = mapped_column(String(80))
    report_id: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(24))  # the states.Told it reports
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)


class HotlineOperation(Base):
    """An operation a 12345 platform sent on one of its orders (撤单, 补充诉求, 催单), once per operation id."""

    __tablename__ = "hotline_operations"

    integration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    operation_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    order_no: Mapped[str] = mapped_column(String(80))
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # withdraw, supplement, hurry
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class HotlineReplay(Base):
    """Signatures already used, kept until their timestamp could no longer pass the skew check."""

    __tablename__ = "hotline_replays"

    signature: Mapped[str] = mapped_column(String(64), primary_key=True)
    integration_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Sensor(Base):
    """A room-temperature sensor (室温采集器) in a household, and where its cold run stands."""

    __tablename__ = "sensors"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Readings carry this small integer instead of the text id: 16 bytes of data per reading.
    num: Mapped[int] = mapped_column(Integer, Identity(), unique=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id"), index=True)
    cold_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_reading_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_temp_c: Mapped[float | None] = mapped_column(Float)
    alert_report_id: Mapped[str | None] = mapped_column(String(40))  # the open report this sensor raised


# Append-only and narrow: sensor number, time, temperature. No primary key; the index serves per-sensor history.
sensor_readings = Table(
    "sensor_readings",
    Base.metadata,
    Column("sensor_num", Integer, nullable=False),
    Column("measured_at", DateTime(timezone=True), nullable=False),
    Column("temp_c", REAL, nullable=False),
    Index("ix_sensor_readings_sensor_time", "sensor_num", "measured_at"),
)


class HouseholdVisit(Base):
    """访民问暖: one visit of a grid worker to a household, with what was found."""

    __tablename__ = "household_visits"
    __table_args__ = (
        Index("ix_household_visits_grid_time", "grid_id", "visited_at"),
        UniqueConstraint("grid_worker_id", "idempotency_key", name="uq_household_visits_worker_key"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id"), index=True)
    building_id: Mapped[str] = mapped_column(String(64))
    grid_id: Mapped[str] = mapped_column(String(64))
    grid_worker_id: Mapped[str] = mapped_column(String(64))
    visited_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    measured_temp_c: Mapped[float | None] = mapped_column(Float)
    residents_reached: Mapped[int] = mapped_column(Integer)
    problem_found: Mapped[bool] = mapped_column(Boolean)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    report_ids: Mapped[list[str]] = mapped_column(JSONB)
    idempotency_key: Mapped[str | None] = mapped_column(String(80))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Photo(PhotoColumns, Base):
    """A photo upload this service granted, and once an action named it, the evidence it is (shared.evidence)."""


class IdempotentReply(IdempotentReplyColumns, Base):
    """The first answer to an action sent with an ``Idempotency-Key`` (shared.idempotency)."""
