"""The case timeline (案件时间线): one row per thing that happened to a case, shown to the console and the units."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.models import CaseEvent


class Happened(StrEnum):
    """What a timeline row says happened (the console shows each in Chinese)."""

    ARRIVED = "arrived"
    CLOSED = "closed"
    DISPATCHED = "dispatched"
    ESCALATED = "escalated"
    EXTENSION_DECIDED = "extension_decided"
    EXTENSION_REQUESTED = "extension_requested"
    GROUPED = "grouped"  # another report of the same incident joined the case
    HURRIED = "hurried"
    OPENED = "opened"
    PRIORITY_RAISED = "priority_raised"
    PROGRESS = "progress"
    REOPENED = "reopened"
    REPORTED = "reported"
    RESOLVED = "resolved"
    RETIERED = "retiered"
    RETURNED = "returned"
    SIGNED_IN = "signed_in"
    SUPPLEMENTED = "supplemented"
    UNIT_RESOLVED = "unit_resolved"
    WITHDRAWN = "withdrawn"


def timeline(session: AsyncSession, case_id: str, kind: Happened, actor: str, at: datetime, **detail: Any) -> None:
    session.add(CaseEvent(case_id=case_id, kind=kind, actor=actor, at=at, detail=detail))
