"""Follow-up tables: return visits and their verdicts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import new_metadata
from shared.outbox import messaging_tables


class Base(DeclarativeBase):
    metadata = new_metadata()


outbox, inbox = messaging_tables(Base.metadata)


class Visit(Base):
    """A return visit (回访) owed for one resolved round of a case."""

    __tablename__ = "visits"
    __table_args__ = (
        UniqueConstraint("case_id", "round"),
        Index("ix_visits_grid_status", "grid_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(40))
    round: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(32))
    household_id: Mapped[str | None] = mapped_column(String(64))
    building_id: Mapped[str] = mapped_column(String(64))
    grid_id: Mapped[str] = mapped_column(String(64))
    community_id: Mapped[str] = mapped_column(String(64))
    street_id: Mapped[str] = mapped_column(String(64))
    district_id: Mapped[str] = mapped_column(String(64))
    unit_ids: Mapped[list[str]] = mapped_column(JSONB)
    resolved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))  # pending, closed, reopened
    room_temps_c: Mapped[list[float] | None] = mapped_column(JSONB)
    min_temp_c: Mapped[float | None] = mapped_column(Float)
    satisfaction: Mapped[str | None] = mapped_column(String(16))
    reopen_reason: Mapped[str | None] = mapped_column(String(16))
    notes: Mapped[str | None] = mapped_column(Text)
    photo_refs: Mapped[list[str]] = mapped_column(JSONB, default=list)
    visited_by: Mapped[str | None] = mapped_column(String(64))
    visited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
