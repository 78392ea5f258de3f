"""What intake's routes depend on: its context (built by main.py, read with ``intake_context``) and the request's
transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.intake.config import IntakeSettings
from services.intake.service import Intake
from shared.http.context import ServiceContext, context_of
from shared.http.deps import Transaction
from shared.http.security import CurrentPrincipal
from shared.limits import RateLimiter
from shared.outbox import OutboxWriter

__all__ = ["CurrentPrincipal", "IntakeContext", "Session", "intake_context", "sessions_of"]


@dataclass(eq=False, kw_only=True)
class IntakeContext(ServiceContext):
    settings: IntakeSettings
    writer: OutboxWriter  # onto the complaints topic
    intake: Intake  # accepts a complaint from any channel
    rate_limits: RateLimiter  # per grid worker, 12345 platform and Open311 client


def intake_context(request: Request) -> IntakeContext:
    return cast(IntakeContext, context_of(request))


def sessions_of(request: Request) -> async_sessionmaker[AsyncSession]:
    """For a route that opens its own transactions (Open311 answers in its own format, whatever fails)."""
    sessions = intake_context(request).runtime.sessions
    assert sessions is not None, "the service is not started"
    return sessions


Session = Transaction
