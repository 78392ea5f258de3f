"""Open311's anonymous list publishes only requests submitted through Open311, at building level; and every refusal
under ``/open311/v2/`` — the body limit's 413 included — comes in the spec's error list, JSON or XML by the suffix."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest

from services.intake import public_text
from services.intake.config import DEV_HOTLINE_INTEGRATION, DEV_HOTLINE_SECRET, DEV_OPEN311_KEY
from services.intake.hotline import signed_headers
from services.intake.models import Report, ReportEvent
from services.intake.open311 import routes
from tests.integration.conftest import Loop

HOUSEHOLD, BUILDING = "H-LK-1-101", "B-LK-1"


def _machine_field(name: str) -> bool:
    """An id or a time: random hex and microseconds may hold any digits ("…501368Z"), so a room number is looked for
    in everything else."""
    return name == "id" or name == "at" or name.endswith(("_id", "_at", "_datetime"))


def _prose(view: Any) -> str:
    """A JSON view with its ids and times left out."""
    if isinstance(view, dict):
        return " ".join(_prose(v) for k, v in view.items() if not _machine_field(k))
    if isinstance(view, list):
        return " ".join(_prose(v) for v in view)
    return str(view)


def _xml_prose(element: ET.Element) -> str:
    """An XML request's text with its ids and times left out."""
    return " ".join(e.text or "" for e in element.iter() if not _machine_field(e.tag))


def _problem(r: httpx.Response, fmt: str, status: int) -> str:
    """The one error of a refusal in the spec's format; its description."""
    assert r.status_code == status, r.text
    if fmt == "xml":
        assert r.headers["content-type"].startswith("text/xml")
        root = ET.fromstring(r.content)
        assert root.tag == "errors" and root.findtext("error/code") == str(status), r.text
        return root.findtext("error/description") or ""
    assert r.headers["content-type"].startswith("application/json")
    [problem] = r.json()
    assert set(problem) == {"code", "description"} and problem["code"] == status
    return str(problem["description"])


async def test_only_open311_requests_are_listed_and_only_at_their_building(loop: Loop) -> None:
    http = loop.intake.http
    form = {"api_key": DEV_OPEN311_KEY, "service_code": "cold_room", "address_id": HOUSEHOLD, "description": "不热"}
    r = await http.post("/open311/v2/requests.json", data=form)
    assert r.status_code == 201, r.text
    public = r.json()[0]["service_request_id"]
    r = await http.post(
        "/v1/grid-reports", json={"household_id": HOUSEHOLD, "description": "暖气片不热"}, headers=loop.auth("GW-01")
    )
    assert r.status_code in (200, 201), r.text
    grid = r.json()["id"]
    raw = json.dumps({"order_no": "GD-O311-PUBLIC-1", "household_id": HOUSEHOLD, "content": "暖气不热"}).encode()
    headers = signed_headers(DEV_HOTLINE_INTEGRATION, DEV_HOTLINE_SECRET, raw) | {"Content-Type": "application/json"}
    r = await http.post("/hotline/v1/orders", content=raw, headers=headers)
    assert r.status_code in (200, 201), r.text
    order = r.json()["report_id"]

    ids = f"{public},{grid},{order}"
    listed = (await http.get("/open311/v2/requests.json", params={"service_request_id": ids})).json()
    assert [x["service_request_id"] for x in listed] == [public]
    recent = {x["service_request_id"] for x in (await http.get("/open311/v2/requests.json")).json()}
    assert public in recent and not {grid, order} & recent
    [view] = listed
    assert view["address_id"] == BUILDING and HOUSEHOLD not in json.dumps(view, ensure_ascii=False)
    xml = await http.get("/open311/v2/requests.xml", params={"service_request_id": ids})
    assert [e.text for e in ET.fromstring(xml.content).iter("service_request_id")] == [public]
    assert HOUSEHOLD.encode() not in xml.content
    for other in (grid, order):
        _problem(await http.get(f"/open311/v2/requests/{other}.json"), "json", 404)
    assert (await http.get(f"/open311/v2/requests/{public}.json")).json()[0]["address_id"] == BUILDING


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_a_body_over_the_limit_is_a_413_in_the_spec_format(loop: Loop, fmt: str) -> None:
    limit = loop.intake.app.state.context.settings.max_body_bytes
    r = await loop.intake.http.post(
        f"/open311/v2/requests.{fmt}",
        content=b"api_key=" + b"x" * (limit + 1),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert str(limit) in _problem(r, fmt, 413)


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_an_unknown_call_a_wrong_method_and_a_failure_answer_in_the_spec_format(
    loop: Loop, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    http = loop.intake.http
    _problem(await http.get(f"/open311/v2/nothing-here.{fmt}"), fmt, 404)
    r = await http.delete(f"/open311/v2/services.{fmt}")
    _problem(r, fmt, 405)
    assert "GET" in r.headers["Allow"]

    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("the list broke")

    monkeypatch.setattr(routes, "list_requests", broken)  # what the route calls
    _problem(await http.get(f"/open311/v2/requests.{fmt}"), fmt, 500)


async def test_the_public_views_show_the_building_but_not_the_household_door(loop: Loop) -> None:
    """The redactor keeps room numbers in stored text (the crew needs them); the anonymous views mask them."""
    http = loop.intake.http
    description = "3单元501室暖气不热，室温只有15.5度，隔壁3-2-502也一样"
    form = {
        "api_key": DEV_OPEN311_KEY,
        "service_code": "cold_room",
        "address_id": HOUSEHOLD,
        "description": description,
    }
    r = await http.post("/open311/v2/requests.json", data=form)
    assert r.status_code == 201, r.text
    rid = r.json()[0]["service_request_id"]
    async with loop.intake.app.state.context.runtime.sessions() as session, session.begin():
        stored = await session.get(Report, rid)
        assert stored is not None and "501" in stored.description  # kept for the crew
        at = stored.reported_at + timedelta(minutes=5)
        session.add(ReportEvent(report_id=rid, status="accepted", note="已到5楼501室查看，阀门已调", at=at))

    by_id = (await http.get("/open311/v2/requests.json", params={"service_request_id": rid})).json()
    recent = [x for x in (await http.get("/open311/v2/requests.json")).json() if x["service_request_id"] == rid]
    single = (await http.get(f"/open311/v2/requests/{rid}.json")).json()
    for [view] in (by_id, recent, single):
        text = _prose(view)
        assert "501" not in text and "502" not in text, text
        assert view["description"].startswith(public_text.ROOM_MASK) and "15.5度" in view["description"]
        assert public_text.ROOM_MASK in view["status_notes"]
        assert view["address_id"] == BUILDING and view["address"]  # the building stays
    for path, params in (
        ("/open311/v2/requests.xml", {"service_request_id": rid}),
        (f"/open311/v2/requests/{rid}.xml", {}),
    ):
        xml = await http.get(path, params=params)
        [request] = ET.fromstring(xml.content).iter("request")
        assert "501" not in _xml_prose(request) and "502" not in _xml_prose(request)
        assert "15.5度" in (request.findtext("description") or "")
    listed = await http.get("/open311/v2/requests.xml")
    # The list holds every test's requests: look at this request's own entry.
    [entry] = [r for r in ET.fromstring(listed.content).iter("request") if r.findtext("service_request_id") == rid]
    assert "501" not in _xml_prose(entry) and "502" not in _xml_prose(entry)

    status = (await http.get(f"/v1/public/reports/{rid}")).json()
    assert "501" not in _prose(status) and "502" not in _prose(status), status
    assert public_text.ROOM_MASK in status["status_note"]
