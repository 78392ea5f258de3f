"""What intake's routes depend on: its context (built by main.py) and the dependencies made from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.intake.config import IntakeSettings
from services.intake.service import Intake
from shared.clock import TimeSource
from shared.evidence import Evidence
from shared.http.context import ServiceContext, context_of
from shared.http.deps import Transaction
from shared.http.photos import evidence_of
from shared.http.security import CurrentPrincipal
from shared.limits import RateLimiter
from shared.outbox import OutboxWriter

__all__ = ["Context", "CurrentPrincipal", "IntakeContext", "Now", "Proof", "Session", "Settings"]


@dataclass(eq=False, kw_only=True)
class IntakeContext(ServiceContext):
    settings: IntakeSettings
    writer: OutboxWriter  # onto the complaints topic
    intake: Intake  # accepts a complaint from any channel
    rate_limits: RateLimiter  # per grid worker, 12345 platform and Open311 client


def intake_context(request: Request) -> IntakeContext:
    return cast(IntakeContext, context_of(request))


def settings_of(request: Request) -> IntakeSettings:
    return intake_context(request).settings


def clock_of(request: Request) -> TimeSource:
    return intake_context(request).clock


def intake_of(request: Request) -> Intake:
    return intake_context(request).intake


def limits_of(request: Request) -> RateLimiter:
    return intake_context(request).rate_limits


def sessions_of(request: Request) -> async_sessionmaker[AsyncSession]:
    """For a route that opens its own transactions (Open311 answers in its own format, whatever fails)."""
    sessions = intake_context(request).runtime.sessions
    assert sessions is not None, "the service is not started"
    return sessions


Context = Annotated[IntakeContext, Depends(intake_context)]
Settings = Annotated[IntakeSettings, Depends(settings_of)]
Session = Transaction
Now = Annotated[TimeSource, Depends(clock_of)]
Proof = Annotated[Evidence, Depends(evidence_of)]
