"""Input at the edges, on the real stack: dates at year 1 or 9999 (they overflowed the date arithmetic into a 500),
digits that are not ASCII in a numeric header (``str.isdigit()`` took them, ``int()`` did not: a 500), times in the
future (a reading from tomorrow hid every real one after it), and links that are not http(s). Each is refused with a
4xx naming the field, in the route's error format."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest

from services.intake.config import DEV_HOTLINE_INTEGRATION, DEV_HOTLINE_SECRET, DEV_OPEN311_KEY, DEV_SENSOR_KEY
from services.intake.hotline import HEADER_TIMESTAMP, signed_headers
from shared.inputs import web_url_refusal
from shared.settings import DEV_ADMIN_TOKEN
from tests.integration.conftest import Loop

ADMIN = {"X-Admin-Token": DEV_ADMIN_TOKEN}
EDGES = ["0001-01-01", "9999-12-31", "1999-12-31", "2101-01-01"]


def _fields(r: httpx.Response) -> list[str]:
    detail = r.json()["detail"]
    return [e["field"] for e in detail] if isinstance(detail, list) else [detail["field"]]


def _named(r: httpx.Response, status: int, field: str) -> None:
    assert r.status_code == status, r.text
    assert any(f == field or f.endswith("." + field) for f in _fields(r)), r.text


# (service, method, path, caller, query, json body, the field at fault); {d} is the edge date.
WINDOWS: list[tuple[str, str, str, str, dict[str, str], dict[str, Any] | None, str]] = [
    ("intake", "GET", "/v1/visits", "GW-01", {"day": "{d}"}, None, "day"),
    ("intake", "GET", "/v1/visits/summary", "GW-01", {"day": "{d}"}, None, "day"),
    ("followup", "GET", "/v1/scorecards", "TF-JYG", {"start": "{d}"}, None, "start"),
    ("followup", "GET", "/v1/scorecards", "TF-JYG", {"end": "{d}"}, None, "end"),
    ("followup", "GET", "/v1/reports/daily", "TF-JYG", {"date": "{d}"}, None, "date"),
    ("followup", "GET", "/v1/reports/season", "TF-JYG", {"start": "{d}"}, None, "start"),
    ("followup", "GET", "/v1/reports/season", "TF-JYG", {"start": "2026-11-01", "end": "{d}"}, None, "end"),
    ("followup", "POST", "/v1/spot-checks/draw", "TF-JYG", {"week": "{y}-W01"}, None, "week"),
    ("dispatch", "PUT", "/v1/districts/D-NOWHERE/cold-snap", "admin", {}, {"active": True, "until": "{t}"}, "until"),
    (
        "dispatch",
        "POST",
        "/v1/assignments/A-NOWHERE/extensions",
        "U-PM-1",
        {},
        {"reason": "需更换主管道", "resolve_due": "{t}"},
        "resolve_due",
    ),
]


def _fill(value: Any, day: str) -> Any:
    if isinstance(value, str):
        return value.format(d=day, y=day[:4], t=f"{day}T08:00:00+08:00")
    if isinstance(value, dict):
        return {k: _fill(v, day) for k, v in value.items()}
    return value


@pytest.mark.parametrize("day", EDGES)
@pytest.mark.parametrize("route", WINDOWS, ids=lambda r: f"{r[0]} {r[1]} {r[2]} {r[6]}")
async def test_a_date_outside_2000_to_2100_is_a_422_naming_the_field(loop: Loop, route: Any, day: str) -> None:
    service, method, path, caller, query, body, field = route
    http: httpx.AsyncClient = getattr(loop, service).http
    r = await http.request(method, path, params=_fill(query, day), json=_fill(body, day), headers=loop.auth(caller))
    _named(r, 422, field)


@pytest.mark.parametrize("day", EDGES)
@pytest.mark.parametrize("name", ["start_date", "end_date"])
@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_open311_dates_outside_2000_to_2100_are_its_400_naming_the_parameter(
    loop: Loop, day: str, name: str, fmt: str
) -> None:
    r = await loop.intake.http.get(f"/open311/v2/requests.{fmt}", params={name: f"{day}T00:00:00Z"})
    assert r.status_code == 400, r.text
    assert name in r.text and "2000" in r.text


@pytest.mark.parametrize("timestamp", ["²³¹²³", "１７６４８", "١٧٦٤٨"])
async def test_a_timestamp_of_digits_that_are_not_ascii_is_a_401_naming_the_header(loop: Loop, timestamp: str) -> None:
    raw = json.dumps({"order_no": "GD-BOUNDS-1", "household_id": "H-LK-1-101", "content": "暖气不热"}).encode()
    headers: dict[str, Any] = signed_headers(DEV_HOTLINE_INTEGRATION, DEV_HOTLINE_SECRET, raw)
    # Latin-1 on the wire where it can be (what Starlette decodes headers as: "²³¹" reached isdigit()), else UTF-8.
    encoded = timestamp.encode("latin-1") if all(ord(c) < 256 for c in timestamp) else timestamp.encode()
    headers[HEADER_TIMESTAMP] = encoded
    r = await loop.intake.http.post(
        "/hotline/v1/orders", content=raw, headers=headers | {"Content-Type": "application/json"}
    )
    _named(r, 401, HEADER_TIMESTAMP)


async def test_a_reading_or_a_visit_from_the_future_is_a_422(loop: Loop) -> None:
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    almost_now = (datetime.now(UTC) + timedelta(seconds=30)).isoformat()  # within the allowed skew
    readings = {
        "readings": [
            {"sensor_id": "S-BOUNDS-NONE", "measured_at": almost_now, "temp_c": 16.0},
            {"sensor_id": "S-BOUNDS-NONE", "measured_at": later, "temp_c": 16.0},
        ]
    }
    r = await loop.intake.http.post("/v1/sensor-readings", json=readings, headers={"X-Api-Key": DEV_SENSOR_KEY})
    _named(r, 422, "readings.1.measured_at")
    assert r.json()["detail"]["code"] == "in_future"
    visit = {"household_id": "H-LK-1-101", "visited_at": later, "residents_reached": 1}
    r = await loop.intake.http.post("/v1/visits", json=visit, headers=loop.auth("GW-01"))
    _named(r, 422, "visited_at")


@pytest.mark.parametrize(
    "link", ["javascript:alert(1)", "data:text/html,<b>x</b>", "file:///etc/passwd", "//evil.example/x", "https://"]
)
async def test_open311_refuses_a_media_url_that_is_not_a_web_link(loop: Loop, link: str) -> None:
    assert web_url_refusal(link)
    form = {"api_key": DEV_OPEN311_KEY, "service_code": "leak", "address_id": "B-LK-1", "media_url": link}
    r = await loop.intake.http.post("/open311/v2/requests.json", data=form)
    assert r.status_code == 400, r.text
    [problem] = r.json()
    assert problem["code"] == 400 and "media_url" in problem["description"]


# -- Open311's hand-read form and query: every parameter, the class of characters XML 1.0 forbids -----------------

OPEN311_TEXT = [
    "description",
    "address_string",
    "address_id",
    "attribute[household_id]",
    "attribute[building_id]",
    "attribute[measured_temp_c]",
    "media_url",
    "lat",
    "long",
    "first_name",
    "last_name",
    "email",
    "phone",
    "device_id",
    "account_id",
    "jurisdiction_id",
]


def _open311_problem(r: httpx.Response, fmt: str) -> str:
    assert r.status_code == 400, r.text
    if fmt == "xml":
        root = ET.fromstring(r.content)  # the refusal itself is well-formed XML
        assert root.findtext("error/code") == "400"
        return root.findtext("error/description") or ""
    [problem] = r.json()
    assert problem["code"] == 400
    return str(problem["description"])


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("field", OPEN311_TEXT)
@pytest.mark.parametrize("char", ["\x0b", "\x00", "\x1f", "\ufffe"])
async def test_open311_refuses_a_character_xml_forbids_in_any_parameter_naming_it(
    loop: Loop, fmt: str, field: str, char: str
) -> None:
    form = {"api_key": DEV_OPEN311_KEY, "service_code": "cold_room", "address_id": "B-LK-1", "description": "不热"}
    form[field] = f"暖气{char}不热"
    r = await loop.intake.http.post(f"/open311/v2/requests.{fmt}", data=form)
    description = _open311_problem(r, fmt)
    assert field in description and f"U+{ord(char):04X}" in description, description


async def test_open311_refuses_forbidden_characters_in_the_query_and_a_body_that_is_not_utf8(loop: Loop) -> None:
    http = loop.intake.http
    r = await http.get("/open311/v2/requests.xml", params={"service_code": "leak\x0b"})
    assert "service_code" in _open311_problem(r, "xml")
    raw = f"api_key={DEV_OPEN311_KEY}&service_code=leak&address_id=B-LK-1&description=%FF%FE".encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    r = await http.post("/open311/v2/requests.json", content=raw, headers=headers)
    assert "UTF-8" in _open311_problem(r, "json")
    form = {"api_key": DEV_OPEN311_KEY, "service_code": "leak", "address_id": "B-LK-1", "account_id": "x" * 1001}
    r = await http.post("/open311/v2/requests.json", data=form)
    assert "account_id" in _open311_problem(r, "json")


@pytest.mark.parametrize(
    "raw", ["1_5", "1e1", " 15", "15 ", "nan", "inf", "-inf", "１５", "15.", ".5", "+15", "0x10", "15.125", "41", "-11"]
)
async def test_open311_measured_temperature_is_a_plain_decimal_in_range(loop: Loop, raw: str) -> None:
    form = {"api_key": DEV_OPEN311_KEY, "service_code": "cold_room", "address_id": "B-LK-1"}
    r = await loop.intake.http.post("/open311/v2/requests.json", data=form | {"attribute[measured_temp_c]": raw})
    assert "attribute[measured_temp_c]" in _open311_problem(r, "json")


async def test_open311_measured_temperature_as_people_write_it_is_accepted(loop: Loop) -> None:
    form = {"api_key": DEV_OPEN311_KEY, "service_code": "cold_room", "address_id": "B-LK-1"}
    for raw in ("15", "-5.5", "17.25", "40"):
        r = await loop.intake.http.post("/open311/v2/requests.json", data=form | {"attribute[measured_temp_c]": raw})
        assert r.status_code == 201, (raw, r.text)


@pytest.mark.parametrize("limit", ["1_0", " 10", "10.0", "+10", "１０", "1e1"])
async def test_a_count_in_a_query_string_is_ascii_digits(loop: Loop, limit: str) -> None:
    r = await loop.intake.http.get("/admin/hotline/callbacks", params={"limit": limit}, headers=ADMIN)
    _named(r, 422, "limit")


# -- registry ids: ASCII letters, digits and . _ : - (a building id is Open311's address_id) ---------------------

BAD_IDS = ["B LK 9", "楼-9", "B-LK-\x0b9", "B-LK-9\u200b", "-B9", "../B9", "B/9", "B<9>", "Ｂ-９", ""]
_AREA = {"id": "CP-BOUNDS", "kind": "compound", "name": "边界小区", "parent_id": None}
_BUILDING = {"id": "B-BOUNDS-1", "name": "边界小区1号楼", "compound_id": "CP-BOUNDS", "grid_id": "G-LK-01"}
_HOME = {"id": "H-BOUNDS-1-101", "building_id": "B-BOUNDS-1", "unit_no": "1", "room": "101"}
REGISTRY_FIELDS = [
    ("areas", _AREA, "id"),
    ("areas", _AREA, "parent_id"),
    ("buildings", _BUILDING, "id"),
    ("buildings", _BUILDING, "compound_id"),
    ("buildings", _BUILDING, "grid_id"),
    ("buildings", _BUILDING, "substation_id"),
    ("households", _HOME, "id"),
    ("households", _HOME, "building_id"),
    ("sensors", {"id": "SN-BOUNDS-1", "household_id": "H-BOUNDS-1-101"}, "id"),
    ("sensors", {"id": "SN-BOUNDS-1", "household_id": "H-BOUNDS-1-101"}, "household_id"),
]


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize(("part", "item", "field"), REGISTRY_FIELDS, ids=lambda x: x if isinstance(x, str) else "")
async def test_a_registry_id_outside_the_id_alphabet_is_a_422_naming_the_field(
    loop: Loop, part: str, item: dict[str, Any], field: str, bad: str
) -> None:
    body = {part: [item | {field: bad}]}
    r = await loop.intake.http.put("/admin/registry", json=body, headers=ADMIN)
    _named(r, 422, f"{part}.0.{field}")


async def test_the_seed_and_simulated_registries_pass_the_id_check(loop: Loop) -> None:
    from deploy.simulate import district
    from services.intake.schemas import RegistryIn

    for d in (district.from_seed(), district.generate(11, streets=2)):
        households = [h["id"] for h in d.intake_registry()["households"][:5]]
        RegistryIn.model_validate(d.intake_registry(sensors=[(f"SN-SIM-{i:04d}", h) for i, h in enumerate(households)]))
