"""Odd input the fuzzer (tests/e2e/test_fuzz.py) found answered with a 5xx or accepted against the documents, now
refused with a 4xx in the error model: text PostgreSQL cannot store, numbers beyond a column, a body that is not
UTF-8, numbers where dates belong, registry and unit loads that point nowhere or twice at one place; and a 12345 GET
whose path is percent-encoded, signed as sent."""

from __future__ import annotations

from typing import Any

import httpx

from services.intake.config import DEV_HOTLINE_INTEGRATION, DEV_HOTLINE_SECRET
from services.intake.hotline import signed_headers
from shared.settings import DEV_ADMIN_TOKEN
from tests.integration.conftest import Loop

ADMIN = {"X-Admin-Token": DEV_ADMIN_TOKEN}


def _refused(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    codes = [e["code"] for e in detail] if isinstance(detail, list) else [detail["code"]]
    assert code in codes, r.text


async def test_a_nul_character_or_a_number_beyond_its_column_is_a_422(loop: Loop) -> None:
    # In free text a NUL is refused at the field, with the other characters XML cannot carry (shared.text).
    body = {"household_id": "H-LK-1-101", "description": "暖气不热\x00", "category": "cold_room"}
    r = await loop.intake.http.post("/v1/grid-reports", json=body, headers=loop.auth("GW-01"))
    _refused(r, 422, "text_forbidden_char")
    body = {"household_id": "H-LK-1-101\x00", "description": "暖气不热", "category": "cold_room"}
    r = await loop.intake.http.post("/v1/grid-reports", json=body, headers=loop.auth("GW-01"))
    _refused(r, 422, "value_refused")
    r = await loop.intake.http.get("/admin/hotline/callbacks", params={"order_no": "A\x00B"}, headers=ADMIN)
    _refused(r, 422, "value_refused")
    r = await loop.intake.http.post(f"/admin/hotline/callbacks/{10**20}/redrive", headers=ADMIN)
    _refused(r, 422, "value_refused")
    r = await loop.dispatch.http.get("/v1/cases/C-%00", headers=loop.auth("TF-JYG"))
    _refused(r, 422, "value_refused")


async def test_a_body_that_is_not_utf8_is_broken_json_and_an_unknown_path_answers_in_the_error_model(
    loop: Loop,
) -> None:
    headers = loop.auth("GW-01") | {"Content-Type": "application/json"}
    r = await loop.intake.http.post("/v1/grid-reports", content=b'{"description": "\xff\xfe"}', headers=headers)
    _refused(r, 422, "json_invalid")
    _refused(await loop.followup.http.get("/v1/nothing-here"), 404, "not_found")


async def test_dates_and_booleans_are_what_the_documents_say_not_what_lax_parsing_makes_of_a_number(
    loop: Loop,
) -> None:
    r = await loop.intake.http.get("/v1/visits", params={"day": "0"}, headers=loop.auth("GW-01"))
    _refused(r, 422, "iso_format")
    r = await loop.followup.http.get("/v1/scorecards", params={"end": "20261120"}, headers=loop.auth("TF-JYG"))
    _refused(r, 422, "iso_format")
    cold_snap = "/v1/districts/D-NOWHERE/cold-snap"
    r = await loop.dispatch.http.put(cold_snap, json={"active": 0}, headers=loop.auth("admin"))
    _refused(r, 422, "bool_type")
    r = await loop.dispatch.http.put(cold_snap, json={"active": False, "until": 0}, headers=loop.auth("admin"))
    _refused(r, 422, "iso_format")


async def test_registry_rows_must_point_at_known_places(loop: Loop) -> None:
    household: dict[str, Any] = {"id": "H-NOWHERE", "building_id": "B-NOWHERE", "unit_no": "1", "room": "1"}
    r = await loop.intake.http.put("/admin/registry", json={"households": [household]}, headers=ADMIN)
    _refused(r, 422, "unknown_building")
    building = {"id": "B-NEW", "name": "新楼", "compound_id": "CP-LK", "grid_id": "G-NOWHERE"}
    r = await loop.intake.http.put("/admin/registry", json={"buildings": [building]}, headers=ADMIN)
    _refused(r, 422, "unknown_area")


async def test_a_place_is_served_by_one_unit_of_a_type(loop: Loop) -> None:
    def unit(uid: str, substation: str) -> dict[str, Any]:
        return {
            "id": uid,
            "type": "heating_company",
            "name": uid,
            "district_id": "D-CG",
            "covers": {"substation": [substation]},
        }

    both = [unit("U-HEAT-X", "SS-X"), unit("U-HEAT-Y", "SS-X")]
    _refused(
        await loop.dispatch.http.put("/admin/units", json={"units": both}, headers=ADMIN), 422, "coverage_conflict"
    )
    # SS-01 is U-HEAT-1's in the seed registry
    taken = [unit("U-HEAT-X", "SS-01")]
    r = await loop.dispatch.http.put("/admin/units", json={"units": taken}, headers=ADMIN)
    _refused(r, 422, "coverage_conflict")
    # the seed's units loaded again: their own places, unchanged (idempotent)
    moved = [unit("U-HEAT-1", "SS-01"), unit("U-HEAT-2", "SS-02")]
    r = await loop.dispatch.http.put("/admin/units", json={"units": moved}, headers=ADMIN)
    assert r.status_code == 200 and r.json() == {"units": 2}, r.text


async def test_a_12345_get_is_signed_over_the_path_as_sent(loop: Loop) -> None:
    path = "/hotline/v1/orders/%E5%8C%97-1"  # 北-1, percent-encoded as it travels
    headers = signed_headers(DEV_HOTLINE_INTEGRATION, DEV_HOTLINE_SECRET, path.encode())
    _refused(await loop.intake.http.get(path, headers=headers), 404, "order_not_found")
