"""What follow-up's routes depend on: its context (built by main.py, read with ``followup_context``), the request's
transaction; who oversees, and the pattern of a query parameter taking one of a few values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from fastapi import Request

from services.followup.config import FollowupSettings
from shared.http.context import ServiceContext, context_of
from shared.http.deps import Transaction
from shared.http.security import CurrentPrincipal
from shared.outbox import OutboxWriter
from shared.scope import SUPERVISORS

__all__ = ["OVERSEERS", "CurrentPrincipal", "FollowupContext", "Session", "followup_context", "one_of"]

# Who sees the visits, checks and reports of an area: its task force (street), its district, the admin.
OVERSEERS = SUPERVISORS  # who oversees an area (shared.scope)


@dataclass(eq=False, kw_only=True)
class FollowupContext(ServiceContext):
    settings: FollowupSettings
    writer: OutboxWriter  # onto the follow-up topic


def followup_context(request: Request) -> FollowupContext:
    return cast(FollowupContext, context_of(request))


Session = Transaction


def one_of(*choices: str) -> str:
    """The pattern of a query parameter taking one of ``choices`` (statuses, in their enum's order)."""
    return f"^({'|'.join(choices)})$"
