"""What the field app reads and who signs in to it: the places of a grid worker's own grid, named as people name
them (and never with a resident's name or number), and the field accounts of the seed registry."""

from __future__ import annotations

from typing import Any

from deploy.seed import registry
from shared.settings import DEV_ADMIN_TOKEN
from tests.integration.conftest import Loop

ADMIN = {"X-Admin-Token": DEV_ADMIN_TOKEN}


async def places(loop: Loop, who: str, **params: Any) -> Any:
    r = await loop.intake.http.get("/v1/places", params=params, headers=loop.auth(who))
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_grid_worker_picks_from_the_places_of_its_own_grid(loop: Loop) -> None:
    mine = await places(loop, "GW-01")
    labels = [p["label"] for p in mine if p["building_id"] in ("B-LK-1", "B-LK-2")]  # other tests add buildings
    assert labels[:4] == [
        "粮库家属院 · 1号楼",
        "粮库家属院 · 1号楼 · 1单元 · 101室",
        "粮库家属院 · 1号楼 · 1单元 · 102室",
        "粮库家属院 · 2号楼",
    ]
    first = next(p for p in mine if p["household_id"] == "H-LK-1-101")
    assert first["household_id"] == "H-LK-1-101" and first["priority_resident"] and first["compound"] == "粮库家属院"
    assert {p["building_id"] for p in mine} >= {"B-LK-1", "B-LK-2"} and "B-DF-3" not in {p["building_id"] for p in mine}
    doc = registry.read()
    names = [h["resident_name"] for h in doc["households"]] + [h["phone"] for h in doc["households"]]
    r = await loop.intake.http.get("/v1/places", headers=loop.auth("GW-01"))
    assert not [n for n in names if n in r.text]  # places, not people

    assert [p["label"] for p in await places(loop, "GW-01", q="102")] == ["粮库家属院 · 1号楼 · 1单元 · 102室"]
    assert {p["building_id"] for p in await places(loop, "GW-01", q="2号楼")} == {"B-LK-2"}
    assert await places(loop, "GW-03", q="粮库") == []  # another grid's worker finds none of them
    assert (await places(loop, "GW-01", limit=2)) == mine[:2]
    refused = await loop.intake.http.get("/v1/places", headers=loop.auth("U-HEAT-1"))
    assert refused.status_code == 403


async def test_grid_workers_and_crews_sign_in_to_the_field_app(loop: Loop) -> None:
    doc = registry.read()
    put = await loop.dispatch.http.put("/admin/accounts", json=registry.dispatch_accounts(doc), headers=ADMIN)
    assert put.is_success, put.text
    for username, role, sub, scope, name in (
        ("gw01", "grid_worker", "GW-01", "G-PHN-01", "王军"),
        ("heat1-crew", "unit", "U-HEAT-1", "D-CG", "城关第一供热公司"),
    ):
        r = await loop.dispatch.http.post("/v1/login", json={"username": username, "password": f"{username}-demo-2026"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["role"], body["sub"], body["scope"], body["display_name"]) == (role, sub, scope, name)
        seen = await loop.intake.http.get(
            "/v1/places",
            headers={"Authorization": f"Bearer {body['token']}"},
        )
        assert seen.status_code == (200 if role == "grid_worker" else 403)
