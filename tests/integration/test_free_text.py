"""Free text where it enters each service, on the real stack: a unit's progress note, 延期 reason and decision, the
action taken, a 退单 note and the return visit's notes, typed with full-width digits, dotted and spaced numbers and
names after 居民/业主, are stored redacted (the rows, not only the events) and shown redacted to the task force and
the district; a character XML cannot carry (U+000B) is a 422 naming the field in every service; the data
migrations redact what was stored before."""

from __future__ import annotations

import importlib.util
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from services.intake.config import DEV_HOTLINE_INTEGRATION, DEV_HOTLINE_SECRET
from services.intake.hotline import signed_headers
from shared.privacy import NAME_MASK, PHONE_MASK, contains_pii
from shared.settings import DEV_ADMIN_TOKEN
from tests.harness import wait_until
from tests.integration.conftest import Loop

ADMIN = {"X-Admin-Token": DEV_ADMIN_TOKEN}
ROOT = Path(__file__).resolve().parents[2]

RESIDENT, RESIDENT_PHONE = "邵春梅", "13700007788"
# What people type, and the pieces that must not be stored or shown.
PROGRESS = "已联系业主王建国，手机１３９１２３４５６７８，约好下午上门"
REASON = "居民刘海燕（139.8765.4321）不在家，需延期"
DECISION = "经与户主张伟 139 8765 4321 确认，同意延期"
ACTION = "电话１３８－００１３－８０００联系李女士后上门排气"
RETURN = "经业主王建国１３６ ０００１ ２２３３确认为自装管道"
VISIT = f"居民{RESIDENT}表示满意，电话１３９１２３４５６７８"
SECRETS = (
    "王建国",
    "１３９１２３４５６７８",
    "13912345678",
    "刘海燕",
    "139.8765.4321",
    "张伟",
    "139 8765 4321",
    "13987654321",
    "１３８－００１３－８０００",
    "13800138000",
    "李女士",
    "１３６ ０００１ ２２３３",
    "13600012233",
    RESIDENT,
    RESIDENT_PHONE,
)


def leaked(where: str, blob: Any) -> list[str]:
    flat = blob if isinstance(blob, str) else json.dumps(blob, ensure_ascii=False)
    return [f"{where}: {s}" for s in SECRETS if s in flat]


async def call(loop: Loop, service: str, method: str, path: str, who: str, expect: int = 200, **kw: Any) -> Any:
    http: httpx.AsyncClient = getattr(loop, service).http
    r = await http.request(method, path, headers=loop.auth(who), **kw)
    assert r.status_code == expect, f"{method} {path} as {who}: {r.status_code} {r.text}"
    return r.json()


async def case_of(loop: Loop, household: str, category: str, description: str, unit: str) -> tuple[str, str]:
    body = {"household_id": household, "category": category, "description": description}
    report = await call(loop, "intake", "POST", "/v1/grid-reports", "GW-01", expect=201, json=body)

    async def linked() -> str | None:
        seen = await call(loop, "intake", "GET", f"/v1/reports/{report['id']}", "admin")
        return seen["case_id"] or None

    case_id: str = await wait_until("the report's case", linked)

    async def assigned() -> str | None:
        mine = await call(loop, "dispatch", "GET", "/v1/assignments", unit, params={"include_done": "true"})
        return next((a["id"] for a in mine if a["case_id"] == case_id), None)

    return case_id, await wait_until(f"{unit}'s assignment", assigned)


@pytest.fixture(scope="module")
async def place(loop: Loop) -> list[str]:
    """A building of this module's own, so no other test's open case takes its reports in."""
    sfx = uuid.uuid4().hex[:6]
    households = [f"H-PV-{sfx}-{n}" for n in (1, 2)]
    reg = {
        "buildings": [
            {
                "id": f"B-PV-{sfx}",
                "name": "隐私测试楼",
                "compound_id": "CP-LK",
                "grid_id": "G-PHN-01",
                "substation_id": "SS-01",
            }
        ],
        "households": [
            {
                "id": h,
                "building_id": f"B-PV-{sfx}",
                "unit_no": "1",
                "room": h.rsplit("-", 1)[1],
                "resident_name": RESIDENT,
                "phone": RESIDENT_PHONE,
            }
            for h in households
        ],
    }
    assert (await loop.intake.http.put("/admin/registry", json=reg, headers=ADMIN)).status_code == 200
    return households


async def test_the_residents_own_number_is_redacted_however_it_is_grouped(loop: Loop, place: list[str]) -> None:
    """A grouping no phone pattern reads (137-00-007-788) is still the resident's number, which the registry knows:
    intake redacts it from a grid report and from a household visit's findings before they are stored."""
    odd = f"{RESIDENT_PHONE[:3]}-{RESIDENT_PHONE[3:5]}-{RESIDENT_PHONE[5:8]}-{RESIDENT_PHONE[8:]}"
    assert not contains_pii(f"联系{odd}上门"), "the detector alone now reads this grouping: pick another"
    gw = {"Authorization": f"Bearer {loop.tokens['GW-01']}"}
    r = await loop.intake.http.post(
        "/v1/grid-reports",
        json={"household_id": place[1], "category": "cold_room", "description": f"卧室不热，联系{odd}上门"},
        headers=gw,
    )
    assert r.status_code == 201, r.text
    r = await loop.intake.http.post(
        "/v1/visits",
        json={
            "household_id": place[1],
            "visited_at": datetime.now(UTC).isoformat(),
            "residents_reached": 1,
            "findings": [{"category": "cold_room", "description": f"卧室15度，回电{odd}"}],
        },
        headers=gw,
    )
    assert r.status_code in (200, 201), r.text
    async with loop.intake.runtime.sessions() as s:
        stored = [
            *(await s.execute(text("SELECT description FROM reports WHERE household_id = :h"), {"h": place[1]}))
            .scalars()
            .all(),
            *(
                json.dumps(f, ensure_ascii=False)
                for f in (
                    await s.execute(
                        text("SELECT findings FROM household_visits WHERE household_id = :h"), {"h": place[1]}
                    )
                )
                .scalars()
                .all()
            ),
        ]
    assert len(stored) >= 2 and all(odd not in t for t in stored), stored
    assert any(f"联系{PHONE_MASK}上门" in t for t in stored), stored


async def test_notes_are_stored_and_shown_redacted_in_dispatch_and_followup(loop: Loop, place: list[str]) -> None:
    case_id, a = await case_of(
        loop, place[0], "air_lock", f"{RESIDENT}家暖气片需排气，电话{RESIDENT_PHONE}", "U-HEAT-1"
    )
    unit = f"/v1/assignments/{a}"
    await call(loop, "dispatch", "POST", f"{unit}/sign-in", "U-HEAT-1")
    await call(loop, "dispatch", "POST", f"{unit}/progress", "U-HEAT-1", json={"note": PROGRESS})
    due = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    ext = await call(
        loop,
        "dispatch",
        "POST",
        f"{unit}/extensions",
        "U-HEAT-1",
        expect=201,
        json={"reason": REASON, "resolve_due": due},
    )
    decided = await call(
        loop,
        "dispatch",
        "POST",
        f"/v1/extensions/{ext['id']}/decision",
        "TF-JYG",
        json={"approved": True, "note": DECISION},
    )
    assert NAME_MASK in decided["decision_note"] and PHONE_MASK in decided["decision_note"], decided
    await call(loop, "dispatch", "POST", f"{unit}/arrive", "U-HEAT-1")
    resolved = {"action_taken": ACTION, "measured_temp_c": 20.5}
    await call(loop, "dispatch", "POST", f"{unit}/resolve", "U-HEAT-1", json=resolved)

    # 退单 on a second case.
    leak_case, leak = await case_of(loop, place[1], "leak", "阀门漏水", "U-PM-1")
    await call(loop, "dispatch", "POST", f"/v1/assignments/{leak}/sign-in", "U-PM-1")
    returned = {"reason": "not_our_equipment", "note": RETURN}
    await call(loop, "dispatch", "POST", f"/v1/assignments/{leak}/return", "U-PM-1", json=returned)

    # What the task force and the district read.
    shown: list[str] = []
    for who in ("TF-JYG", "DIST-CG"):
        for cid in (case_id, leak_case):
            seen = await call(loop, "dispatch", "GET", f"/v1/cases/{cid}", who)
            shown += leaked(f"GET /v1/cases as {who}", seen)
    seen = await call(loop, "dispatch", "GET", f"/v1/cases/{case_id}", "TF-JYG")
    notes = [e["detail"].get("note") for e in seen["timeline"] if e["kind"] == "progress"]
    assert notes == ["已联系业主[姓名已隐去]，手机[电话已隐去]，约好下午上门"], notes
    assert seen["assignments"][0]["action_taken"] == f"电话{PHONE_MASK}联系居民后上门排气", seen["assignments"]
    assert PHONE_MASK in seen["extensions"][0]["reason"], seen["extensions"]

    # The return visit, noted with the resident's name and a full-width number.
    async def visit() -> dict[str, Any] | None:
        owed = await call(loop, "followup", "GET", "/v1/visits", "GW-01", params={"case_id": case_id})
        return owed[0] if owed else None

    v = await wait_until("the return visit", visit, timeout=60)
    noted = {"room_temps_c": [20.5], "satisfaction": "satisfied", "notes": VISIT}
    recorded = await call(loop, "followup", "POST", f"/v1/visits/{v['id']}/record", "GW-01", json=noted)
    assert recorded["notes"] == f"居民{NAME_MASK}表示满意，电话{PHONE_MASK}", recorded
    for who in ("GW-01", "TF-JYG", "DIST-CG"):
        visits = await call(loop, "followup", "GET", "/v1/visits", who, params={"case_id": case_id, "status": "all"})
        assert visits and all(x["notes"] == recorded["notes"] for x in visits), visits
        shown += leaked(f"GET /v1/visits as {who}", visits)

    # And the rows hold only the redacted text.
    async with loop.dispatch.runtime.sessions() as s:
        rows = {
            "assignments": (
                await s.execute(
                    text("SELECT action_taken, return_note FROM assignments WHERE case_id IN (:a, :b)"),
                    {"a": case_id, "b": leak_case},
                )
            ).all(),
            "extensions": (
                await s.execute(text("SELECT reason, decision_note FROM extensions WHERE case_id = :a"), {"a": case_id})
            ).all(),
            "case_events": (
                await s.execute(
                    text("SELECT detail FROM case_events WHERE case_id IN (:a, :b)"), {"a": case_id, "b": leak_case}
                )
            ).all(),
        }
    async with loop.followup.runtime.sessions() as s:
        rows["visits"] = (await s.execute(text("SELECT notes FROM visits WHERE case_id = :a"), {"a": case_id})).all()
    stored = {table: [list(r) for r in rs] for table, rs in rows.items()}
    assert any(RETURN[:2] in (n or "") for (n,) in ((r[1],) for r in stored["assignments"])), stored["assignments"]
    for table, values in stored.items():
        shown += leaked(f"table {table}", values)
        for row in values:
            for value in row:
                flat = value if isinstance(value, str) or value is None else json.dumps(value, ensure_ascii=False)
                assert flat is None or not contains_pii(flat), (table, flat)
    assert not shown, "\n".join(shown)


def _refused_naming(r: httpx.Response, field: str, codes: tuple[str, ...] = ("text_forbidden_char",)) -> None:
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert any(e["field"] == field and e["code"] in codes for e in detail), detail
    assert all(e["message"] for e in detail)


async def test_a_character_xml_cannot_carry_is_a_422_naming_the_field(loop: Loop, place: list[str]) -> None:
    vt = "暖气\x0b不热"
    r = await loop.intake.http.post(
        "/v1/grid-reports", json={"household_id": place[0], "description": vt}, headers=loop.auth("GW-01")
    )
    _refused_naming(r, "description")
    r = await loop.intake.http.post(
        "/v1/visits",
        json={"household_id": place[0], "residents_reached": 1, "findings": [{"description": vt}]},
        headers=loop.auth("GW-01"),
    )
    _refused_naming(r, "findings.0.description")
    order = {"order_no": f"GD{uuid.uuid4().hex[:12].upper()}", "household_id": place[0], "content": vt}
    raw = json.dumps(order).encode()
    headers = signed_headers(DEV_HOTLINE_INTEGRATION, DEV_HOTLINE_SECRET, raw) | {"Content-Type": "application/json"}
    _refused_naming(await loop.intake.http.post("/hotline/v1/orders", content=raw, headers=headers), "content")
    # U+FFFF sent as a JSON escape is refused the same way; a lone surrogate pydantic refuses itself, as no string.
    for bad, codes in (('"\\uffff"', ("text_forbidden_char",)), ('"\\ud800"', ("string_unicode",))):
        content = f'{{"household_id": "{place[0]}", "description": {bad}}}'.encode()
        r = await loop.intake.http.post(
            "/v1/grid-reports", content=content, headers=loop.auth("GW-01") | {"Content-Type": "application/json"}
        )
        _refused_naming(r, "description", codes)

    # Dispatch and follow-up refuse before looking the object up: no assignment or visit is needed.
    for path, body, field in (
        ("/v1/assignments/A-none/progress", {"note": vt}, "note"),
        ("/v1/assignments/A-none/resolve", {"action_taken": vt}, "action_taken"),
        ("/v1/assignments/A-none/return", {"reason": "not_our_equipment", "note": vt}, "note"),
        ("/v1/assignments/A-none/extensions", {"reason": vt, "resolve_due": "2026-12-10T18:00:00+08:00"}, "reason"),
    ):
        _refused_naming(await loop.dispatch.http.post(path, json=body, headers=loop.auth("U-HEAT-1")), field)
    r = await loop.dispatch.http.post(
        "/v1/extensions/E-none/decision", json={"approved": True, "note": vt}, headers=loop.auth("TF-JYG")
    )
    _refused_naming(r, "note")
    r = await loop.followup.http.post(
        "/v1/visits/V-none/record",
        json={"room_temps_c": [20.0], "satisfaction": "satisfied", "notes": vt},
        headers=loop.auth("GW-01"),
    )
    _refused_naming(r, "notes")
    r = await loop.followup.http.post(
        "/v1/spot-checks/SC-none/record", json={"room_temps_c": [20.0], "notes": vt}, headers=loop.auth("TF-JYG")
    )
    _refused_naming(r, "notes")
    household = {"id": "H-X", "building_id": "B-X", "unit_no": "1", "room": "1", "resident_name": "李\x0b"}
    r = await loop.intake.http.put("/admin/registry", json={"households": [household]}, headers=ADMIN)
    _refused_naming(r, "households.0.resident_name")


def _migration(service: str, name: str) -> Any:
    path = ROOT / "services" / service / "migrations" / "versions" / name
    spec = importlib.util.spec_from_file_location(f"migration_{service}_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def _migrate(svc: Any, module: Any) -> None:
    """Runs a migration's upgrade() on the service's database, as alembic would (op.get_bind(): a connection)."""
    async with svc.runtime.sessions() as s, s.begin():

        def run(sync: Any) -> None:
            module.op = SimpleNamespace(get_bind=sync.connection)
            module.upgrade()

        await s.run_sync(run)


async def _snapshot(loop: Loop, case_id: str, ids: dict[str, str]) -> dict[str, Any]:
    """Every stored text the three data migrations redact, for the rows seeded below."""
    out: dict[str, Any] = {}
    async with loop.dispatch.runtime.sessions() as s:
        out["assignment"] = tuple(
            (
                await s.execute(
                    text("SELECT action_taken, return_note FROM assignments WHERE id = :a"), {"a": ids["assignment"]}
                )
            ).one()
        )
        out["assignment_photos"] = (
            await s.execute(text("SELECT photo_refs FROM assignments WHERE id = :a"), {"a": ids["assignment"]})
        ).scalar_one()
        out["extension"] = tuple(
            (
                await s.execute(
                    text("SELECT reason, decision_note FROM extensions WHERE id = :e"), {"e": ids["extension"]}
                )
            ).one()
        )
        out["events"] = sorted(
            json.dumps(d, ensure_ascii=False, sort_keys=True)
            for d in (
                await s.execute(
                    text(
                        "SELECT detail FROM case_events"
                        " WHERE case_id = :c AND kind IN ('progress', 'extension_requested')"
                    ),
                    {"c": case_id},
                )
            )
            .scalars()
            .all()
        )
    async with loop.intake.runtime.sessions() as s:
        out["description"] = (
            await s.execute(text("SELECT description FROM reports WHERE case_id = :c"), {"c": case_id})
        ).scalar_one()
        out["report_photos"] = (
            await s.execute(text("SELECT photo_refs FROM reports WHERE case_id = :c"), {"c": case_id})
        ).scalar_one()
        out["findings"] = (
            await s.execute(text("SELECT findings FROM household_visits WHERE id = :v"), {"v": ids["household_visit"]})
        ).scalar_one()
    async with loop.followup.runtime.sessions() as s:
        out["visit"] = (
            await s.execute(text("SELECT notes FROM visits WHERE id = :v"), {"v": ids["visit"]})
        ).scalar_one()
        out["spot_check"] = (
            await s.execute(text("SELECT notes FROM spot_checks WHERE id = :v"), {"v": ids["spot_check"]})
        ).scalar_one()
        out["visit_photos"] = (
            await s.execute(text("SELECT photo_refs FROM visits WHERE id = :v"), {"v": ids["visit"]})
        ).scalar_one()
        out["spot_check_photos"] = (
            await s.execute(text("SELECT photo_refs FROM spot_checks WHERE id = :v"), {"v": ids["spot_check"]})
        ).scalar_one()
    return out


# Photo references were any text before PhotoRef: a file name carrying a resident's number.
PHOTOS = json.dumps(["photo://sim/1.jpg", "13800004567.jpg"])


async def test_the_data_migrations_redact_what_was_stored_before(loop: Loop, place: list[str]) -> None:
    """Rows written as they were before the edge redacted (set here by SQL, one for every column each migration
    redacts: assignments, extensions and the timeline in dispatch; reports and household visits in intake; return
    visits and spot checks in follow-up; the photo references of all four) come out redacted, and a second run
    changes nothing."""
    case_id, a = await case_of(loop, place[0], "cold_room", "卧室不热", "U-HEAT-1")
    sfx = uuid.uuid4().hex[:8]
    ids = {
        "assignment": a,
        "extension": f"E-MIG-{sfx}",
        "household_visit": f"HV-MIG-{sfx}",
        "visit": f"V-MIG-{sfx}",
        "spot_check": f"SC-MIG-{sfx}",
    }
    now = datetime.now(UTC)
    async with loop.dispatch.runtime.sessions() as s, s.begin():
        await s.execute(
            text(
                "UPDATE assignments SET action_taken = :t, return_note = :n, photo_refs = CAST(:p AS jsonb)"
                " WHERE id = :a"
            ),
            {"t": ACTION, "n": RETURN, "p": PHOTOS, "a": a},
        )
        await s.execute(
            text(
                "INSERT INTO extensions (id, assignment_id, case_id, unit_id, street_id, reason,"
                " requested_resolve_due, status, requested_at, decided_by, decided_at, decision_note)"
                " VALUES (:id, :a, :c, 'U-HEAT-1', 'ST-LK', :r, :due, 'refused', :at, 'TF-LK', :at, :d)"
            ),
            {"id": ids["extension"], "a": a, "c": case_id, "r": REASON, "d": DECISION, "due": now, "at": now},
        )
        for kind, detail in (
            ("progress", {"assignment_id": a, "note": PROGRESS}),
            ("extension_requested", {"extension_id": ids["extension"], "reason": REASON}),
        ):
            await s.execute(
                text(
                    "INSERT INTO case_events (case_id, kind, actor, at, detail)"
                    " VALUES (:c, :k, 'U-HEAT-1', now(), CAST(:d AS jsonb))"
                ),
                {"c": case_id, "k": kind, "d": json.dumps(detail, ensure_ascii=False)},
            )
    async with loop.intake.runtime.sessions() as s, s.begin():
        await s.execute(
            text("UPDATE reports SET description = :d, photo_refs = CAST(:p AS jsonb) WHERE case_id = :c"),
            {
                "p": PHOTOS,
                "d": f"{RESIDENT}反映卧室不热，手机{RESIDENT_PHONE[:3]}．{RESIDENT_PHONE[3:7]}．{RESIDENT_PHONE[7:]}",
                "c": case_id,
            },
        )
        home = (await s.execute(text("SELECT building_id FROM households WHERE id = :h"), {"h": place[0]})).scalar_one()
        findings = [
            # Only the registry knows this resident: no introducer, no honorific before the name.
            {"category": "cold_room", "description": f"入户见到{RESIDENT}本人，卧室14度，电话{RESIDENT_PHONE}"},
            {"category": "leak", "description": "阀门滴水"},
        ]
        await s.execute(
            text(
                "INSERT INTO household_visits (id, household_id, building_id, grid_id, grid_worker_id, visited_at,"
                " residents_reached, problem_found, findings, report_ids)"
                " VALUES (:id, :h, :b, 'G-PHN-01', 'GW-01', :at, 1, true, CAST(:f AS jsonb), '[]'::jsonb)"
            ),
            {
                "id": ids["household_visit"],
                "h": place[0],
                "b": home,
                "at": now,
                "f": json.dumps(findings, ensure_ascii=False),
            },
        )
    async with loop.followup.runtime.sessions() as s, s.begin():
        common = {
            "c": case_id,
            "h": place[0],
            "at": now,
            "units": json.dumps(["U-HEAT-1"]),
        }
        await s.execute(
            text(
                "INSERT INTO visits (id, case_id, round, target, category, household_id, building_id, grid_id,"
                " community_id, street_id, district_id, unit_ids, resolved_at, due_at, standard_c, status, attempts,"
                " attempt_log, unreached, notes, photo_refs)"
                " VALUES (:id, :c, 99, :h, 'cold_room', :h, 'B-MIG', 'G-PHN-01', 'CM-LK', 'ST-LK', 'D-1',"
                " CAST(:units AS jsonb), :at, :at, 18.0, 'closed', 0, '[]'::jsonb, false, :n, CAST(:p AS jsonb))"
            ),
            {**common, "id": ids["visit"], "n": VISIT, "p": PHOTOS},
        )
        await s.execute(
            text(
                "INSERT INTO spot_checks (id, street_id, district_id, community_id, week, case_id, round,"
                " household_id, building_id, unit_ids, closed_at, standard_c, drawn_at, status, record_mismatch,"
                " notes, photo_refs)"
                " VALUES (:id, 'ST-LK', 'D-1', 'CM-LK', '2026-W49', :c, 99, :h, 'B-MIG', CAST(:units AS jsonb), :at,"
                " 18.0, :at, 'failed', true, :n, CAST(:p AS jsonb))"
            ),
            {**common, "id": ids["spot_check"], "n": f"抽核：{PROGRESS}", "p": PHOTOS},
        )
    before = await _snapshot(loop, case_id, ids)
    dispatch = _migration("dispatch", "0004_redact_stored_free_text.py")
    intake = _migration("intake", "0004_redact_stored_free_text.py")
    followup = _migration("followup", "0003_redact_stored_free_text.py")
    await _migrate(loop.dispatch, dispatch)
    await _migrate(loop.intake, intake)
    await _migrate(loop.followup, followup)
    after = await _snapshot(loop, case_id, ids)
    for module, svc in ((dispatch, loop.dispatch), (intake, loop.intake), (followup, loop.followup)):
        await _migrate(svc, module)
    assert await _snapshot(loop, case_id, ids) == after, "a second run changed what the first left"

    # Every seeded column was changed, and holds nothing personal now.
    changed = {k for k in before if before[k] != after[k]}
    assert changed == set(before), f"not redacted: {set(before) - changed}"
    assert not leaked("migrated", after), after
    assert after["assignment"] == (
        f"电话{PHONE_MASK}联系居民后上门排气",
        f"经业主{NAME_MASK}{PHONE_MASK}确认为自装管道",
    )
    assert after["extension"] == (
        f"居民{NAME_MASK}（{PHONE_MASK}）不在家，需延期",
        f"经与户主{NAME_MASK} {PHONE_MASK} 确认，同意延期",
    ), after["extension"]
    notes = [json.loads(e) for e in after["events"]]
    assert sorted(n.get("note") or n.get("reason") for n in notes) == sorted(
        ["已联系业主[姓名已隐去]，手机[电话已隐去]，约好下午上门", f"居民{NAME_MASK}（{PHONE_MASK}）不在家，需延期"]
    ), notes
    assert after["description"] == f"居民反映卧室不热，手机{PHONE_MASK}", after["description"]
    assert after["findings"] == [
        {"category": "cold_room", "description": f"入户见到居民本人，卧室14度，电话{PHONE_MASK}"},
        {"category": "leak", "description": "阀门滴水"},
    ], after["findings"]
    assert after["visit"] == f"居民{NAME_MASK}表示满意，电话{PHONE_MASK}", after["visit"]
    assert after["spot_check"] == "抽核：已联系业主[姓名已隐去]，手机[电话已隐去]，约好下午上门", after["spot_check"]
    for key in ("assignment_photos", "report_photos", "visit_photos", "spot_check_photos"):
        assert after[key] == ["photo://sim/1.jpg", f"{PHONE_MASK}.jpg"], (key, after[key])
    for value in after.values():
        flat = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        assert not contains_pii(flat, names=[RESIDENT]), flat
