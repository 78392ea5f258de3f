"""The notifier's tables: who hears what through which channel (``notify_targets``), and every message owed
(``notifications``: a row of the shared delivery machine, shared.delivery)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.dispatch.models import Base
from shared.delivery import DeliveryRow, DeliveryState


class NotifyTarget(Base):
    """One recipient on one channel: a unit's duty group robot, its duty phones, its own system; a community's,
    street's, district's or grid's group; the on-call of operations (``owner_kind`` ops).

    ``config`` is what the channel needs (checked by its adapter): URLs, robot secrets, duty phone numbers — units'
    and offices' contacts, never residents'. ``kinds``: the notification kinds it takes (None: all).
    ``not_before``: when it may be sent to next (a robot webhook takes about 20 messages a minute)."""

    __tablename__ = "notify_targets"
    __table_args__ = (UniqueConstraint("owner_kind", "owner_id", "channel", "name", name="uq_notify_targets_owner"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner_kind: Mapped[str] = mapped_column(String(8))  # an OwnerKind
    owner_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(12))  # a channels.base.ChannelKind
    name: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(JSONB)
    kinds: Mapped[list[str] | None] = mapped_column(ARRAY(String(24)))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    not_before: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Notification(DeliveryRow, Base):
    """A message owed to one target. Its stream is (target, lane): ``lane`` is empty for what is sent as it happens
    and a visit's id for that visit's reminder, which waits for its hour without holding the target's other
    messages back. A redelivered event makes no second row (``event_id``, ``target_id``, ``kind``)."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("event_id", "target_id", "kind", name="uq_notifications_event_target"),
        Index("ix_notifications_due", "next_attempt_at", postgresql_where=text(f"state = '{DeliveryState.PENDING}'")),
        Index("ix_notifications_case", "case_id"),
        # the queue gauge counts what is not delivered: a few rows among millions
        Index("ix_notifications_undelivered", "state", postgresql_where=text(f"state <> '{DeliveryState.DELIVERED}'")),
    )

    target_id: Mapped[int] = mapped_column(ForeignKey("notify_targets.id", ondelete="CASCADE"), index=True)
    lane: Mapped[str] = mapped_column(String(64), default="")
    channel: Mapped[str] = mapped_column(String(12))
    kind: Mapped[str] = mapped_column(String(24))  # a kinds.NotifyKind
    event_id: Mapped[str] = mapped_column(String(64))
    event_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    case_id: Mapped[str | None] = mapped_column(String(40))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    title: Mapped[str] = mapped_column(String(200))
    lines: Mapped[list[str]] = mapped_column(JSONB)
    sms: Mapped[str] = mapped_column(String(300), default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
