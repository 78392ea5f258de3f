"""Intake's statuses as types (see shared.states): the values are what the database stores and the APIs show.

A report, and the incident it belongs to (``report_groups.status``), shows where its case stands: ``accepted`` until
dispatch opens the case, then what the case's facts say — dispatched (opened, or a new round), signed_in, resolved,
closed by the return visit, reopened when that failed. Intake refuses none of these moves: a fact moves every report
of its case whatever its status, and a late fact moves nothing by its time, not by a status
(feedback.set_case_status), so the report has an enum and no transition table. One status is the platform's, not
the case's: withdrawn (撤单), final, which 12345's operations refuse to leave (``orders.ORDER``).

The timeline (``report_events.status``) and the 12345 callbacks (``hotline_callbacks.status``) carry those statuses
and entries that tell something without moving the case: grouped, escalated, and the platform's supplemented
(补充诉求) and hurried (催单).

A 12345 callback row (``hotline_callbacks.state``) is pending until the platform acknowledged it (delivered) or the
bounded retries ran out (dead); an operator's redrive moves a dead row back to pending. That move is refused from
any other state: its table, ``CALLBACK``, is in hotline.py, next to the texts it refuses with (texts.py keys its own
texts by these statuses, so this module imports nothing of intake).

Open311 speaks of ``open`` and ``closed`` only: ``OPEN311_STATUS`` maps every report status to Open311's word.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import TypeAlias

from shared.delivery import DeliveryState
from shared.states import among


class ReportStatus(StrEnum):
    """Where a report's case stands (``reports.status``, ``report_groups.status``)."""

    ACCEPTED = "accepted"  # 已受理: no case yet
    DISPATCHED = "dispatched"  # 已派单: the case was opened, or a new round started
    SIGNED_IN = "signed_in"  # 责任单位已签收
    RESOLVED = "resolved"  # 已处置，待回访
    CLOSED = "closed"  # 已办结: the return visit closed it
    REOPENED = "reopened"  # 回访未通过，发回重办
    WITHDRAWN = "withdrawn"  # 已撤单: its 12345 platform withdrew the order; it hears nothing more of the case


class TimelineEntry(StrEnum):
    """A timeline entry (and 12345 callback) that tells without moving the report's status."""

    GROUPED = "grouped"  # joined an incident already in hand
    ESCALATED = "escalated"  # 催办 / 通报 / 督办
    SUPPLEMENTED = "supplemented"  # 补充诉求: the resident called again with more
    HURRIED = "hurried"  # 催单: the resident called again because nothing happened (重复诉求)


# What a timeline entry or a 12345 callback says: a status the report moved to, or an entry that moves nothing.
Told: TypeAlias = ReportStatus | TimelineEntry


# Where a 12345 callback row stands (``hotline_callbacks.state``): the shared delivery machine's states (pending,
# delivered, dead — parked after callback_max_attempts tries, or with nowhere to go; it holds its order back).
CallbackState = DeliveryState


# The callback queue: rows not yet delivered (the gauge intake_callbacks_queue{state}).
UNDELIVERED = among(CallbackState.PENDING, CallbackState.DEAD)


class Open311Status(StrEnum):
    """Open311 GeoReport v2's status words (a service request's ``status``, the list's ``status`` filter)."""

    OPEN = "open"
    CLOSED = "closed"


# Every report status in Open311's words: open until the case is closed (a reopened case is open again).
OPEN311_STATUS: Mapping[ReportStatus, Open311Status] = MappingProxyType(
    {
        ReportStatus.ACCEPTED: Open311Status.OPEN,
        ReportStatus.DISPATCHED: Open311Status.OPEN,
        ReportStatus.SIGNED_IN: Open311Status.OPEN,
        ReportStatus.RESOLVED: Open311Status.OPEN,
        ReportStatus.CLOSED: Open311Status.CLOSED,
        ReportStatus.REOPENED: Open311Status.OPEN,
        ReportStatus.WITHDRAWN: Open311Status.CLOSED,
    }
)
# The report statuses Open311 calls closed; every other stored status reads as open.
OPEN311_CLOSED = frozenset(s for s, word in OPEN311_STATUS.items() if word is Open311Status.CLOSED)


def open311_status(status: str) -> Open311Status:
    """Open311's word for a report's stored status."""
    return Open311Status.CLOSED if status in OPEN311_CLOSED else Open311Status.OPEN
