"""Intake tables: the geography and heat-network registry, households, and reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import new_metadata
from shared.outbox import messaging_tables


class Base(DeclarativeBase):
    metadata = new_metadata()


outbox, inbox = messaging_tables(Base.metadata)


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


class Household(Base):
    __tablename__ = "households"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    building_id: Mapped[str] = mapped_column(ForeignKey("buildings.id"), index=True)
    unit_no: Mapped[str] = mapped_column(String(16))  # 单元
    room: Mapped[str] = mapped_column(String(16))
    resident_name: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    priority_group: Mapped[str | None] = mapped_column(String(32))  # elderly_alone, disabled, low_income


class Report(Base):
    """One complaint as it came in, whatever the channel, with its enrichment and its case status."""

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_case", "case_id"),)

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
    status: Mapped[str] = mapped_column(String(24))  # accepted, dispatched, signed_in, resolved, closed, reopened
    case_id: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ReportEvent(Base):
    """What the reporter is told (事事有回音): each change of the case, in order."""

    __tablename__ = "report_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(24))
    note: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
