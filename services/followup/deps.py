"""What follow-up's routes depend on: its context (built by main.py) and the dependencies made from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, cast

from fastapi import Depends, Request

from services.followup.config import FollowupSettings
from shared.evidence import Evidence
from shared.http.context import ServiceContext, context_of
from shared.http.deps import Transaction
from shared.http.photos import evidence_of
from shared.http.security import CurrentPrincipal
from shared.outbox import OutboxWriter

__all__ = ["Context", "CurrentPrincipal", "FollowupContext", "Now", "Proof", "Session", "Settings", "Writer"]


@dataclass(eq=False, kw_only=True)
class FollowupContext(ServiceContext):
    settings: FollowupSettings
    writer: OutboxWriter  # onto the follow-up topic


def followup_context(request: Request) -> FollowupContext:
    return cast(FollowupContext, context_of(request))


def settings_of(request: Request) -> FollowupSettings:
    return followup_context(request).settings


def writer_of(request: Request) -> OutboxWriter:
    return followup_context(request).writer


def now_of(request: Request) -> datetime:
    return followup_context(request).clock.now()


Context = Annotated[FollowupContext, Depends(followup_context)]
Settings = Annotated[FollowupSettings, Depends(settings_of)]
Session = Transaction
Writer = Annotated[OutboxWriter, Depends(writer_of)]
Now = Annotated[datetime, Depends(now_of)]
Proof = Annotated[Evidence, Depends(evidence_of)]
