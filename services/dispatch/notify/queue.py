"""Notices become rows: one per enabled target of each owner that takes the kind, rendered from its template."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.notify import metrics
from services.dispatch.notify.kinds import NotifyKind
from services.dispatch.notify.models import Notification, NotifyTarget
from services.dispatch.notify.routing import Notice
from services.dispatch.notify.templates import render
from shared.db import after_commit, once_per_transaction
from shared.delivery import DeliveryState


async def enqueue(session: AsyncSession, notice: Notice, *, event_id: str, event_at: datetime, now: datetime) -> int:
    """Rows owed for ``notice`` (none twice for one event, target and kind). Returns how many were made."""
    if not notice.owners:
        return 0

    async def taking() -> list[tuple[int, str]]:
        found = await session.execute(
            select(NotifyTarget.id, NotifyTarget.channel).where(
                NotifyTarget.enabled,
                tuple_(NotifyTarget.owner_kind, NotifyTarget.owner_id).in_(list(notice.owners)),
                or_(NotifyTarget.kinds.is_(None), NotifyTarget.kinds.contains([notice.kind.value])),
            )
        )
        return [(target_id, channel) for target_id, channel in found]

    # Read once per transaction for the same owners and kind: a batch of assignments to one heating company asks
    # once. Targets are written by requests of their own (``notify.api``), never in a consumer's transaction.
    targets = await once_per_transaction(session, ("notify_targets", notice.owners, notice.kind), taking)
    if not targets:
        return 0
    text = render(notice.kind, notice.values)
    send_at = max(now, notice.send_at) if notice.send_at else now
    data = {"kind": notice.kind.value, "case_id": notice.case_id, "event_id": event_id, **notice.data}
    rows = [
        {
            "target_id": target_id,
            "lane": notice.lane,
            "channel": channel,
            "kind": notice.kind.value,
            "event_id": event_id,
            "event_at": max(event_at, send_at) if notice.send_at else event_at,
            "case_id": notice.case_id,
            "urgent": notice.urgent,
            "title": text.title,
            "lines": list(text.lines),
            "sms": text.sms,
            "data": data,
            "state": DeliveryState.PENDING,
            "attempts": 0,
            "next_attempt_at": send_at,
        }
        for target_id, channel in targets
    ]
    made = await session.scalars(
        insert(Notification)
        .values(rows)
        .on_conflict_do_nothing(constraint="uq_notifications_event_target")
        .returning(Notification.channel)
    )
    channels = list(made)

    def count() -> None:
        for channel in channels:
            metrics.MADE.labels(notice.kind.value, channel).inc()

    after_commit(session, count)
    return len(channels)


async def cancel_reminders(session: AsyncSession, *, visit_id: str) -> int:
    """A visit recorded: its reminder, if not yet sent, is owed to nobody."""
    result = await session.execute(
        delete(Notification).where(
            Notification.lane == visit_id,
            Notification.kind == NotifyKind.VISIT_DUE,
            Notification.state == DeliveryState.PENDING,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
