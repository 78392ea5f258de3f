"""The one way a change of a case is written: ``apply`` turns what happened (``Changed``, which the moves of
services.dispatch.assignment return) into its timeline row, then hands the rest — the timers that stop, the metrics
(after the transaction commits) and the fact on the cases topic (outbox) — to ``shared.effects.apply``, in the
caller's transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.clocks import kinds
from services.dispatch.domain import Clock
from services.dispatch.models import timers
from services.dispatch.timeline import Happened, timeline
from shared import effects
from shared.effects import Arm, Effect, Stop
from shared.events import EventPayload
from shared.outbox import OutboxWriter


@dataclass(frozen=True, slots=True, kw_only=True)
class Changed:
    """One thing that happened to a case, with everything that follows from it."""

    case_id: str
    happened: Happened  # the timeline row's kind
    actor: str
    at: datetime
    detail: Mapping[str, Any] = field(default_factory=dict)  # the timeline row's detail
    event: EventPayload | None = None  # the fact announced on the cases topic, keyed by the case
    stops: tuple[str, tuple[Clock, ...]] | None = None  # (assignment id, its clocks whose timers stop)
    arms: tuple[Arm, ...] = ()  # timers that start (after every change's stops: a clock moved is stopped, then armed)
    metrics: tuple[Callable[[], None], ...] = ()  # moved once the transaction commits
    event_at: datetime | None = None  # when the fact is announced, if not ``at`` (a verdict's own time is ``at``)


async def apply(session: AsyncSession, writer: OutboxWriter, *changes: Changed) -> None:
    """Each change's timeline row, then what follows from them all (``shared.effects.apply``: its events staged
    with one statement, in order)."""
    follows: list[Effect] = []
    for change in changes:
        timeline(session, change.case_id, change.happened, change.actor, change.at, **change.detail)
        stops: tuple[Stop, ...] = ()
        if change.stops is not None:
            ref, clocks = change.stops
            stops = (Stop(timers, ref, tuple(kinds(*clocks))),)
        follows.append(
            Effect(
                at=change.event_at or change.at,
                event=change.event,
                key=change.case_id,
                stops=stops,
                arms=change.arms,
                metrics=change.metrics,
            )
        )
    await effects.apply(session, writer, *follows)
