"""Open311's use cases: submit a service request, and the anonymous list and single request, which publish only
requests submitted through Open311, placed at their building, with names, phone numbers and doors taken out."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import domain, registry, service, texts
from services.intake.complaint import Complaint
from services.intake.models import Building, Household, Report, ReportEvent
from services.intake.open311.catalog import SERVICES
from services.intake.open311.wire import MAX_LIST, Open311Error, w3c
from services.intake.public_text import mask_rooms
from services.intake.states import OPEN311_CLOSED, Open311Status, open311_status
from shared.contracts.common import Category, Channel
from shared.errors import Refused
from shared.inputs import InputRefused, parse_datetime, web_url_refusal
from shared.states import values

MAX_RANGE = timedelta(days=90)
# A temperature as people write it: ASCII digits, an optional sign and at most two decimals. ``float()`` also reads
# ``1_5``, ``1e1``, `` 15``, ``nan``, ``inf`` and full-width digits.
_TEMPERATURE = re.compile(r"-?[0-9]{1,2}(?:\.[0-9]{1,2})?")
TEMP_RANGE = (-10.0, 40.0)


def parse_temperature(raw: str) -> float | None:
    """``attribute[measured_temp_c]`` written in ASCII decimals within -10–40 °C, or None when it is not."""
    if not _TEMPERATURE.fullmatch(raw):
        return None
    value = float(raw)
    return value if TEMP_RANGE[0] <= value <= TEMP_RANGE[1] else None


def _parse_date(raw: str, name: str) -> datetime:
    """A W3C date-time in 2000–2100 (a ``+`` of the offset decoded to a space by a careless client is read back)."""
    try:
        return parse_datetime(raw.strip().replace(" ", "+"))
    except InputRefused as exc:
        raise Open311Error(400, texts.OPEN311_BAD_DATE.format(name=name)) from exc


# -- requests ------------------------------------------------------------------------------------------------------


def request_view(report: Report, building_name: str, resident_name: str | None, note: str | None) -> dict[str, Any]:
    category = Category(report.category)
    return {
        "service_request_id": report.id,
        "status": open311_status(report.status).value,
        "status_notes": mask_rooms(note or domain.STATUS_NOTES.get(report.status, report.status)),
        "service_name": SERVICES[category][0],
        "service_code": category.value,
        # The household's door (3单元501室, 3-2-501) is kept in stored text for those who go there; the anonymous
        # list shows the building only.
        "description": mask_rooms(domain.redact(report.description, names=[resident_name] if resident_name else [])),
        "agency_responsible": report.agency.replace(",", "、") if report.agency else texts.OPEN311_AGENCY,
        "service_notice": "",
        "requested_datetime": w3c(report.reported_at),
        "updated_datetime": w3c(report.updated_at),
        "expected_datetime": w3c(report.expected_at),
        # The building, never the household: the list is anonymous.
        "address": building_name,
        "address_id": report.building_id,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": _media(report.photo_refs),
    }


def _media(refs: list[str]) -> str | None:
    """The first photo, if it is a web link (one stored before links were checked is left out)."""
    return refs[0] if refs and web_url_refusal(refs[0]) is None else None


async def _views(session: AsyncSession, query: Any) -> list[dict[str, Any]]:
    rows = (await session.execute(query)).all()
    ids = [row[0].id for row in rows]
    notes: dict[str, str] = {}
    if ids:
        latest = await session.execute(
            select(ReportEvent.report_id, ReportEvent.note)
            .where(ReportEvent.report_id.in_(ids))
            .order_by(ReportEvent.report_id, ReportEvent.id.desc())
            .ext(distinct_on(ReportEvent.report_id))
        )
        notes = {row[0]: row[1] for row in latest}
    return [request_view(report, building, resident, notes.get(report.id)) for report, building, resident in rows]


def _base_query() -> Any:
    """What may be published: requests that came in through Open311 (the resident's name only to redact it)."""
    return (
        select(Report, Building.name, Household.resident_name)
        .join(Building, Building.id == Report.building_id)
        .outerjoin(Household, Household.id == Report.household_id)
        .where(Report.channel == Channel.OPEN311.value)
    )


async def list_requests(session: AsyncSession, params: dict[str, str], *, now: datetime) -> list[dict[str, Any]]:
    query = _base_query()
    ids = [i.strip() for i in params.get("service_request_id", "").split(",") if i.strip()]
    if ids:  # the spec: a list of ids overrides every other filter
        return await _views(session, query.where(Report.id.in_(ids[:MAX_LIST])).order_by(Report.reported_at.desc()))
    codes = [c.strip() for c in params.get("service_code", "").split(",") if c.strip()]
    if codes:
        query = query.where(Report.category.in_(codes))
    start = _parse_date(params["start_date"], "start_date") if params.get("start_date") else None
    end = _parse_date(params["end_date"], "end_date") if params.get("end_date") else None
    if start and not end:
        end = min(now, start + MAX_RANGE)
    end = end or now
    start = start or end - MAX_RANGE
    if end - start > MAX_RANGE:
        raise Open311Error(400, texts.OPEN311_RANGE_TOO_LONG)
    query = query.where(Report.reported_at >= start, Report.reported_at <= end)
    words = {s.strip() for s in params.get("status", "").split(",") if s.strip()}
    if words - set(Open311Status):
        raise Open311Error(400, texts.OPEN311_BAD_STATUS)
    wanted = {Open311Status(w) for w in words}  # both words, or none: no filter
    if wanted == {Open311Status.OPEN}:
        query = query.where(Report.status.not_in(values(OPEN311_CLOSED)))
    elif wanted == {Open311Status.CLOSED}:
        query = query.where(Report.status.in_(values(OPEN311_CLOSED)))
    return await _views(session, query.order_by(Report.reported_at.desc()).limit(MAX_LIST))


async def get_request(session: AsyncSession, request_id: str) -> dict[str, Any]:
    views = await _views(session, _base_query().where(Report.id == request_id))
    if not views:
        raise Open311Error(404, texts.OPEN311_NOT_FOUND)
    return views[0]


def _submitter(params: dict[str, str]) -> list[str]:
    """The submitter's name as it may appear in the description (accepted, never stored)."""
    first, last = params.get("first_name", "").strip(), params.get("last_name", "").strip()
    return [n for n in (last + first, f"{first} {last}".strip(), first, last) if n]


async def create_request(
    session: AsyncSession, intake: service.Intake, params: dict[str, str], *, client_id: str, at: datetime
) -> dict[str, Any]:
    code = params.get("service_code", "").strip()
    if not code:
        raise Open311Error(400, texts.OPEN311_SERVICE_CODE_MISSING)
    try:
        category = Category(code)
    except ValueError as exc:
        raise Open311Error(400, texts.OPEN311_SERVICE_UNKNOWN) from exc
    description = params.get("description", "").strip()
    household_id = params.get("attribute[household_id]", "").strip() or None
    building_id = params.get("attribute[building_id]", "").strip() or None
    address_id = params.get("address_id", "").strip() or None
    if not household_id and not building_id and address_id:
        is_household = await session.get(Household, address_id) is not None
        household_id, building_id = (address_id, None) if is_household else (None, address_id)
    if not household_id and not building_id:
        raise Open311Error(400, texts.OPEN311_LOCATION_MISSING)
    measured: float | None = None
    if raw_temp := params.get("attribute[measured_temp_c]", ""):
        measured = parse_temperature(raw_temp)
        if measured is None:
            raise Open311Error(400, texts.OPEN311_BAD_ATTRIBUTE.format(code="measured_temp_c"))
    try:
        building, household = await registry.place(session, household_id, building_id)
    except Refused as exc:
        raise Open311Error(400, texts.OPEN311_LOCATION_UNKNOWN) from exc
    media = params.get("media_url", "").strip()
    if media and web_url_refusal(media):
        raise Open311Error(400, texts.OPEN311_BAD_MEDIA_URL)
    report, _ = await service.accept(
        session,
        intake,
        Complaint(
            channel=Channel.OPEN311,
            building=building,
            household=household,
            category=category,
            description=domain.redact(description or SERVICES[category][0], names=_submitter(params))[:2000],
            measured_temp_c=measured,
            photo_refs=(media,) if media else (),
            reporter_kind="resident",
            reporter_id=client_id,
            at=at,
        ),
    )
    return {
        "service_request_id": report.id,
        "service_notice": domain.STATUS_NOTES[report.status] if report.status in domain.STATUS_NOTES else "",
        "account_id": params.get("account_id") or None,
    }
