"""Sending what is owed: the shared delivery machine (shared.delivery), twice over the notifications table.

- **Groups and phones** (企业微信, 钉钉, SMS): a stream per target and lane; what piled up while the target's
  interval ran (a robot takes about 20 messages a minute) leaves as one digest of up to ``digest_max`` messages; a
  parked message does not hold the group's next one back.
- **Units' own systems** (webhook): one message per signed POST, in order; a parked one holds the rest back, as the
  12345 callbacks do, so a system never hears of a change before the assignment it changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.notify import metrics
from services.dispatch.notify.channels.base import Channel, ChannelKind, Message
from services.dispatch.notify.models import Notification, NotifyTarget
from services.dispatch.notify.settings import NotifySettings
from services.dispatch.notify.templates import Item, digest
from shared.clock import TimeSource
from shared.delivery import Claimed, Deliveries, DeliveryState, Hooks, Outcome, Policy, QueueGauge, Sent, Stream

GROUP_CHANNELS = (ChannelKind.WECOM, ChannelKind.DINGTALK, ChannelKind.SMS)


def message_of(rows: list[Notification], target: Target) -> Message:
    """One row as itself; several as a digest. Urgent messages @ the target's duty phones (``mentions``)."""
    urgent = any(r.urgent for r in rows)
    mentions = tuple(target.config.get("mentions", ())) if urgent else ()
    if len(rows) == 1:
        (row,) = rows
        return Message(
            key=f"n{row.id}",
            title=row.title,
            lines=tuple(row.lines),
            urgent=urgent,
            mentions=mentions,
            sms=row.sms,
            data=row.data,
        )
    text = digest([Item(r.kind, r.title, r.lines, r.urgent) for r in rows])
    return Message(
        key=f"n{rows[0].id}-{rows[-1].id}",
        title=text.title,
        lines=text.lines,
        urgent=urgent,
        mentions=mentions,
        sms=text.sms,
        data={"digest": [r.data for r in rows]},
    )


@dataclass(frozen=True)
class Target:
    """What a send needs of its target, read (and locked) by the gate that opened its stream."""

    channel: str
    config: dict[str, Any]
    enabled: bool


class Sending:
    """The notifier's two delivery jobs and the gate they share: a target sends at most once per interval."""

    def __init__(
        self,
        *,
        settings: NotifySettings,
        service: str,
        sessions: async_sessionmaker[AsyncSession],
        clock: TimeSource,
        adapters: Mapping[ChannelKind, Channel],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._settings, self._adapters = settings, adapters
        self.queue = QueueGauge(sessions, Notification, metrics.QUEUE)
        s = settings
        base = Policy(
            timeout_seconds=s.timeout_seconds,
            max_attempts=s.max_attempts,
            backoff_base_seconds=s.backoff_base_seconds,
            backoff_cap_seconds=s.backoff_cap_seconds,
            poll_seconds=s.poll_seconds,
        )
        hooks = Hooks[Notification](gate=self._gate, after=self._after, observe=self._observe)

        def job(name: str, policy: Policy, *where: Any) -> Deliveries[Notification]:
            return Deliveries(
                name=name,
                service=service,
                model=Notification,
                stream=(Notification.target_id, Notification.lane),
                order=Notification.id,
                sessions=sessions,
                clock=clock,
                policy=policy,
                send=self._send,
                hooks=hooks,
                transport=transport,
                where=where,
            )

        digests = replace(base, per_stream=s.digest_max, parked_holds_stream=False)
        self.groups = job("notify-groups", digests, Notification.channel.in_([c.value for c in GROUP_CHANNELS]))
        self.webhooks = job("notify-webhooks", base, Notification.channel == ChannelKind.WEBHOOK.value)

    async def run(self) -> None:
        """Both jobs, the queue gauge refreshed between the groups' rounds."""
        await asyncio.gather(self.groups.run(between_rounds=self.queue.refresh), self.webhooks.run())

    async def _gate(self, session: AsyncSession, streams: list[Stream], now: datetime) -> dict[Stream, Target]:
        """The streams whose target may send now, with the target; each target taken is shut for its channel's
        interval."""
        ids = sorted({s[0] for s in streams})
        ready = (
            await session.scalars(
                select(NotifyTarget)
                .where(NotifyTarget.id.in_(ids), NotifyTarget.not_before <= now)
                .with_for_update(skip_locked=True)
            )
        ).all()
        taken: dict[int, Target] = {}
        for target in ready:
            interval = self._settings.min_interval_seconds.get(target.channel, 0.0)
            target.not_before = now + timedelta(seconds=interval)
            taken[target.id] = Target(target.channel, dict(target.config), target.enabled)
        return {s: taken[s[0]] for s in streams if s[0] in taken}

    async def _after(self, session: AsyncSession, claimed: Claimed[Notification], sent: Sent, now: datetime) -> None:
        if sent.outcome is Outcome.RATE_LIMITED:  # the receiver asked for quiet: the whole target keeps it
            wait = sent.retry_after_seconds or self._settings.backoff_base_seconds
            await session.execute(
                update(NotifyTarget)
                .where(NotifyTarget.id == claimed.stream[0])
                .values(not_before=now + timedelta(seconds=wait))
            )

    async def _send(self, client: httpx.AsyncClient, claimed: Claimed[Notification]) -> Sent:
        target: Target = claimed.context
        if not target.enabled:
            return Sent(Outcome.NOT_CONFIGURED, "the target is turned off")
        adapter = self._adapters.get(ChannelKind(target.channel))
        if adapter is None:
            return Sent(Outcome.NOT_CONFIGURED, f"no {target.channel} channel is configured")
        return await adapter.send(client, target.config, message_of(claimed.rows, target))

    def _observe(self, claimed: Claimed[Notification], sent: Sent, state: str, done: datetime) -> None:
        channel = claimed.rows[0].channel
        metrics.SENDS.labels(channel, sent.outcome).inc()
        if len(claimed.rows) > 1:
            metrics.DIGESTED.labels(channel).inc()
        if state == DeliveryState.DEAD:
            metrics.PARKED.labels(channel).inc(len(claimed.rows))
        if state == DeliveryState.DELIVERED:
            for row in claimed.rows:
                metrics.DELIVERED.labels(channel, row.kind).inc()
                metrics.LATENCY.labels(channel).observe(max(0.0, (done - row.event_at).total_seconds()))
