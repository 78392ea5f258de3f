"""Photo evidence through the services' APIs, on the real S3 server (the stack's S3Proxy) and PostgreSQL: a crew's
办结 with a photo it uploaded with a grant, what readers are shown (no GPS, thumbnails, the window flag), and every
refusal — another unit's photo, too large, not an image, uploaded after its grant expired, S3 down (503, nothing
taken, and nothing lost once it is back) — plus the Idempotency-Key of the assignee's actions and the coarse
position of 到场."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import text

from shared.evidence import Evidence, retention_pass
from shared.photos import PhotoStore, PhotoStoreSettings, published_keys
from shared.settings import DEV_ADMIN_TOKEN
from tests.harness import wait_until
from tests.integration.conftest import Loop
from tests.photo_factory import exif_of, phone_jpeg

ADMIN = {"X-Admin-Token": DEV_ADMIN_TOKEN}


def exif_now(delta: timedelta = timedelta()) -> str:
    """An EXIF DateTimeOriginal (Asia/Shanghai, as a phone writes it) ``delta`` from now."""
    return (datetime.now(UTC) + timedelta(hours=8) + delta).strftime("%Y:%m:%d %H:%M:%S")


async def upload(loop: Loop, service: str, who: str, data: bytes, content_type: str = "image/jpeg") -> str:
    http = getattr(loop, service).http
    r = await http.post("/v1/photos/uploads", json={"content_type": content_type}, headers=loop.auth(who))
    assert r.status_code == 201, r.text
    grant = r.json()
    assert grant["key"].startswith("uploads/") and grant["max_bytes"] > 0
    async with httpx.AsyncClient() as s3:
        put = await s3.post(grant["url"], data=grant["fields"], files={"file": ("p", data, content_type)})
    assert put.status_code < 300, put.text
    key: str = grant["key"]
    return key


async def unit_line(loop: Loop, unit: str) -> dict[str, Any]:
    r = await loop.followup.http.get("/v1/scorecards", headers=loop.auth(unit))
    assert r.status_code == 200, r.text
    (line,) = [x for x in r.json()["lines"] if x["key"] == unit] or [{"photos": 0, "photos_flagged": 0}]
    return line


@pytest.fixture(scope="module")
async def on_site(loop: Loop) -> dict[str, Any]:
    """Three cold-room cases in a building of the test's own, each assigned to 城关第一供热公司, signed in."""
    sfx = uuid.uuid4().hex[:6]
    building = f"B-PH-{sfx}"
    reg = {
        "buildings": [
            {
                "id": building,
                "name": "粮库家属院9号楼",
                "compound_id": "CP-LK",
                "grid_id": "G-PHN-01",
                "substation_id": "SS-01",
            }
        ],
        "households": [
            {"id": f"H-PH-{sfx}-{n}", "building_id": building, "unit_no": "2", "room": f"50{n}"} for n in (1, 2, 3)
        ],
    }
    assert (await loop.intake.http.put("/admin/registry", json=reg, headers=ADMIN)).status_code == 200
    assignments = {}
    for n in (1, 2, 3):
        body = {"household_id": f"H-PH-{sfx}-{n}", "category": "cold_room", "description": "屋里冷"}
        r = await loop.intake.http.post("/v1/grid-reports", json=body, headers=loop.auth("GW-01"))
        assert r.status_code == 201, r.text

        async def assigned(report_id: str = r.json()["id"]) -> dict[str, Any] | None:
            seen = (await loop.intake.http.get(f"/v1/reports/{report_id}", headers=loop.auth("GW-01"))).json()
            if not seen.get("case_id"):
                return None
            mine = (await loop.dispatch.http.get("/v1/assignments", headers=loop.auth("U-HEAT-1"))).json()
            return next((a for a in mine if a["case_id"] == seen["case_id"]), None)

        assignments[n] = await wait_until(f"the assignment of household {n}", assigned)
    return {"sfx": sfx, "assignments": assignments}


async def test_a_fix_with_a_photo_is_shown_to_the_task_force_without_gps(loop: Loop, on_site: dict[str, Any]) -> None:
    a = on_site["assignments"][1]
    assert a["location"]["place_name"] == "粮库家属院 · 9号楼 · 2单元 · 501室"
    d = loop.dispatch.http
    unit = loop.auth("U-HEAT-1")
    assert (await d.post(f"/v1/assignments/{a['id']}/sign-in", headers=unit)).status_code == 200
    arrived = await d.post(
        f"/v1/assignments/{a['id']}/arrive",
        json={"position": {"lat": 36.0613871, "lon": 103.8342512, "accuracy_m": 12}},
        headers=unit,
    )
    assert arrived.status_code == 200, arrived.text
    assert arrived.json()["arrival_position"] == {"lat": 36.061, "lon": 103.834, "accuracy_m": 100.0}

    before = await unit_line(loop, "U-HEAT-1")
    fresh = await upload(loop, "dispatch", "U-HEAT-1", phone_jpeg(taken=exif_now()))
    old = await upload(loop, "dispatch", "U-HEAT-1", phone_jpeg(taken=exif_now(-timedelta(days=3))))
    body = {"action_taken": "更换阀门", "measured_temp_c": 20.5, "photo_refs": [fresh, old]}
    r = await d.post(f"/v1/assignments/{a['id']}/resolve", json=body, headers=unit)
    assert r.status_code == 200, r.text
    photos = r.json()["photos"]
    assert [p["key"] for p in photos] == [fresh, old]
    assert [p["outside_window"] for p in photos] == [False, True]  # the second was taken before the dispatch

    case = (await d.get(f"/v1/cases/{a['case_id']}", headers=loop.auth("TF-JYG"))).json()
    (shown,) = [x for x in case["assignments"] if x["id"] == a["id"]]
    assert [p["key"] for p in shown["photos"]] == [fresh, old] and not shown["photos"][0]["missing"]
    async with httpx.AsyncClient() as s3:
        image = await s3.get(shown["photos"][0]["url"])
        thumb = await s3.get(shown["photos"][0]["thumbnail_url"])
    assert image.status_code == 200 and thumb.status_code == 200
    assert image.content[:3] == b"\xff\xd8\xff"
    exif = exif_of(image.content)
    assert not exif.get_ifd(0x8825) and 0x010F not in exif  # no GPS, no maker: nothing of the phone or the place
    assert max(Image.open(io.BytesIO(thumb.content)).size) <= 320

    # the unit's scorecard counts its 办结 photos and the flagged one
    async def counted() -> dict[str, Any] | None:
        line = await unit_line(loop, "U-HEAT-1")
        return line if line["photos"] == before["photos"] + 2 else None

    line = await wait_until("the scorecard to count the photos", counted)
    assert line["photos_flagged"] == before["photos_flagged"] + 1

    # a photo already used is not used again, and another unit never sees it
    other = await d.post(
        f"/v1/assignments/{on_site['assignments'][2]['id']}/resolve", json=body, headers=loop.auth("U-HEAT-2")
    )
    assert other.status_code == 404


async def test_each_refusal_names_the_photo_and_takes_nothing(loop: Loop, on_site: dict[str, Any]) -> None:
    a = on_site["assignments"][2]
    d = loop.dispatch.http
    unit = loop.auth("U-HEAT-1")
    assert (await d.post(f"/v1/assignments/{a['id']}/sign-in", headers=unit)).status_code == 200
    good = await upload(loop, "dispatch", "U-HEAT-1", phone_jpeg(taken=exif_now()))

    async def resolve(*refs: str) -> httpx.Response:
        body = {"action_taken": "排气", "photo_refs": [good, *refs]}
        return await d.post(f"/v1/assignments/{a['id']}/resolve", json=body, headers=unit)

    # another unit's upload, a key never granted, and a grant of another service are the same 404
    theirs = await upload(loop, "dispatch", "U-PM-1", phone_jpeg(taken=exif_now()))
    elsewhere = await upload(loop, "followup", "GW-01", phone_jpeg(taken=exif_now()))
    for ref in (theirs, f"uploads/{uuid.uuid4().hex}", elsewhere):
        r = await resolve(ref)
        assert r.status_code == 404 and r.json()["detail"]["field"] == "photo_refs.1", r.text
    r = await resolve("../etc/passwd")
    assert r.status_code == 422 and "photo_refs" in r.text

    not_image = await upload(loop, "dispatch", "U-HEAT-1", b"%PDF-1.4 not a photo" * 50)
    r = await resolve(not_image)
    assert r.status_code == 422 and r.json()["detail"]["code"] == "photo_wrong_type", r.text

    limit = loop.dispatch.app.state.context.evidence.store.settings.max_upload_bytes
    huge = await upload(loop, "dispatch", "U-HEAT-1", b"\xff\xd8\xff\xe0" + b"\0" * limit)
    r = await resolve(huge)
    assert r.status_code == 413 and r.json()["detail"]["code"] == "photo_too_large", r.text

    late = await upload(loop, "dispatch", "U-HEAT-1", phone_jpeg(taken=exif_now()))
    async with loop.dispatch.runtime.sessions() as s, s.begin():  # as if it had been uploaded after its grant ran out
        await s.execute(text("UPDATE photos SET expires_at = now() - interval '1 hour' WHERE key = :k"), {"k": late})
    r = await resolve(late)
    assert r.status_code == 422 and r.json()["detail"]["code"] == "upload_expired", r.text

    # S3 down: 503 with Retry-After, the assignment untouched, the photo still usable once S3 is back
    real: Evidence = loop.dispatch.app.state.context.evidence
    dead = PhotoStoreSettings(endpoint_url="http://127.0.0.1:9", connect_timeout_seconds=0.5, retry_after_seconds=7)
    loop.dispatch.app.state.context.evidence = Evidence(PhotoStore(dead), real.model)
    try:
        r = await resolve()
        assert r.status_code == 503 and r.headers["retry-after"] == "7", r.text
        assert r.json()["detail"]["code"] == "photo_store_unavailable"
        assert (
            await d.post("/v1/photos/uploads", json={"content_type": "image/jpeg"}, headers=unit)
        ).status_code == 503
    finally:
        loop.dispatch.app.state.context.evidence = real
    mine = (await d.get(f"/v1/assignments/{a['id']}", headers=unit)).json()
    assert mine["status"] == "signed_in" and mine["photos"] == []
    r = await resolve()
    assert r.status_code == 200 and [p["key"] for p in r.json()["photos"]] == [good], r.text


async def test_an_action_resent_with_its_key_is_taken_once(loop: Loop, on_site: dict[str, Any]) -> None:
    a = on_site["assignments"][3]
    d = loop.dispatch.http
    unit = loop.auth("U-HEAT-1")
    key = {**unit, "Idempotency-Key": str(uuid.uuid4())}
    first = await d.post(f"/v1/assignments/{a['id']}/sign-in", headers=key)
    again = await d.post(f"/v1/assignments/{a['id']}/sign-in", headers=key)
    assert first.status_code == again.status_code == 200 and again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    without = await d.post(f"/v1/assignments/{a['id']}/sign-in", headers=unit)
    assert without.status_code == 409  # no key: the state has moved on

    note = {**unit, "Idempotency-Key": str(uuid.uuid4())}
    for _ in range(3):
        r = await d.post(f"/v1/assignments/{a['id']}/progress", json={"note": "已联系，下午到场"}, headers=note)
        assert r.status_code == 200, r.text
    reused = await d.post(f"/v1/assignments/{a['id']}/progress", json={"note": "另一条"}, headers=note)
    assert reused.status_code == 422 and reused.json()["detail"]["field"] == "Idempotency-Key"
    # the same key of another unit is its own key (and this assignment is not theirs: 404)
    theirs = await d.post(
        f"/v1/assignments/{a['id']}/progress",
        json={"note": "已联系，下午到场"},
        headers={**loop.auth("U-HEAT-2"), "Idempotency-Key": note["Idempotency-Key"]},
    )
    assert theirs.status_code == 404
    case = (await d.get(f"/v1/cases/{a['case_id']}", headers=loop.auth("TF-JYG"))).json()
    assert [e["kind"] for e in case["timeline"]].count("progress") == 1

    bad = await d.post(f"/v1/assignments/{a['id']}/arrive", headers={**unit, "Idempotency-Key": "a b"})
    assert bad.status_code == 422 and "Idempotency-Key" in bad.text


async def test_a_return_visit_needs_its_thermometer_photo(
    loop: Loop, on_site: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """回访 测温拍照: with the rule on (production's default), a visit at which the resident was reached needs a
    photo; an unreached attempt does not. The photo shows on the visit, with the place as people name it."""
    monkeypatch.setattr(loop.followup.runtime.settings, "photo_required_on_visit", True)
    a = on_site["assignments"][1]  # resolved with photos by the first test of this module
    f = loop.followup.http
    worker = loop.auth("GW-01")

    async def owed() -> dict[str, Any] | None:
        visits = (await f.get("/v1/visits", params={"case_id": a["case_id"]}, headers=worker)).json()
        return next((v for v in visits if v["status"] == "pending"), None)

    visit = await wait_until("the return visit of the fixed case", owed)
    assert visit["place_name"] == "粮库家属院 · 9号楼 · 2单元 · 501室"
    assert visit["photo_required"] is True  # the phone asks for the photo before it queues the visit
    monkeypatch.setattr(loop.followup.runtime.settings, "photo_required_on_visit", False)
    assert (await f.get(f"/v1/visits/{visit['id']}", headers=worker)).json()["photo_required"] is False
    monkeypatch.setattr(loop.followup.runtime.settings, "photo_required_on_visit", True)
    record = f"/v1/visits/{visit['id']}/record"
    warm = {"room_temps_c": [20.5], "satisfaction": "satisfied"}
    r = await f.post(record, json=warm, headers=worker)
    assert r.status_code == 422 and r.json()["detail"]["code"] == "photo_required", r.text
    r = await f.post(record, json={"reached": False, "room_temps_c": [19.0]}, headers=worker)
    assert r.status_code == 200 and r.json()["status"] == "pending", r.text  # nobody home: no photo needed

    from_dispatch = await upload(loop, "dispatch", "U-HEAT-1", phone_jpeg(taken=exif_now()))
    r = await f.post(record, json={**warm, "photo_refs": [from_dispatch]}, headers=worker)
    assert r.status_code == 404, r.text  # a grant of another service is no photo here
    thermometer = await upload(loop, "followup", "GW-01", phone_jpeg(taken=exif_now()))
    r = await f.post(record, json={**warm, "photo_refs": [thermometer]}, headers=worker)
    assert r.status_code == 200 and r.json()["status"] == "closed", r.text
    (photo,) = r.json()["photos"]
    assert photo["key"] == thermometer and not photo["outside_window"] and photo["thumbnail_url"]
    seen = (
        await f.get("/v1/visits", params={"case_id": a["case_id"], "status": "all"}, headers=loop.auth("TF-JYG"))
    ).json()
    assert [p["key"] for v in seen for p in v["photos"]] == [thermometer]


async def test_photos_of_long_closed_cases_and_unused_uploads_are_deleted(loop: Loop, on_site: dict[str, Any]) -> None:
    from services.dispatch.main import closed_cases

    a = on_site["assignments"][1]  # resolved with two photos by the first test of this module
    d = loop.dispatch.http
    before = (await d.get(f"/v1/cases/{a['case_id']}", headers=loop.auth("TF-JYG"))).json()
    (shown,) = [x for x in before["assignments"] if x["id"] == a["id"]]
    keys = [p["key"] for p in shown["photos"]]
    assert len(keys) == 2 and not any(p["missing"] for p in shown["photos"])
    unused = await upload(loop, "dispatch", "U-HEAT-1", phone_jpeg(taken=exif_now()))
    async with loop.dispatch.runtime.sessions() as s, s.begin():  # closed 400 days ago; a grant long run out
        await s.execute(
            text("UPDATE cases SET status = 'closed', closed_at = now() - interval '400 days' WHERE id = :c"),
            {"c": a["case_id"]},
        )
        await s.execute(text("UPDATE photos SET expires_at = now() - interval '2 days' WHERE key = :k"), {"k": unused})
    evidence: Evidence = loop.dispatch.app.state.context.evidence
    closed, dropped = await retention_pass(evidence, loop.dispatch.runtime.sessions, closed_cases, days=365)
    assert closed >= 2 and dropped >= 1
    for key in (*keys, unused):
        assert not await evidence.store.exists(key)
        assert not any([await evidence.store.exists(k) for k in published_keys(key)])
    after = (await d.get(f"/v1/cases/{a['case_id']}", headers=loop.auth("TF-JYG"))).json()
    (shown,) = [x for x in after["assignments"] if x["id"] == a["id"]]
    assert [p["missing"] for p in shown["photos"]] == [True, True]  # shown as missing, not as a broken page
    assert await retention_pass(evidence, loop.dispatch.runtime.sessions, closed_cases, days=0) == (0, 0)


async def test_a_one_tap_photo_shows_with_its_report_until_the_report_is_long_closed(
    loop: Loop, on_site: dict[str, Any]
) -> None:
    from services.intake.main import closed_reports

    i = loop.intake.http
    household = f"H-PH-{on_site['sfx']}-2"
    theirs = await upload(loop, "intake", "GW-03", phone_jpeg(taken=exif_now()))
    body = {"household_id": household, "category": "leak", "description": "暖气片接口滴水", "photo_refs": [theirs]}
    refused = await i.post("/v1/grid-reports", json=body, headers=loop.auth("GW-01"))
    assert refused.status_code == 404 and refused.json()["detail"]["field"] == "photo_refs.0", refused.text
    mine = await upload(loop, "intake", "GW-01", phone_jpeg(taken=exif_now(-timedelta(hours=3))))
    r = await i.post("/v1/grid-reports", json={**body, "photo_refs": [mine]}, headers=loop.auth("GW-01"))
    assert r.status_code == 201, r.text
    report = (await i.get(f"/v1/reports/{r.json()['id']}", headers=loop.auth("GW-01"))).json()
    (photo,) = report["photos"]
    assert photo["key"] == mine and not photo["outside_window"] and photo["thumbnail_url"]  # 3 h ago: within 48 h

    async with loop.intake.runtime.sessions() as s, s.begin():
        await s.execute(
            text("UPDATE reports SET status = 'closed', status_at = now() - interval '400 days' WHERE id = :r"),
            {"r": report["id"]},
        )
    evidence: Evidence = loop.intake.app.state.context.evidence
    closed, _ = await retention_pass(evidence, loop.intake.runtime.sessions, closed_reports, days=365)
    assert closed >= 1 and not await evidence.store.exists(mine)
    again = (await i.get(f"/v1/reports/{report['id']}", headers=loop.auth("GW-01"))).json()
    assert [p["missing"] for p in again["photos"]] == [True]
