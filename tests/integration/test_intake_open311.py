"""Open311 GeoReport v2 on the real stack, read by a third-party client (the ``georeport`` package from PyPI,
over real HTTP, JSON and XML). ``georeport`` cannot create requests, so POST is exercised by form-encoded
requests written from the spec; every other call goes through the third-party client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import uvicorn
from georeport import GeoReport

from services.intake.config import DEV_OPEN311_KEY
from shared.settings import DEV_ADMIN_TOKEN
from tests.harness import serving, wait_until
from tests.integration.conftest import Loop

ADMIN = {"X-Admin-Token": DEV_ADMIN_TOKEN}


@contextlib.asynccontextmanager
async def served(loop: Loop) -> AsyncIterator[str]:
    """The loop's intake app (already started) behind a real HTTP server, for clients that need a socket."""
    config = uvicorn.Config(loop.intake.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    async with serving(config) as base:
        yield f"{base}/open311/v2"


async def post(base: str, fmt: str = "json", **form: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(f"{base}/requests.{fmt}", data=form)


async def test_a_third_party_client_lists_services_posts_and_reads_back(loop: Loop) -> None:
    home = {"id": "H-IT-O311-101", "building_id": "B-LK-1", "unit_no": "3", "room": "101"}
    r = await loop.intake.http.put("/admin/registry", json={"households": [home]}, headers=ADMIN)
    assert r.status_code == 200
    async with served(loop) as base:
        client = GeoReport(base, jurisdiction="heating.cg.example")
        xml_client = GeoReport(base, output_format="xml")

        services = await asyncio.to_thread(client.get_service_list)
        codes = {s["service_code"] for s in services}
        assert {"cold_room", "leak", "burst_pipe", "outage", "ice_hazard", "other"} <= codes
        first = services[0]
        assert set(first) == {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
        assert first["type"] == "realtime" and first["metadata"] is True
        xml_services = await asyncio.to_thread(xml_client.get_service_list)
        assert [s["service_code"] for s in xml_services] == [s["service_code"] for s in services]

        definition = await asyncio.to_thread(client.get_service_definition, "cold_room")
        assert definition["service_code"] == "cold_room"
        assert [a["code"] for a in definition["attributes"]] == ["household_id", "building_id", "measured_temp_c"]
        xml_definition = await asyncio.to_thread(xml_client.get_service_definition, "leak")
        assert [a["code"] for a in xml_definition["attributes"]["attribute"]] == [
            "household_id",
            "building_id",
            "measured_temp_c",
        ]

        # POST as the spec says: form-encoded, api_key, a location; here the household in address_id
        r = await post(
            base,
            api_key=DEV_OPEN311_KEY,
            service_code="cold_room",
            address_id="H-IT-O311-101",
            description="卧室暖气不热，只有15度，电话13800002345",
            first_name="建国",
            last_name="张",
            phone="13800002345",
            media_url="https://example.invalid/p.jpg",
        )
        assert r.status_code == 201, r.text
        [created] = r.json()
        assert set(created) == {"service_request_id", "service_notice", "account_id"}
        rid = created["service_request_id"]
        # and in XML, with the building given as an attribute
        r = await post(
            base,
            "xml",
            api_key=DEV_OPEN311_KEY,
            service_code="leak",
            **{"attribute[building_id]": "B-LK-2", "attribute[measured_temp_c]": "17.5"},
            description="楼道暖气管滴水",
        )
        assert r.status_code == 201 and r.headers["content-type"].startswith("text/xml")
        xml_rid = ET.fromstring(r.content).findtext("request/service_request_id")
        assert xml_rid

        one = await asyncio.to_thread(client.get_service_request, rid)
        assert one["service_request_id"] == rid and one["status"] == "open"
        # placed at a household, published at its building: the list is anonymous
        assert one["service_code"] == "cold_room" and one["address_id"] == "B-LK-1"
        assert "13800002345" not in one["description"] and "暖气不热" in one["description"]
        assert one["status_notes"] and one["agency_responsible"] and one["media_url"].endswith("p.jpg")
        for key in ("requested_datetime", "updated_datetime"):
            parsed = datetime.fromisoformat(one[key])
            assert parsed.tzinfo is not None  # W3C, with its offset
        assert {"service_name", "service_notice", "expected_datetime", "address", "zipcode", "lat", "long"} <= set(one)
        xml_one = await asyncio.to_thread(xml_client.get_service_request, xml_rid)
        assert xml_one["service_request_id"] == xml_rid and xml_one["service_code"] == "leak"

        listed = await asyncio.to_thread(client.get_service_requests, service_request_id=f"{rid},{xml_rid}")
        assert {x["service_request_id"] for x in listed} == {rid, xml_rid}
        leaks = await asyncio.to_thread(client.get_service_requests, service_code="leak", status="open")
        assert xml_rid in {x["service_request_id"] for x in leaks} and rid not in {
            x["service_request_id"] for x in leaks
        }
        start = (datetime.now(UTC) - timedelta(minutes=5)).isoformat(timespec="seconds").replace("+00:00", "Z")
        end = (datetime.now(UTC) + timedelta(minutes=1)).isoformat(timespec="seconds").replace("+00:00", "Z")
        recent = await asyncio.to_thread(client.get_service_requests, start_date=start, end_date=end)
        assert {rid, xml_rid} <= {x["service_request_id"] for x in recent}
        closed = await asyncio.to_thread(
            client.get_service_requests, service_request_id=None, status="closed", start_date=start, end_date=end
        )
        assert rid not in {x["service_request_id"] for x in closed}
        xml_listed = await asyncio.to_thread(
            xml_client.get_service_requests, service_code="cold_room", start_date=start, end_date=end
        )
        xml_items = xml_listed if isinstance(xml_listed, list) else [xml_listed]
        assert rid in {x["service_request_id"] for x in xml_items}

        # the case status reaches the Open311 view: dispatch convenes a unit, who answers for it
        async def agency() -> Any:
            view = await asyncio.to_thread(client.get_service_request, rid)
            return view if view["agency_responsible"].startswith("U-") else None

        view = await wait_until("agency_responsible from the case", agency, timeout=60)
        assert view["status"] == "open" and view["expected_datetime"]


async def test_open311_errors_come_in_the_specs_array_format(loop: Loop) -> None:
    async with served(loop) as base:
        cases: list[tuple[dict[str, str], int, str]] = [
            ({"service_code": "cold_room", "address_id": "H-LK-1-102"}, 403, "api_key"),
            ({"api_key": "nope", "service_code": "cold_room", "address_id": "H-LK-1-102"}, 403, "api_key"),
            ({"api_key": DEV_OPEN311_KEY, "address_id": "H-LK-1-102"}, 400, "service_code"),
            (
                {"api_key": DEV_OPEN311_KEY, "service_code": "snow_removal", "address_id": "H-LK-1-102"},
                400,
                "service_code",
            ),
            ({"api_key": DEV_OPEN311_KEY, "service_code": "leak", "lat": "36.06", "long": "103.83"}, 400, "address_id"),
            (
                {"api_key": DEV_OPEN311_KEY, "service_code": "leak", "address_string": "城关区某路1号"},
                400,
                "address_id",
            ),
            ({"api_key": DEV_OPEN311_KEY, "service_code": "leak", "address_id": "H-NOWHERE"}, 400, "address_id"),
            (
                {"api_key": DEV_OPEN311_KEY, "service_code": "leak", "address_id": "B-LK-1", "description": "x" * 4001},
                400,
                "4000",
            ),
        ]
        for form, status, gist in cases:
            r = await post(base, **form)
            assert r.status_code == status, (form, r.text)
            [err] = r.json()
            assert err["code"] == status and gist in err["description"], (form, err)
        r = await post(base, "xml", service_code="leak")
        assert r.status_code == 403 and ET.fromstring(r.content).findtext("error/code") == "403"
        async with httpx.AsyncClient() as http:
            missing = await http.get(f"{base}/requests/R-nope.json")
            assert missing.status_code == 404 and missing.json()[0]["code"] == 404
            unknown = await http.get(f"{base}/services/snow_removal.xml")
            assert unknown.status_code == 404 and ET.fromstring(unknown.content).tag == "errors"
            bad_format = await http.get(f"{base}/services.yaml")
            assert bad_format.status_code == 400 and bad_format.json()[0]["code"] == 400
            too_long = await http.get(
                f"{base}/requests.json",
                params={"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"},
            )
            assert too_long.status_code == 400
            bad_status = await http.get(f"{base}/requests.json", params={"status": "pending"})
            assert bad_status.status_code == 400
            bad_date = await http.get(f"{base}/requests.json", params={"start_date": "yesterday"})
            assert bad_date.status_code == 400 and "W3C" in bad_date.json()[0]["description"]
            multipart = await http.post(f"{base}/requests.json", files={"api_key": (None, DEV_OPEN311_KEY)})
            assert multipart.status_code == 400
