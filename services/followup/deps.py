"""What follow-up's routes depend on: its context (built by main.py) and the dependencies made from it; who
oversees, and the pattern of a query parameter taking one of a few values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, cast

from fastapi import Depends, Request

from services.followup.config import FollowupSettings
from shared.auth import Role
from shared.evidence import Evidence
from shared.http.context import ServiceContext, context_of
from shared.http.deps import Transaction
from shared.http.photos import evidence_of
from shared.http.security import CurrentPrincipal
from shared.outbox import OutboxWriter

__all__ = [
    "OVERSEERS",
    "Context",
    "CurrentPrincipal",
    "FollowupContext",
    "Now",
    "Proof",
    "Session",
    "Settings",
    "Writer",
    "one_of",
]

# Who sees the visits, checks and reports of an area: its task force (street), its district, the admin.
OVERSEERS = (Role.TASK_FORCE, Role.DISTRICT, Role.ADMIN)


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


def one_of(*choices: str) -> str:
    """The pattern of a query parameter taking one of ``choices`` (statuses, in their enum's order)."""
    return f"^({'|'.join(choices)})$"
