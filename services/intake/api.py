"""Intake HTTP API: grid workers' one-tap report and visit ledger, 12345 orders, sensor batches, report status for
residents and staff, and the admin registry and callback queue. Open311 lives in ``open311.py``."""

from __future__ import annotations

import hmac
import re
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, BeforeValidator, ValidationError
from pydantic_core import PydanticCustomError
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import domain, hotline, registry, sensors, service, texts, visits
from services.intake.config import GRID_WORKER
from services.intake.deps import clock_of as _clock
from services.intake.deps import intake_of as _intake
from services.intake.deps import limits_of as _limits
from services.intake.deps import settings_of as _settings
from services.intake.public_text import mask_rooms
from services.intake.schemas import (
    CallbackOut,
    ContactOut,
    GridReportIn,
    HotlineOrderIn,
    HotlineOrderOut,
    PlaceOut,
    PublicReportOut,
    ReadingsIn,
    ReadingsOut,
    RedriveOut,
    RegistryIn,
    ReportEventOut,
    ReportOut,
    VisitIn,
    VisitOut,
    VisitSummaryOut,
)
from services.intake.states import CallbackState, ReportStatus, TimelineEntry
from shared import privacy
from shared.auth import Principal, Role, require
from shared.db import retry_races
from shared.errors import ApiError, NotFound, responses
from shared.evidence import PHOTO_REFUSALS
from shared.http.deps import Transaction
from shared.http.photos import evidence_of
from shared.http.security import AdminOnly, CurrentPrincipal
from shared.inputs import IsoDate, not_in_future

router = APIRouter()
M = TypeVar("M", bound=BaseModel)
IdQuery = Annotated[str | None, Query(max_length=64)]
OrderQuery = Annotated[str | None, Query(max_length=80)]


def _ascii_digits(value: Any) -> Any:
    """A number read from a query string in ASCII digits only: pydantic's lax int also reads ``1_0``, `` 10``,
    ``+10`` and ``10.0``."""
    if isinstance(value, str) and not re.fullmatch(r"[0-9]{1,9}", value):
        raise PydanticCustomError("ascii_int", "Input should be a whole number in ASCII digits")
    return value


CountQuery = Annotated[int, Query(ge=1, le=1000), BeforeValidator(_ascii_digits)]


Session = Transaction


def _not_future(request: Request, at: datetime | None, field: str) -> None:
    """A time the caller observed lies no later than the service's clock plus the allowed skew, else 422."""
    skew = _settings(request).max_clock_skew_seconds
    if at is not None and not not_in_future(at, now=_clock(request).now(), skew_seconds=skew):
        raise ApiError(422, "in_future", texts.IN_FUTURE.format(seconds=skew), field)


def _parse(model: type[M], raw: bytes) -> M:
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from exc


def _inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its definitions inlined: bodies read from raw bytes (to check a signature, or
    to parse thousands of readings at once) are documented through ``openapi_extra``, outside FastAPI's components."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    inlined: dict[str, Any] = inline(schema)
    return inlined


# -- grid workers ------------------------------------------------------------------------------------------------


@router.post(
    "/v1/grid-reports",
    response_model=ReportOut,
    status_code=status.HTTP_201_CREATED,
    tags=["grid worker"],
    responses={
        200: {"description": "Same idempotency key: the first report"},
        **responses(401, 403, 422, 429),
        **PHOTO_REFUSALS,
    },
)
async def grid_report(
    body: GridReportIn, principal: CurrentPrincipal, session: Session, request: Request, response: Response
) -> ReportOut:
    """一键上报: a grid worker reports a problem in a household or building of their grid."""
    require(principal, Role.GRID_WORKER)
    _limits(request).check(GRID_WORKER, principal.sub)
    report, created = await service.report_from_grid(
        session,
        _intake(request),
        body=body,
        grid_worker_id=principal.sub,
        grid_id=principal.scope,
        at=_clock(request).now(),
        evidence=evidence_of(request),
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return ReportOut.model_validate(report)


@router.post(
    "/v1/visits",
    response_model=VisitOut,
    status_code=status.HTTP_201_CREATED,
    tags=["grid worker"],
    responses={
        200: {"description": "Same idempotency key: the visit already logged"},
        **responses(401, 403, 422, 429),
        **PHOTO_REFUSALS,
    },
)
async def log_visit(
    body: VisitIn, principal: CurrentPrincipal, session: Session, request: Request, response: Response
) -> VisitOut:
    """访民问暖 入户走访: log a household visit; each finding becomes a report."""
    require(principal, Role.GRID_WORKER)
    _limits(request).check(GRID_WORKER, principal.sub)
    _not_future(request, body.visited_at, "visited_at")
    visit, created = await visits.log_visit(
        session,
        _intake(request),
        body=body,
        grid_worker_id=principal.sub,
        grid_id=principal.scope,
        at=_clock(request).now(),
        evidence=evidence_of(request),
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return VisitOut.model_validate(visit)


async def _grid_of(session: AsyncSession, principal: Principal, grid_id: str | None) -> str:
    """The grid whose ledger the caller reads: a grid worker's own (whatever it asks for); for a task force or a
    district one of its street or district, any other answering 404 like a grid that does not exist."""
    if principal.role is Role.GRID_WORKER:
        return principal.scope
    require(principal, Role.TASK_FORCE, Role.DISTRICT, Role.ADMIN)
    if not grid_id:
        raise ApiError(422, "missing_grid", texts.NEED_PLACE, "grid_id")
    if principal.role is not Role.ADMIN and principal.scope not in await registry.area_and_parents(
        session, area_id=grid_id
    ):
        raise NotFound("grid", texts.GRID_NOT_FOUND)
    return grid_id


@router.get("/v1/places", response_model=list[PlaceOut], tags=["grid worker"], responses=responses(401, 403, 422))
async def places(
    principal: CurrentPrincipal,
    session: Session,
    q: Annotated[
        str | None, Query(max_length=40, description="Part of a name or a room number, e.g. 粮库 or 101.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=20_000)] = 5_000,
) -> list[PlaceOut]:
    """The buildings and households of the grid worker's own grid, as people name them, for 一键上报 and 访民问暖
    (the field app keeps them for offline use). Names of places only: no resident's name or number."""
    require(principal, Role.GRID_WORKER)
    found = await registry.places_of_grid(session, grid_id=principal.scope)
    if q and (needle := q.strip()):
        found = [p for p in found if needle in p["label"] or needle == (p["room"] or "")]
    return [PlaceOut(**p) for p in found[:limit]]


@router.get("/v1/visits", response_model=list[VisitOut], tags=["grid worker"], responses=responses(401, 403, 404, 422))
async def list_visits(
    principal: CurrentPrincipal, session: Session, day: IsoDate, grid_id: IdQuery = None
) -> list[VisitOut]:
    """The visits of one grid on one (local) day."""
    rows = await visits.list_for_grid(session, grid_id=await _grid_of(session, principal, grid_id), day=day)
    return [VisitOut.model_validate(v) for v in rows]


@router.get(
    "/v1/visits/summary",
    response_model=VisitSummaryOut,
    tags=["grid worker"],
    responses=responses(401, 403, 404, 422),
)
async def visit_summary(
    principal: CurrentPrincipal, session: Session, day: IsoDate, grid_id: IdQuery = None
) -> VisitSummaryOut:
    """The ledger's figures for the daily report (走访户数、走访人数、排查问题)."""
    return await visits.summary(session, grid_id=await _grid_of(session, principal, grid_id), day=day)


# -- reports ------------------------------------------------------------------------------------------------------


@router.get("/v1/reports/{report_id}", response_model=ReportOut, tags=["reports"], responses=responses(401, 404, 422))
async def get_report(report_id: str, principal: CurrentPrincipal, session: Session, request: Request) -> ReportOut:
    """A report's status and what the reporter has been told, in order (事事有回音), with its photos."""
    report, events = await service.get(session, report_id=report_id)
    if not (_oversees(principal, report.location) or _grid_worker_of(principal, report.location)):
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
    if not full and not _oversees(principal, report.location):
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
    return (
        principal.role is Role.ADMIN
        or (principal.role is Role.TASK_FORCE and principal.scope == loc["street_id"])
        or (principal.role is Role.DISTRICT and principal.scope == loc["district_id"])
    )


def _grid_worker_of(principal: Principal, loc: dict[str, Any]) -> bool:
    return principal.role is Role.GRID_WORKER and principal.scope == loc["grid_id"]


def _assigned(principal: Principal, agency: str | None, status: str) -> bool:
    """A unit convened for the case (dispatch's CaseAssigned, minus 退单 and re-tiering) while it is open."""
    units = [u for u in (agency or "").split(",") if u]
    return principal.role is Role.UNIT and status != ReportStatus.CLOSED and principal.sub in units


@router.get(
    "/v1/public/reports/{report_id}", response_model=PublicReportOut, tags=["reports"], responses=responses(404, 422)
)
async def public_report(report_id: str, session: Session) -> PublicReportOut:
    """For the resident holding the report number (its 64 random bits are the key): status and timeline only."""
    report, events = await service.get(session, report_id=report_id)
    return PublicReportOut(
        id=report.id,
        category=report.category,
        status=report.status,
        status_note=mask_rooms(events[-1].note if events else domain.STATUS_NOTES[ReportStatus.ACCEPTED]),
        reported_at=report.reported_at,
        updated_at=report.updated_at,
        # Anyone holding the number reads this: a note naming the household's door shows the building only.
        timeline=[ReportEventOut(status=e.status, note=mask_rooms(e.note), at=e.at) for e in events],
    )


# -- 12345 --------------------------------------------------------------------------------------------------------


async def _order_out(session: AsyncSession, report: Any) -> HotlineOrderOut:
    events = await service.timeline(session, report_id=report.id)
    return HotlineOrderOut(
        order_no=report.order_no,
        report_id=report.id,
        status=report.status,
        status_text=texts.HOTLINE_STATUS_TEXT.get(report.status, domain.STATUS_NOTES.get(report.status, "")),
        case_id=report.case_id,
        category=report.category,
        priority=report.priority,
        grouped=any(e.status == TimelineEntry.GROUPED for e in events),
        timeline=[ReportEventOut.model_validate(e) for e in events],
    )


_ORDER_BODY: dict[str, Any] = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": _inline_schema(HotlineOrderIn)}}},
    "parameters": [
        {"name": hotline.HEADER_INTEGRATION, "in": "header", "required": True, "schema": {"type": "string"}},
        {"name": hotline.HEADER_TIMESTAMP, "in": "header", "required": True, "schema": {"type": "string"}},
        {"name": hotline.HEADER_SIGNATURE, "in": "header", "required": True, "schema": {"type": "string"}},
    ],
}


@router.post(
    "/hotline/v1/orders",
    response_model=HotlineOrderOut,
    status_code=status.HTTP_201_CREATED,
    tags=["12345"],
    openapi_extra=_ORDER_BODY,
    responses={200: {"description": "The order number was seen before: its report"}, **responses(401, 409, 422, 429)},
)
async def hotline_order(request: Request, response: Response, session: Session) -> HotlineOrderOut:
    """A 12345 work order, signed: HMAC-SHA256 over ``timestamp + "." + body`` (see the hotline module)."""
    body = await request.body()
    integration_id = await hotline.authenticate(
        request, session, settings=_settings(request), clock=_clock(request), limits=_limits(request), signed=body
    )
    order = hotline.parse_order(body)
    report, created = await hotline.receive_order(
        session, _intake(request), integration_id=integration_id, order=order, at=_clock(request).now()
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return await _order_out(session, report)


@router.get(
    "/hotline/v1/orders/{order_no}",
    response_model=HotlineOrderOut,
    tags=["12345"],
    openapi_extra={"parameters": _ORDER_BODY["parameters"]},
    responses=responses(401, 404, 409, 422, 429),
)
async def hotline_order_status(order_no: str, request: Request, session: Session) -> HotlineOrderOut:
    """An order's status and timeline, signed like a POST with the request path in place of the body."""
    # The path as sent (percent-encoded), not as decoded: a client signs the bytes it sends, like a POST's body.
    path: bytes = request.scope.get("raw_path") or request.url.path.encode()
    query: bytes = request.scope.get("query_string", b"")
    signed = path + (b"?" + query if query else b"")
    integration_id = await hotline.authenticate(
        request,
        session,
        settings=_settings(request),
        clock=_clock(request),
        limits=_limits(request),
        signed=signed,
    )
    report = await hotline.find_order(session, integration_id=integration_id, order_no=order_no)
    return await _order_out(session, report)


# -- sensors ---------------------------------------------------------------------------------------------------


def _gateway(request: Request) -> str:
    given = request.headers.get("x-api-key", "").encode()
    for gateway_id, key in (_settings(request).sensor_gateway_keys or {}).items():
        if given and hmac.compare_digest(given, key.get_secret_value().encode()):
            return str(gateway_id)
    raise ApiError(401, "unauthenticated", texts.SENSOR_UNAUTHORIZED, "X-Api-Key")


_READINGS_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": _inline_schema(ReadingsIn)}}}
}


@router.post(
    "/v1/sensor-readings",
    response_model=ReadingsOut,
    tags=["sensors"],
    openapi_extra=_READINGS_BODY,
    responses=responses(401, 422),
)
async def sensor_readings(request: Request, session: Session) -> ReadingsOut:
    """A batch of room-temperature readings from a sensor gateway (header ``X-Api-Key``)."""
    _gateway(request)
    # Parsed straight from the bytes by pydantic (thousands of readings): same 422 shape as every other body.
    body = _parse(ReadingsIn, await request.body())
    at = _clock(request).now()
    stored, raised = await retry_races(
        session,
        lambda: sensors.ingest(session, _intake(request), readings=body.readings, settings=_settings(request), at=at),
    )
    return ReadingsOut(stored=stored, reports=raised)


# -- admin ---------------------------------------------------------------------------------------------------------


@router.put("/admin/registry", tags=["admin"], dependencies=[AdminOnly], responses=responses(401, 422))
async def put_registry(body: RegistryIn, session: Session) -> dict[str, int]:
    """Load or update the geography, heat network, buildings, households and sensors. Idempotent."""
    return await registry.load_registry(session, registry=body)


@router.get("/admin/incidents/{group_id}", tags=["admin"], dependencies=[AdminOnly], responses=responses(401, 404, 422))
async def get_incident(group_id: str, session: Session) -> dict[str, Any]:
    """An incident (a group of reports handled as one case) and its linked reports."""
    group, report_ids = await service.group_of(session, group_id=group_id)
    return {
        "id": group.id,
        "scope": group.scope,
        "scope_id": group.scope_id,
        "category": group.category,
        "lead_report_id": group.lead_report_id,
        "case_id": group.case_id,
        "status": group.status,
        "accepting": group.accepting,
        "report_ids": report_ids,
    }


# The ``state`` filter's pattern, ``^(pending|delivered|dead)$``: a plain string in the OpenAPI document, not an enum.
_CALLBACK_STATES = f"^({'|'.join(CallbackState)})$"


@router.get(
    "/admin/hotline/callbacks",
    response_model=list[CallbackOut],
    tags=["admin"],
    dependencies=[AdminOnly],
    responses=responses(401, 422),
)
async def list_callbacks(
    session: Session,
    state: Annotated[str | None, Query(pattern=_CALLBACK_STATES)] = None,
    integration_id: IdQuery = None,
    order_no: OrderQuery = None,
    limit: CountQuery = 100,
) -> list[CallbackOut]:
    """The 12345 callback queue: pending, delivered and dead (parked after bounded retries)."""
    rows = await hotline.list_callbacks(
        session, state=state, integration_id=integration_id, order_no=order_no, limit=limit
    )
    return [CallbackOut.model_validate(r) for r in rows]


@router.post(
    "/admin/hotline/callbacks/{callback_id}/redrive",
    response_model=CallbackOut,
    tags=["admin"],
    dependencies=[AdminOnly],
    responses=responses(401, 404, 409, 422),
)
async def redrive_callback(callback_id: int, request: Request, session: Session) -> CallbackOut:
    """Send a dead callback again (its order's later callbacks follow once it is delivered)."""
    row = await hotline.redrive(session, callback_id=callback_id, at=_clock(request).now())
    return CallbackOut.model_validate(row)


@router.post(
    "/admin/hotline/callbacks/redrive",
    response_model=RedriveOut,
    tags=["admin"],
    dependencies=[AdminOnly],
    responses=responses(401, 422),
)
async def redrive_callbacks(
    request: Request, session: Session, integration_id: IdQuery = None, order_no: OrderQuery = None
) -> RedriveOut:
    """Send every dead callback again (optionally of one integration or order)."""
    count = await hotline.redrive_dead(
        session, integration_id=integration_id, order_no=order_no, at=_clock(request).now()
    )
    return RedriveOut(redriven=count)
