"""Follow-up tables: return visits, rounds and their verdicts, spot-checks, and the facts learned from dispatch
and intake events that scorecards and reports are computed from (ids only, never names or phones)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Float, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import new_metadata
from shared.evidence import PhotoColumns
from shared.idempotency import IdempotentReplyColumns
from shared.outbox import messaging_tables
from shared.revocations import token_versions_table
from shared.timers import timers_table


class Base(DeclarativeBase):
    metadata = new_metadata()


outbox, inbox = messaging_tables(Base.metadata)
token_versions = token_versions_table(Base.metadata)  # what dispatch announced of accounts' tokens
timers = timers_table(Base.metadata)

BUILDING = "building"  # Visit.target of a building-level visit (no household known)


class CaseFact(Base):
    """Follow-up's view of a case, from dispatch's events: where, what, which round, closed or not."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_community", "community_id"),
        Index("ix_cases_street", "street_id"),
        Index("ix_cases_district", "district_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    category: Mapped[str] = mapped_column(String(32))
    tier: Mapped[str] = mapped_column(String(16))
    priority_resident: Mapped[bool] = mapped_column(Boolean, default=False)
    district_id: Mapped[str] = mapped_column(String(64))
    street_id: Mapped[str] = mapped_column(String(64))
    community_id: Mapped[str] = mapped_column(String(64))
    grid_id: Mapped[str] = mapped_column(String(64))
    building_id: Mapped[str] = mapped_column(String(64))
    household_id: Mapped[str | None] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    round: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16))  # open, resolved, closed, reopened, withdrawn
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # 撤单: the 12345 platform withdrew every report of the case; it then counts against no unit
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CaseReport(Base):
    """Which reports a case carries (from CaseOpened / CaseResolved), so a report knows when it is solved."""

    __tablename__ = "case_reports"

    report_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(40), index=True)


class AssignmentFact(Base):
    """One unit's part of one round, with its clocks and how it kept them (for the unit scorecard)."""

    __tablename__ = "assignments"
    __table_args__ = (Index("ix_assignments_unit_dispatched", "unit_id", "dispatched_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(40), index=True)
    round: Mapped[int] = mapped_column(Integer)
    unit_id: Mapped[str] = mapped_column(String(64))
    unit_type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # dispatched, signed_in, on_site, resolved, returned, withdrawn
    dispatched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sign_in_due: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    on_site_due: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolve_due: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    signed_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sign_in_on_time: Mapped[bool | None] = mapped_column(Boolean)
    arrived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    arrive_on_time: Mapped[bool | None] = mapped_column(Boolean)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolve_on_time: Mapped[bool | None] = mapped_column(Boolean)
    measured_temp_c: Mapped[float | None] = mapped_column(Float)
    # 办结 photos, and how many of them were flagged as not taken during the job (shared.evidence)
    photos: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    photos_outside_window: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    returned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    return_reason: Mapped[str | None] = mapped_column(String(32))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    escalations: Mapped[int] = mapped_column(Integer, default=0)


class EscalationFact(Base):
    """One step of dispatch's escalation chain (催办/通报/督办), whole case or one unit's clock."""

    __tablename__ = "escalations"
    __table_args__ = (Index("ix_escalations_case", "case_id"),)

    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    case_id: Mapped[str] = mapped_column(String(40))
    assignment_id: Mapped[str | None] = mapped_column(String(40))
    unit_id: Mapped[str | None] = mapped_column(String(64))
    unit_type: Mapped[str | None] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(16))
    clock: Mapped[str] = mapped_column(String(16))
    escalated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    district_id: Mapped[str] = mapped_column(String(64))
    street_id: Mapped[str] = mapped_column(String(64))


class HurryFact(Base):
    """One 催单 of a case (CaseHurried): a repeat complaint (重复诉求), charged to the units that held an open clock
    of the case at that moment (the 重复诉求率 of the assessment)."""

    __tablename__ = "hurries"
    __table_args__ = (Index("ix_hurries_case", "case_id"),)

    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    case_id: Mapped[str] = mapped_column(String(40))
    report_id: Mapped[str] = mapped_column(String(40))
    hurries: Mapped[int] = mapped_column(Integer)  # the case's hurries so far, this one included
    unit_ids: Mapped[list[str]] = mapped_column(JSONB)
    supervised: Mapped[bool] = mapped_column(Boolean)
    hurried_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    district_id: Mapped[str] = mapped_column(String(64))
    street_id: Mapped[str] = mapped_column(String(64))


class ComplaintFact(Base):
    """A report accepted by intake (排查问题 of the daily report): where, what, when. A complaint grouped into an
    open incident is kept too (its household is a complainant of the incident) but is not a new problem."""

    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_community_at", "community_id", "reported_at"),)

    report_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel: Mapped[str] = mapped_column(String(24))
    category: Mapped[str] = mapped_column(String(32))
    district_id: Mapped[str] = mapped_column(String(64))
    street_id: Mapped[str] = mapped_column(String(64), index=True)
    community_id: Mapped[str] = mapped_column(String(64))
    grid_id: Mapped[str] = mapped_column(String(64))
    building_id: Mapped[str] = mapped_column(String(64), index=True)
    household_id: Mapped[str | None] = mapped_column(String(64))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lead_report_id: Mapped[str | None] = mapped_column(
        String(40), index=True
    )  # set for a complaint intake grouped into an open incident: the same problem as its lead report


class LedgerVisit(Base):
    """访民问暖: one household visit of the ledger (走访户数, 居民, 发现问题 of the daily report)."""

    __tablename__ = "household_visits"
    __table_args__ = (Index("ix_household_visits_community_at", "community_id", "visited_at"),)

    visit_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    grid_worker_id: Mapped[str] = mapped_column(String(64))
    district_id: Mapped[str] = mapped_column(String(64))
    street_id: Mapped[str] = mapped_column(String(64), index=True)
    community_id: Mapped[str] = mapped_column(String(64))
    grid_id: Mapped[str] = mapped_column(String(64))
    building_id: Mapped[str] = mapped_column(String(64), index=True)
    household_id: Mapped[str | None] = mapped_column(String(64))
    visited_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    residents_reached: Mapped[int] = mapped_column(Integer)
    problem_found: Mapped[bool] = mapped_column(Boolean)
    findings: Mapped[int] = mapped_column(Integer)  # problems found (at least 1 when problem_found)
    report_id: Mapped[str | None] = mapped_column(String(40))
    report_ids: Mapped[list[str]] = mapped_column(JSONB)  # every report raised from the findings
    measured_temp_c: Mapped[float | None] = mapped_column(Float)


class Round(Base):
    """A resolved round of a case and its verdict: closed (办结) or reopened (发回重办, or 抽核 failed later)."""

    __tablename__ = "rounds"

    case_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    round: Mapped[int] = mapped_column(Integer, primary_key=True)
    street_id: Mapped[str] = mapped_column(String(64))
    district_id: Mapped[str] = mapped_column(String(64))
    unit_ids: Mapped[list[str]] = mapped_column(JSONB)
    resolved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    standard_c: Mapped[float] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(16))  # pending, closed, reopened
    reason: Mapped[str | None] = mapped_column(String(24))
    min_temp_c: Mapped[float | None] = mapped_column(Float)
    satisfaction: Mapped[str | None] = mapped_column(String(16))
    unreached: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    reopened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Visit(Base):
    """A return visit (回访) owed for one resolved round: one household, or one of a building's sample."""

    __tablename__ = "visits"
    __table_args__ = (
        UniqueConstraint("case_id", "round", "target", name="uq_visits_case_round_target"),
        Index("ix_visits_grid_status", "grid_id", "status"),
        Index("ix_visits_street_status", "street_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(40))
    round: Mapped[int] = mapped_column(Integer)
    target: Mapped[str] = mapped_column(String(64))  # the household id, or BUILDING
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
    standard_c: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))  # pending, closed, reopened, cancelled
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # unreached attempts so far
    attempt_log: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    unreached: Mapped[bool] = mapped_column(Boolean, default=False)
    overdue_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    concluded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    room_temps_c: Mapped[list[float] | None] = mapped_column(JSONB)
    min_temp_c: Mapped[float | None] = mapped_column(Float)
    satisfaction: Mapped[str | None] = mapped_column(String(16))
    reopen_reason: Mapped[str | None] = mapped_column(String(16))
    notes: Mapped[str | None] = mapped_column(Text)
    photo_refs: Mapped[list[str]] = mapped_column(JSONB, default=list)
    place_name: Mapped[str | None] = mapped_column(String(300))  # 小区 · 楼栋 · 单元 · 室 (shared.contracts)
    visited_by: Mapped[str | None] = mapped_column(String(64))
    visited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SpotCheckDraw(Base):
    """One weekly draw for one street, with the population it sampled, so anyone can replay it from the seed."""

    __tablename__ = "spot_check_draws"

    street_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    week: Mapped[str] = mapped_column(String(8), primary_key=True)
    seed: Mapped[str] = mapped_column(String(200))
    share: Mapped[float] = mapped_column(Float)
    population: Mapped[list[list[Any]]] = mapped_column(JSONB)  # [[case_id, round], ...] sorted
    sample: Mapped[list[list[Any]]] = mapped_column(JSONB)
    drawn_by: Mapped[str] = mapped_column(String(64))
    drawn_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SpotCheck(Base):
    """每周随机抽核: a closed round the street task force goes to verify."""

    __tablename__ = "spot_checks"
    __table_args__ = (
        UniqueConstraint("case_id", "round", name="uq_spot_checks_case_round"),
        Index("ix_spot_checks_street_week", "street_id", "week"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    street_id: Mapped[str] = mapped_column(String(64))
    district_id: Mapped[str] = mapped_column(String(64))
    community_id: Mapped[str] = mapped_column(String(64))
    week: Mapped[str] = mapped_column(String(8))
    case_id: Mapped[str] = mapped_column(String(40))
    round: Mapped[int] = mapped_column(Integer)
    household_id: Mapped[str | None] = mapped_column(String(64))
    building_id: Mapped[str] = mapped_column(String(64))
    unit_ids: Mapped[list[str]] = mapped_column(JSONB)
    closed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    standard_c: Mapped[float] = mapped_column(Float)
    drawn_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))  # pending, passed, failed
    room_temps_c: Mapped[list[float] | None] = mapped_column(JSONB)
    min_temp_c: Mapped[float | None] = mapped_column(Float)
    satisfaction: Mapped[str | None] = mapped_column(String(16))
    record_mismatch: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str | None] = mapped_column(Text)
    photo_refs: Mapped[list[str]] = mapped_column(JSONB, default=list)
    checked_by: Mapped[str | None] = mapped_column(String(64))
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Photo(PhotoColumns, Base):
    """A photo upload this service granted, and once an action named it, the evidence it is (shared.evidence)."""


class IdempotentReply(IdempotentReplyColumns, Base):
    """The first answer to an action sent with an ``Idempotency-Key`` (shared.idempotency)."""
