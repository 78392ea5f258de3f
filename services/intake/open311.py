"""Open311 GeoReport v2 under ``/open311/v2/``, in JSON and XML (the format is the path's suffix).

Calls: ``services.{fmt}``, ``services/{service_code}.{fmt}``, ``POST requests.{fmt}`` (form-encoded, with
``api_key``), ``GET requests.{fmt}`` (service_request_id, service_code, start_date, end_date, status) and
``requests/{service_request_id}.{fmt}``. Every service is ``realtime``: POST answers with the
service_request_id at once, so there are no tokens.

Readings of the spec: the registry places a request, never coordinates or an address text, so the location is a
registry id — ``attribute[household_id]`` or ``attribute[building_id]`` (declared in every service definition), or
``address_id`` holding a household or building id; ``lat``/``long``/``address_string`` alone are refused with 400.
``service_code`` is a category of the domain (cold_room, leak, …). The list and the single request are anonymous,
so they publish only what was meant for the public: requests submitted through Open311 itself (not 12345 orders,
grid reports, visits or sensor alerts, whose callers never chose to publish), placed at their building — the
address is the building's name and ``address_id`` the building id, never a household — with descriptions stripped of
phone numbers and names, and descriptions and status notes of the household's door (3单元501室 → [门牌已隐去]);
the submitter's name, phone and e-mail are accepted and never stored. Every parameter, form or query, is checked once
before any is read (``check_params``): a character XML 1.0 forbids or a value over its length is a 400 naming it.
``media_url`` is an absolute https:// or http:// link. Errors, whatever the status (400, 403, 404, 405, 408, 413,
429, 500), are the spec's array of ``{code, description}`` with the HTTP status as code, in JSON or XML as the suffix
says; descriptions are Chinese with the English gist. The 413 of the body limit and the 408 of a body that stalls
come in that format too (``shared.limits.speak_refusals``).
"""

from __future__ import annotations

import hmac
import inspect
import json
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl
from xml.etree import ElementTree as ET

from fastapi import APIRouter, FastAPI, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException

from services.intake import domain, service, texts
from services.intake.complaint import Complaint
from services.intake.config import OPEN311
from services.intake.deps import clock_of, intake_of, limits_of, sessions_of, settings_of
from services.intake.models import Building, Household, Report, ReportEvent
from services.intake.public_text import mask_rooms
from services.intake.states import OPEN311_CLOSED, Open311Status, open311_status
from shared.contracts.common import Category, Channel
from shared.errors import Refused, refused_value
from shared.inputs import InputRefused, parse_datetime, web_url_refusal
from shared.limits import retry_after
from shared.states import values
from shared.text import forbidden_at, xml_safe

log = logging.getLogger(__name__)

router = APIRouter(prefix="/open311/v2", tags=["Open311 GeoReport v2"])

MAX_RANGE = timedelta(days=90)
MAX_LIST = 1000
# The longest a parameter may be: the description and a link have their own limits, below; anything else a client
# sends (a name, an id, lat/long, account_id, which is echoed) is short; a list of ids is long.
MAX_PARAM = 1000
_LONG_PARAMS = {"description": 4000, "media_url": 500, "service_request_id": 40 * MAX_LIST}
# A temperature as people write it: ASCII digits, an optional sign and at most two decimals. ``float()`` also reads
# ``1_5``, ``1e1``, `` 15``, ``nan``, ``inf`` and full-width digits.
_TEMPERATURE = re.compile(r"-?[0-9]{1,2}(?:\.[0-9]{1,2})?")
TEMP_RANGE = (-10.0, 40.0)
SERVICES: dict[Category, tuple[str, str, str]] = {
    # code → (name, description, keywords)
    Category.COLD_ROOM: ("暖气不热 / 室温不达标", "室内温度低于18 °C，暖气片不热或温吞", "暖气不热,温度低,室温"),
    Category.LEAK: ("跑冒滴漏", "暖气片、阀门、管道漏水或滴水", "漏水,滴水,跑水"),
    Category.BURST_PIPE: ("爆管", "供热管道破裂、喷水（紧急）", "爆管,管道破裂"),
    Category.OUTAGE: ("停暖", "整户、整栋或整片没有暖气", "停暖,没暖气"),
    Category.CLOGGED_FILTER: ("滤网堵塞", "入户过滤器、除污器堵塞", "滤网,堵塞"),
    Category.AIR_LOCK: ("需排气", "暖气片有空气、需要排气", "排气,放气"),
    Category.UNDERFLOOR_IMBALANCE: ("地暖失衡", "地暖各回路冷热不均", "地暖"),
    Category.METERING_RETROFIT: ("分户改造", "供热分户计量改造相关诉求", "分户改造,热计量"),
    Category.FEE_DISPUTE: ("费用纠纷", "供暖费收取、退费争议", "费用,收费,退费"),
    Category.SUBSIDY_QUESTION: ("补贴政策咨询", "供暖补贴、减免政策咨询", "补贴,减免"),
    Category.ICE_HAZARD: ("漏水挂冰", "漏水在墙面、楼道结冰（安全隐患）", "挂冰,结冰"),
    Category.OTHER: ("其他供暖问题", "以上未列出的供暖问题", "其他"),
}
ATTRIBUTES: list[dict[str, Any]] = [
    {
        "variable": True,
        "code": "household_id",
        "datatype": "string",
        "required": False,
        "datatype_description": "登记簿住户编号，如 H-LK-1-101（与 building_id 二选一，也可放在 address_id）",
        "order": 1,
        "description": "住户编号 (registry household id)",
        "values": [],
    },
    {
        "variable": True,
        "code": "building_id",
        "datatype": "string",
        "required": False,
        "datatype_description": "登记簿楼栋编号，如 B-LK-1（整栋楼的问题）",
        "order": 2,
        "description": "楼栋编号 (registry building id)",
        "values": [],
    },
    {
        "variable": True,
        "code": "measured_temp_c",
        "datatype": "number",
        "required": False,
        "datatype_description": "摄氏度，-10 至 40",
        "order": 3,
        "description": "实测室温 (measured room temperature, °C)",
        "values": [],
    },
]
# Repeated XML children: the element name of one item of each list.
_ITEM = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
}


class Open311Error(Exception):
    def __init__(self, status: int, description: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.headers = headers or {}


# -- rendering ------------------------------------------------------------------------------------------------


def _xml_value(parent: ET.Element, value: Any) -> None:
    if isinstance(value, bool):
        parent.text = "true" if value else "false"
    elif value is not None:
        parent.text = xml_safe(str(value))  # what XML 1.0 cannot carry is dropped, not written


def _xml_fill(parent: ET.Element, data: dict[str, Any]) -> None:
    for key, value in data.items():
        child = ET.SubElement(parent, key)
        if isinstance(value, list):
            for item in value:
                node = ET.SubElement(child, _ITEM.get(key, "item"))
                if isinstance(item, dict):
                    _xml_fill(node, item)
                else:
                    _xml_value(node, item)
        elif isinstance(value, dict):
            _xml_fill(child, value)
        else:
            _xml_value(child, value)


def to_xml(root: str, body: list[dict[str, Any]] | dict[str, Any]) -> bytes:
    """``<root><item>…</item>…</root>`` for a list, ``<root>…</root>`` for one object, as the spec shows."""
    element = ET.Element(root)
    if isinstance(body, list):
        for item in body:
            _xml_fill(ET.SubElement(element, _ITEM.get(root, "item")), item)
    else:
        _xml_fill(element, body)
    tree: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>' + tree


def render(fmt: str, root: str, body: list[dict[str, Any]] | dict[str, Any], status: int = 200) -> Response:
    if fmt == "xml":
        return Response(to_xml(root, body), status_code=status, media_type="text/xml; charset=utf-8")
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(payload.encode(), status_code=status, media_type="application/json; charset=utf-8")


def error(fmt: str, status: int, description: str) -> Response:
    return render(
        fmt if fmt in ("json", "xml") else "json", "errors", [{"code": status, "description": description}], status
    )


def w3c(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if value else None


def _fmt(fmt: str) -> str:
    if fmt not in ("json", "xml"):
        raise Open311Error(400, texts.OPEN311_BAD_FORMAT)
    return fmt


def parse_temperature(raw: str) -> float | None:
    """``attribute[measured_temp_c]`` written in ASCII decimals within -10–40 °C, or None when it is not."""
    if not _TEMPERATURE.fullmatch(raw):
        return None
    value = float(raw)
    return value if TEMP_RANGE[0] <= value <= TEMP_RANGE[1] else None


def _name(key: str) -> str:
    """A parameter's name as a refusal may quote it (what it cannot carry dropped, shortened)."""
    return xml_safe(key)[:64]


def check_params(params: dict[str, str]) -> None:
    """Every parameter of a call, once, before any is read: a name or value with a character XML 1.0 forbids (a
    vertical tab, a NUL, a lone surrogate: shared.text) or longer than its limit is a 400 naming the parameter. The
    parameters are read by hand, so this is where CleanText's rule is applied to them: what is stored, echoed or
    published never holds what the XML list cannot carry."""
    for key, value in params.items():
        for text in (key, value):
            if (at := forbidden_at(text)) is not None:
                char = f"U+{ord(text[at]):04X}"
                raise Open311Error(400, texts.OPEN311_BAD_CHAR.format(name=_name(key), char=char))
        limit = _LONG_PARAMS.get(key, MAX_PARAM)
        if len(value) > limit:
            raise Open311Error(400, texts.OPEN311_PARAM_TOO_LONG.format(name=_name(key), limit=limit))


def _parse_date(raw: str, name: str) -> datetime:
    """A W3C date-time in 2000–2100 (a ``+`` of the offset decoded to a space by a careless client is read back)."""
    try:
        return parse_datetime(raw.strip().replace(" ", "+"))
    except InputRefused as exc:
        raise Open311Error(400, texts.OPEN311_BAD_DATE.format(name=name)) from exc


# -- services ----------------------------------------------------------------------------------------------------


def service_list() -> list[dict[str, Any]]:
    return [
        {
            "service_code": category.value,
            "service_name": name,
            "description": description,
            "metadata": True,
            "type": "realtime",
            "keywords": keywords,
            "group": "供暖",
        }
        for category, (name, description, keywords) in SERVICES.items()
    ]


def _service(code: str) -> Category:
    try:
        return Category(code)
    except ValueError as exc:
        raise Open311Error(404, texts.OPEN311_SERVICE_UNKNOWN) from exc


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


def _client(request: Request, api_key: str) -> str:
    keys = settings_of(request).open311_api_keys or {}
    for client_id, secret in keys.items():
        if api_key and hmac.compare_digest(api_key.encode(), secret.get_secret_value().encode()):
            return str(client_id)
    raise Open311Error(403, texts.OPEN311_BAD_API_KEY)


def _within_rate(request: Request, client_id: str) -> None:
    """The api_key's rate limit, refused in the spec's error format (429 with Retry-After)."""
    limits = limits_of(request)
    wait = limits.wait(OPEN311, client_id)
    if wait > 0:
        seconds = retry_after(wait)
        raise Open311Error(
            429, texts.OPEN311_RATE_LIMITED.format(seconds=seconds), headers={"Retry-After": str(seconds)}
        )


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
        building, household = await service.place(session, household_id, building_id)
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


# -- HTTP -------------------------------------------------------------------------------------------------------


async def _params(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    if request.method == "POST":
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await request.body()
        if body and kind not in ("", "application/x-www-form-urlencoded"):
            raise Open311Error(400, texts.OPEN311_BAD_BODY)
        try:
            form = parse_qsl(body.decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict")
        except (UnicodeDecodeError, ValueError) as exc:
            raise Open311Error(400, texts.OPEN311_BAD_ENCODING) from exc
        params.update(form)
    check_params(params)
    return params


async def _respond(request: Request, fmt: str, work: Any) -> Response:
    try:
        response: Response = await work(_fmt(fmt))
        return response
    except Open311Error as exc:
        refused = error(fmt, exc.status, exc.description)
        refused.headers.update(exc.headers)
        return refused
    except DBAPIError as exc:
        if refused_value(exc):
            return error(fmt, 400, texts.OPEN311_BAD_VALUE)
        log.exception("Open311 call failed on the database")
        return error(fmt, 500, texts.OPEN311_SERVER_ERROR)
    except Exception:
        log.exception("Open311 call failed")
        return error(fmt, 500, texts.OPEN311_SERVER_ERROR)


def _suffix(path: str) -> str:
    return "xml" if path.endswith(".xml") else "json"


def plumbing_refusal(path: str, status: int, message: str) -> tuple[str, bytes]:
    """A refusal of the shared plumbing (413, 408) under ``/open311/``, in the spec's error list (shared.limits)."""
    answer = error(_suffix(path), status, message)
    return answer.media_type or "application/json", bytes(answer.body)


_FRAMEWORK = {404: texts.OPEN311_NO_SUCH_CALL, 405: texts.OPEN311_METHOD_NOT_ALLOWED}


def speak_framework_refusals(app: FastAPI) -> None:
    """The framework's own refusals under ``/open311/`` — an unknown call (404), a method a call does not take (405),
    anything else it raises — in the spec's error list instead of the services' error JSON; elsewhere unchanged."""
    elsewhere = app.exception_handlers[HTTPException]

    async def refused(request: Request, exc: Exception) -> Response:
        if not request.url.path.startswith(router.prefix + "/") or not isinstance(exc, HTTPException):
            answer = elsewhere(request, exc)
            return await answer if inspect.isawaitable(answer) else answer
        description = _FRAMEWORK.get(exc.status_code, texts.OPEN311_BAD_VALUE)
        answer = error(_suffix(request.url.path), exc.status_code, description)
        answer.headers.update(exc.headers or {})
        return answer

    app.add_exception_handler(HTTPException, refused)


class Open311ErrorOut(BaseModel):
    code: int = Field(description="The HTTP status.")
    description: str = Field(description="What went wrong, in Chinese with the English gist.")


_XML: dict[str, Any] = {"content": {"text/xml": {}}}
_ANSWER = {**_XML, "description": "JSON or XML, as the path's suffix says"}
_REFUSALS = {
    400: "Bad format suffix, parameter or value",
    403: "api_key missing or not valid",
    404: "No such service or service request",
    408: "The request body did not arrive in time (the connection is closed)",
    413: "Request body too large",
    429: "Too many requests for this api_key (Retry-After)",
    500: "Internal error",
}


def _answers(*statuses: int, ok: int = 200) -> dict[int | str, dict[str, Any]]:
    """The documented answers of an Open311 call: JSON or XML, errors in the spec's list of ``{code, description}``."""
    answers: dict[int | str, dict[str, Any]] = {ok: _ANSWER}
    for s in statuses:
        answers[s] = {**_XML, "model": list[Open311ErrorOut], "description": _REFUSALS[s]}
    return answers


@router.get("/services.{fmt}", summary="GET Service List", responses=_answers(400))
async def services_(request: Request, fmt: str) -> Response:
    async def work(f: str) -> Response:
        return render(f, "services", service_list())

    return await _respond(request, fmt, work)


@router.get("/services/{service_code}.{fmt}", summary="GET Service Definition", responses=_answers(400, 404))
async def service_definition(request: Request, service_code: str, fmt: str) -> Response:
    async def work(f: str) -> Response:
        category = _service(service_code)
        return render(f, "service_definition", {"service_code": category.value, "attributes": ATTRIBUTES})

    return await _respond(request, fmt, work)


_FORM = {
    "requestBody": {
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["api_key", "service_code"],
                    "properties": {
                        name: {"type": "string"}
                        for name in (
                            "api_key",
                            "jurisdiction_id",
                            "service_code",
                            "address_id",
                            "attribute[household_id]",
                            "attribute[building_id]",
                            "attribute[measured_temp_c]",
                            "description",
                            "media_url",
                            "lat",
                            "long",
                            "address_string",
                            "email",
                            "device_id",
                            "account_id",
                            "first_name",
                            "last_name",
                            "phone",
                        )
                    },
                }
            }
        }
    }
}


@router.post(
    "/requests.{fmt}",
    summary="POST Service Request",
    status_code=201,
    openapi_extra=_FORM,
    responses=_answers(400, 403, 408, 413, 429, ok=201),
)
async def post_request(request: Request, fmt: str) -> Response:
    async def work(f: str) -> Response:
        params = await _params(request)
        client_id = _client(request, params.get("api_key", ""))
        _within_rate(request, client_id)
        async with sessions_of(request)() as session, session.begin():
            created = await create_request(
                session, intake_of(request), params, client_id=client_id, at=clock_of(request).now()
            )
        return render(f, "service_requests", [created], status=201)

    return await _respond(request, fmt, work)


@router.get("/requests.{fmt}", summary="GET Service Requests", responses=_answers(400))
async def get_requests(request: Request, fmt: str) -> Response:
    async def work(f: str) -> Response:
        params = await _params(request)
        async with sessions_of(request)() as session:
            views = await list_requests(session, params, now=clock_of(request).now())
        return render(f, "service_requests", views)

    return await _respond(request, fmt, work)


@router.get("/requests/{service_request_id}.{fmt}", summary="GET Service Request", responses=_answers(400, 404))
async def get_one(request: Request, service_request_id: str, fmt: str) -> Response:
    async def work(f: str) -> Response:
        async with sessions_of(request)() as session:
            view = await get_request(session, service_request_id)
        return render(f, "service_requests", [view])

    return await _respond(request, fmt, work)
