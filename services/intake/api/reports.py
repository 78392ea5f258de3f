"""Report reads: a report's status and timeline for staff, whom to call about it, and the public view for the
resident holding the report number."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from services.intake import domain, registry, service, texts
from services.intake.api.common import Session
from services.intake.public_text import mask_rooms
from services.intake.schemas import (
    ContactOut,
    PublicReportOut,
    ReportEventOut,
    ReportOut,
)
from services.intake.states import OPEN311_CLOSED, ReportStatus
from shared import privacy
from shared.auth import Principal, Role
from shared.contracts.common import UnitType
from shared.errors import NotFound, responses
from shared.http.photos import evidence_of
from shared.http.security import CurrentPrincipal
from shared.scope import oversees

router = APIRouter()


@router.get("/v1/reports/{report_id}", response_model=ReportOut, tags=["reports"], responses=responses(401, 404, 422))
async def get_report(report_id: str, principal: CurrentPrincipal, session: Session, request: Request) -> ReportOut:
    """A report's status and what the reporter has been told, in order (事事有回音), with its photos."""
    report, events = await service.get(session, report_id=report_id)
    if not _oversees(principal, report.location):
        raise NotFound("report", texts.REPORT_NOT_FOUND)
    out = ReportOut.model_validate(report)
    out.timeline = [ReportEventOut.model_validate(e) for e in events]
    # 12345's references are links to the platform's own system, not photos of this store: shown as missing.
    out.photos = await evidence_of(request).shown(session, report.photo_refs or [])
    return out


@router.get(
    "/v1/reports/{report_id}/contact", response_model=ContactOut, tags=["reports"], responses=responses(401, 404, 422)
)
async def report_contact(report_id: str, principal: CurrentPrincipal, session: Session) -> ContactOut:
    """Whom to call about a report: the resident's name and phone from the registry. In full for the unit assigned
    to the report's open case and the grid worker of its grid; masked (李**, 138****1234) for the task force, the
    district and admin; anyone else, another unit included, is answered 404 like a report that does not exist."""
    report, _ = await service.get(session, report_id=report_id)
    full = _grid_worker_of(principal, report.location) or _assigned(principal, report.agency, report.status)
    if not full and not oversees(
        principal, district_id=report.location["district_id"], street_id=report.location["street_id"]
    ):
        raise NotFound("report", texts.REPORT_NOT_FOUND)
    household = await registry.resident(session, household_id=report.household_id)
    name, phone = (household.resident_name, household.phone) if household else (None, None)
    return ContactOut(
        report_id=report.id,
        household_id=report.household_id,
        resident_name=name if full else privacy.mask_name(name),
        phone=phone if full else privacy.mask_phone(phone),
        masked=not full,
    )


def _oversees(principal: Principal, loc: dict[str, Any]) -> bool:
    return oversees(principal, district_id=loc["district_id"], street_id=loc["street_id"], grid_id=loc["grid_id"])


def _grid_worker_of(principal: Principal, loc: dict[str, Any]) -> bool:
    return principal.role is Role.GRID_WORKER and principal.scope == loc["grid_id"]


def _assigned(principal: Principal, agency: str | None, status: str) -> bool:
    """A unit convened for the case (dispatch's CaseAssigned, minus 退单 and re-tiering) while it is open (neither
    closed nor withdrawn)."""
    units = [u for u in (agency or "").split(",") if u]
    return principal.role is Role.UNIT and status not in OPEN311_CLOSED and principal.sub in units


@router.get(
    "/v1/public/reports/{report_id}", response_model=PublicReportOut, tags=["reports"], responses=responses(404, 422)
)
async def public_report(report_id: str, session: Session) -> PublicReportOut:
    """For the resident holding the report number (its 64 random bits are the key): status and timeline only."""
    report, events = await service.get(session, report_id=report_id)
    # Who handles it, by kind only: one line per type however many units of it answer (联处 names each kind once).
    types = sorted({UnitType(t) for t in (report.handling or {}).values()}, key=list(UnitType).index)
    return PublicReportOut(
        id=report.id,
        category=report.category,
        status=report.status,
        status_note=mask_rooms(events[-1].note if events else domain.STATUS_NOTES[ReportStatus.ACCEPTED]),
        reported_at=report.reported_at,
        updated_at=report.updated_at,
        expected_at=report.expected_at if types else None,
        handling_unit_types=types,
        handled_by="、".join(texts.UNIT_TYPES[t] for t in types) or None,
        # Anyone holding the number reads this: a note naming the household's door shows the building only.
        timeline=[ReportEventOut(status=e.status, note=mask_rooms(e.note), at=e.at) for e in events],
    )
