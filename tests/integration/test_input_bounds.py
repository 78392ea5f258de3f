"""Input at the edges, on the real stack: dates at year 1 or 9999 (they overflowed the date arithmetic into a 500),
digits that are not ASCII in a numeric header (``str.isdigit()`` took them, ``int()`` did not: a 500), times in the
future (a reading from tomorrow hid every real one after it), and links that are not http(s). Each is refused with a
4xx naming the field, in the route's error format."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.intake.config import DEV_HOTLINE_INTEGRATION, DEV_HOTLINE_SECRET, DEV_OPEN311_KEY, DEV_SENSOR_KEY
from services.intake.hotline import HEADER_TIMESTAMP, signed_headers
from shared.inputs import web_url_refusal
from tests.integration.conftest import Loop

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
