"""The one way a service writes what follows from a change of its rows: ``apply`` turns each ``Effect`` into the
timers that start or stop, the metrics (moved only once the transaction commits) and the fact announced on the
service's topic (an outbox row), in that order, in the caller's transaction.

A use case changes its rows through its aggregate's transition table (``shared.states``) and says what follows as
``Effect`` values; it never bumps a metric, touches a timer or emits an event by hand. Dispatch's ``Changed`` adds
the case timeline row on top (``services.dispatch.effects``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from shared import timers as durable
from shared.db import after_commit
from shared.events import EventPayload
from shared.outbox import OutboxWriter


@dataclass(frozen=True, slots=True)
class Arm:
    """Start (or move) the one timer of ``kind`` for ``ref``."""

    table: Table
    kind: str
    ref: str
    due_at: datetime
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Stop:
    """Disarm the timers of ``ref`` of these kinds that have not fired."""

    table: Table
    ref: str
    kinds: tuple[str, ...]


def count(action: Callable[..., Any], *args: Any) -> Callable[[], None]:
    """A metric move to make once the transaction commits: ``count(METRIC.labels(...).inc)``,
    ``count(HISTOGRAM.observe, value)``."""
    return functools.partial(action, *args)


@dataclass(frozen=True, slots=True, kw_only=True)
class Effect:
    """What follows from one change: ``event`` keyed by ``key`` (which orders it on the topic and, unless
    ``correlation_id`` says otherwise, ties it to its case), timers, metrics."""

    at: datetime
    event: EventPayload | None = None
    key: str = ""
    correlation_id: str | None = None
    arms: tuple[Arm, ...] = ()
    stops: tuple[Stop, ...] = ()
    metrics: tuple[Callable[[], None], ...] = ()


async def apply(session: AsyncSession, writer: OutboxWriter, *effects: Effect) -> None:
    """Timers stopped, then armed (all in one statement), metrics queued for the commit, then the events staged
    on the outbox with one statement, in the order of ``effects``."""
    arms: list[Arm] = []
    events: list[tuple[EventPayload, str, datetime, str | None]] = []
    for effect in effects:
        for stop in effect.stops:
            await durable.cancel(session, stop.table, ref=stop.ref, kinds=stop.kinds)
        arms += effect.arms
        for action in effect.metrics:
            after_commit(session, action)
        if effect.event is not None:
            if not effect.key:
                raise ValueError(f"{type(effect.event).__name__} needs a key to be emitted")
            events.append((effect.event, effect.key, effect.at, effect.correlation_id))
    for table in {id(a.table): a.table for a in arms}.values():
        mine = [a for a in arms if a.table is table]
        rows = [{"kind": a.kind, "ref": a.ref, "due_at": a.due_at, "payload": dict(a.payload)} for a in mine]
        await durable.schedule_many(session, table, rows)
    await writer.emit_all(session, events)
