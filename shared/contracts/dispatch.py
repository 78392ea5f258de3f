"""Events produced by the dispatch service on the cases topic (key: case id)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from shared.contracts.common import Category, Location, Priority, Tier, UnitType
from shared.events import EventPayload
from shared.privacy import PublicText


class CaseOpened(EventPayload):
    """A case was opened for one or more reports (受理)."""

    event_type = "CaseOpened"

    case_id: str
    report_ids: list[str]
    category: Category
    priority: Priority
    tier: Tier
    priority_resident: bool
    location: Location
    opened_at: datetime


class CaseAssigned(EventPayload):
    """A responsible unit was convened for a round of the case (派单 / 吹哨)."""

    event_type = "CaseAssigned"

    case_id: str
    assignment_id: str
    round: int = Field(ge=1)
    unit_id: str
    unit_type: UnitType
    sign_in_due: datetime
    on_site_due: datetime
    resolve_due: datetime


class AssignmentSignedIn(EventPayload):
    """The unit signed in for its assignment (签收 / 报到)."""

    event_type = "AssignmentSignedIn"

    case_id: str
    assignment_id: str
    unit_id: str
    signed_in_at: datetime
    on_time: bool


class AssignmentArrived(EventPayload):
    """The unit reached the site."""

    event_type = "AssignmentArrived"

    case_id: str
    assignment_id: str
    unit_id: str
    arrived_at: datetime
    on_time: bool


class AssignmentResolved(EventPayload):
    """The unit reported its part done, with what it did."""

    event_type = "AssignmentResolved"

    case_id: str
    assignment_id: str
    unit_id: str
    resolved_at: datetime
    on_time: bool
    action_taken: PublicText
    measured_temp_c: float | None = None
    photos: int = Field(default=0, ge=0, description="Photos of the fix the unit attached.")
    photos_outside_window: int = Field(
        default=0, ge=0, description="Of them, not shown to be taken between the dispatch and the 办结 (flagged)."
    )


class CaseResolved(EventPayload):
    """Every assignment of the round is resolved: the case awaits its return visit (回访)."""

    event_type = "CaseResolved"

    case_id: str
    round: int
    category: Category
    priority: Priority
    location: Location
    report_ids: list[str]
    unit_ids: list[str]
    resolved_at: datetime


class CaseRoundStarted(EventPayload):
    """A reopened case was sent back to its units for another round (发回重办)."""

    event_type = "CaseRoundStarted"

    case_id: str
    round: int
    redo_count: int
    priority: Priority
    reason: str


class AssignmentStatus(StrEnum):
    """Where a unit's assignment stands. Dispatch moves it (services/dispatch/states.py); follow-up keeps a copy
    moved by dispatch's events (AssignmentSignedIn, AssignmentArrived, AssignmentResolved, AssignmentReturned)."""

    DISPATCHED = "dispatched"  # 派单: waiting for 签收
    SIGNED_IN = "signed_in"  # 签收
    ON_SITE = "on_site"  # 到场
    RESOLVED = "resolved"  # 办结 (the unit's part)
    RETURNED = "returned"  # 退单
    WITHDRAWN = "withdrawn"  # taken back by dispatch (re-tiering, a new round)


class EscalationLevel(StrEnum):
    REMINDER = "reminder"  # 催办: to the unit
    NOTICE = "notice"  # 通报: to the community and the street task force
    SUPERVISION = "supervision"  # 督办: the district housing bureau


class CaseEscalated(EventPayload):
    """A clock was breached (or the case bounced too often) and the case climbed a step of the chain."""

    event_type = "CaseEscalated"

    case_id: str
    assignment_id: str | None = Field(description="None when the whole case is escalated (e.g. bounced 3 times).")
    unit_id: str | None
    unit_type: UnitType | None
    level: EscalationLevel
    clock: str = Field(description="sign_in, on_site, resolve, or bounces")
    due_at: datetime | None
    escalated_at: datetime
    district_id: str
    street_id: str


class AssignmentReturned(EventPayload):
    """退单: the unit returned its assignment with a reason; the case is routed again."""

    event_type = "AssignmentReturned"

    case_id: str
    assignment_id: str
    unit_id: str
    unit_type: UnitType
    reason_code: str
    note: PublicText | None
    bounce_count: int = Field(description="How many times the case has been returned so far.")
    returned_at: datetime


class ExtensionRequested(EventPayload):
    """延期: a unit asked for more time to resolve."""

    event_type = "ExtensionRequested"

    case_id: str
    assignment_id: str
    unit_id: str
    extension_id: str
    reason: PublicText
    requested_resolve_due: datetime
    requested_at: datetime


class ExtensionDecided(EventPayload):
    """The street task force approved or refused an extension; approval moves the resolve deadline."""

    event_type = "ExtensionDecided"

    case_id: str
    assignment_id: str
    unit_id: str
    extension_id: str
    approved: bool
    decided_by: str
    resolve_due: datetime = Field(description="The resolve deadline in force after the decision.")
    decided_at: datetime


class CaseRetiered(EventPayload):
    """The street task force moved the case to another tier."""

    event_type = "CaseRetiered"

    case_id: str
    tier: Tier
    previous_tier: Tier
    by: str
    at: datetime


class CaseWithdrawn(EventPayload):
    """The case was withdrawn: every report of it was withdrawn by its platform (撤单). Its open assignments are
    cancelled and its clocks disarmed; the case counts against no unit."""

    event_type = "CaseWithdrawn"

    case_id: str
    report_ids: list[str]
    unit_ids: list[str] = Field(description="Units whose open assignments were cancelled.")
    reason: PublicText
    withdrawn_at: datetime


class CaseSupplemented(EventPayload):
    """补充诉求 reached the case: its text is on the timeline and told to the units holding it; the priority may
    have been raised by the new facts."""

    event_type = "CaseSupplemented"

    case_id: str
    report_id: str
    content: PublicText
    priority: Priority = Field(description="The case's priority after the supplement.")
    previous_priority: Priority
    unit_ids: list[str] = Field(description="Units holding an open assignment of the case, told of the supplement.")
    supplemented_at: datetime


class CaseHurried(EventPayload):
    """催单 reached the case: a repeat complaint (重复诉求). The units holding an open clock got a 催办 at once; from
    the configured count on the case is under district supervision (督办)."""

    event_type = "CaseHurried"

    case_id: str
    report_id: str
    hurries: int = Field(ge=1, description="Hurries of the case so far, this one included.")
    unit_ids: list[str] = Field(description="Units holding an open clock of the case, sent a 催办.")
    supervised: bool = Field(description="The case is under district supervision (督办) after this hurry.")
    hurried_at: datetime
    district_id: str
    street_id: str


class AccountTokensRevoked(EventPayload):
    """A console account's tokens issued before now stop working: it was deactivated, its password changed, or whom
    it acts as changed. Intake and follow-up refuse tokens of the account below ``token_version``. Key: the account
    (``account:<name>``), not a case."""

    event_type = "AccountTokensRevoked"

    account: str = Field(description="The console account's username.")
    token_version: int = Field(ge=1, description="The lowest token version still valid for the account.")
    revoked_at: datetime
