"""What dispatch's routes depend on: its context (built by main.py) and the dependencies made from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, Request

from services.dispatch.config import DispatchSettings
from services.dispatch.passwords import HashGate
from shared.auth import TokenIssuer
from shared.clock import TimeSource
from shared.evidence import Evidence
from shared.http.context import ServiceContext, context_of
from shared.http.deps import Transaction
from shared.http.photos import evidence_of
from shared.http.security import CurrentPrincipal
from shared.outbox import OutboxWriter

__all__ = ["Context", "CurrentPrincipal", "DispatchContext", "Now", "Proof", "Session", "Settings", "Writer"]


@dataclass(eq=False, kw_only=True)
class DispatchContext(ServiceContext):
    settings: DispatchSettings
    writer: OutboxWriter  # onto the cases topic
    issuer: TokenIssuer  # signs the console's and the field app's tokens
    login_gate: HashGate  # how many sign-ins hash a password at once, and how many wait


def dispatch_context(request: Request) -> DispatchContext:
    return cast(DispatchContext, context_of(request))


# Dependencies are coroutines: FastAPI runs a plain function dependency on a worker thread, a hop per request for
# reading an attribute (tests/unit/test_route_dependencies.py keeps every route free of them).
async def _context(request: Request) -> DispatchContext:
    return dispatch_context(request)


async def _settings(request: Request) -> DispatchSettings:
    return dispatch_context(request).settings


async def _writer(request: Request) -> OutboxWriter:
    return dispatch_context(request).writer


async def _clock(request: Request) -> TimeSource:
    return dispatch_context(request).clock


async def _evidence(request: Request) -> Evidence:
    return evidence_of(request)


Context = Annotated[DispatchContext, Depends(_context)]
Settings = Annotated[DispatchSettings, Depends(_settings)]
Session = Transaction
Writer = Annotated[OutboxWriter, Depends(_writer)]
Now = Annotated[TimeSource, Depends(_clock)]
Proof = Annotated[Evidence, Depends(_evidence)]
