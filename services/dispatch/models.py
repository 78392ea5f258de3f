"""Dispatch tables: units and their coverage, cases, assignments, and the case timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import new_metadata
from shared.evidence import PhotoColumns
from shared.idempotency import IdempotentReplyColumns
from shared.outbox import messaging_tables
from shared.timers import timers_table


class Base(DeclarativeBase):
    metadata = new_metadata()


outbox, inbox = messaging_tables(Base.metadata)
timers = timers_table(Base.metadata)


class Unit(Base):
    """A responsible unit: heating company, property manager, housing bureau, water company, task force."""

    __tablename__ = "units"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    district_id: Mapped[str] = mapped_column(String(64))


class UnitCoverage(Base):
    """Which registry node a unit serves: a substation, a compound, a street or a district."""

    __tablename__ = "unit_coverage"
    __table_args__ = (UniqueConstraint("unit_type", "scope_kind", "scope_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    unit_type: Mapped[str] = mapped_column(String(32))
    scope_kind: Mapped[str] = mapped_column(String(16))
    scope_id: Mapped[str] = mapped_column(String(64))


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_street_status", "street_id", "status"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[str] = mapped_column(String(24))  # assigned, unrouted, resolved, closed
    tier: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(16))
    priority_resident: Mapped[bool]
    location: Mapped[dict[str, Any]] = mapped_column(JSONB)
    district_id: Mapped[str] = mapped_column(String(64))
    street_id: Mapped[str] = mapped_column(String(64))
    household_id: Mapped[str | None] = mapped_column(String(64))
    round: Mapped[int] = mapped_column(Integer, default=1)
    redo_count: Mapped[int] = mapped_column(Integer, default=0)
    # Distinct households named by the case's reports (an incident grouped by intake): services.dispatch.incidents.
    affected_households: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    bounce_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    supervised: Mapped[bool] = mapped_column(default=False, server_default="false")  # 督办
    hurries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # 催单 (重复诉求) from 12345
    escalation_level: Mapped[str | None] = mapped_column(String(16))  # highest step reached
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CaseReport(Base):
    """A report of the case: the one that opened it, and every report intake grouped into its incident later."""

    __tablename__ = "case_reports"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    report_id: Mapped[str] = mapped_column(String(40), primary_key=True, unique=True)
    household_id: Mapped[str | None] = mapped_column(String(64))  # None: a building's or substation's report
    seq: Mapped[int] = mapped_column(BigInteger, Identity())  # the order the reports joined: the lead first


class EarlyReport(Base):
    """A grouped report that arrived before the case of its lead report was opened (their events travel on different
    partitions): kept here and joined to the case when it opens (services.dispatch.incidents)."""

    __tablename__ = "early_reports"

    report_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    lead_report_id: Mapped[str] = mapped_column(String(40), index=True)
    household_id: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(24))
    reporter_kind: Mapped[str] = mapped_column(String(24))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Assignment(Base):
    """One assignee's part of one round of a case, with its own clocks.

    The assignee is a unit (``unit_id`` = unit id), or for a minor case the grid (``unit_type`` grid,
    ``unit_id`` = grid id).
    """

    __tablename__ = "assignments"
    __table_args__ = (Index("ix_assignments_unit_status", "unit_id", "status"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[str] = mapped_column(String(64))
    unit_type: Mapped[str] = mapped_column(String(32))
    round: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(24))  # dispatched, signed_in, on_site, resolved, returned, withdrawn
    dispatched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sign_in_due: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    on_site_due: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolve_due: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    signed_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    arrived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    action_taken: Mapped[str | None] = mapped_column(Text)
    measured_temp_c: Mapped[float | None] = mapped_column(Float)
    photo_refs: Mapped[list[str]] = mapped_column(JSONB, default=list)
    # 到场 with the phone's position, rounded to ~100 m (3 decimals): {lat, lon, accuracy_m}
    arrival_position: Mapped[dict[str, float] | None] = mapped_column(JSONB)
    returned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    return_reason: Mapped[str | None] = mapped_column(String(32))
    return_note: Mapped[str | None] = mapped_column(Text)
    escalation_level: Mapped[str | None] = mapped_column(String(16))
    # The clocks count working time on the calendar (services.dispatch.workdays), not time around the clock: an
    # approved 延期's escalation steps follow the same calendar.
    working_time: Mapped[bool] = mapped_column(default=False, server_default="false")


class Extension(Base):
    """延期: a request for more time, decided by the street task force."""

    __tablename__ = "extensions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    assignment_id: Mapped[str] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[str] = mapped_column(String(40), index=True)
    unit_id: Mapped[str] = mapped_column(String(64))
    street_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    requested_resolve_due: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))  # pending, approved, refused
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(Text)


class RuleSet(Base):
    """A version of the dispatch rules; the one activated last is in force (a new version is activated as it is
    stored; ``POST /admin/rules/{version}/activate`` puts an earlier one back)."""

    __tablename__ = "rule_sets"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSONB)
    note: Mapped[str] = mapped_column(String(300))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    activated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CalendarYear(Base):
    """An admin's amendment of a year's working days (``PUT /admin/calendar/{year}``): it replaces what the
    chinese-calendar package says of that year (services.dispatch.workdays)."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    holidays: Mapped[list[str]] = mapped_column(JSONB)  # ISO dates off (法定节假日)
    make_up_workdays: Mapped[list[str]] = mapped_column(JSONB)  # ISO dates of Saturdays and Sundays worked (调休)
    note: Mapped[str] = mapped_column(String(300))
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WeatherFlag(Base):
    """A cold snap declared for a district tightens every new clock there."""

    __tablename__ = "weather_flags"

    district_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    cold_snap: Mapped[bool]
    until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CaseEvent(Base):
    """The case timeline (发现→上报→调度→处置→反馈): every step, who did it and when."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Account(Base):
    """A console sign-in: who the person acts as (role, subject, scope) and a salted password hash."""

    __tablename__ = "accounts"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(256))  # argon2id (pwdlib); older rows scrypt$n$r$p$salt$digest
    role: Mapped[str] = mapped_column(String(16))
    sub: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True, server_default="true")
    # Carried in login tokens (claim ``ver``); bumped when the account is deactivated, its password or whom it acts
    # as changes, which ends every token issued before (shared.auth.TokenVersions).
    token_version: Mapped[int] = mapped_column(default=1, server_default="1")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class LoginFailures(Base):
    """Failed sign-ins per account (``account:<name>``) or client address (``address:<ip>``), shared by every
    replica: past a threshold each further failure locks the key out for twice as long (services.dispatch.throttle).
    """

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class Photo(PhotoColumns, Base):
    """A photo upload this service granted, and once an action named it, the evidence it is (shared.evidence)."""


class IdempotentReply(IdempotentReplyColumns, Base):
    """The first answer to an action sent with an ``Idempotency-Key`` (shared.idempotency)."""
