"""Grouping on the real loop: a burst pipe reported by 10 households plus one unrelated report make 2 incidents
(2 cases in dispatch), every reporter of the incident hears its status and closure; an outage at a substation
absorbs the cold-room reports of the buildings it feeds; the same household and category attach while open."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from services.dispatch.models import CaseReport
from services.intake import feedback
from services.intake.models import Report, ReportGroup
from services.intake.models import outbox as intake_outbox
from shared.settings import DEV_ADMIN_TOKEN
from tests.harness import wait_until
from tests.integration.conftest import Loop

ADMIN = {"X-Admin-Token": DEV_ADMIN_TOKEN}


def building(bid: str, substation: str | None) -> dict[str, Any]:
    return {"id": bid, "name": f"测试{bid}", "compound_id": "CP-LK", "grid_id": "G-PHN-01", "substation_id": substation}


def household(hid: str, bid: str) -> dict[str, Any]:
    return {"id": hid, "building_id": bid, "unit_no": "1", "room": hid[-3:]}


async def register(
    loop: Loop, buildings: list[dict[str, Any]], households: list[dict[str, Any]], substations: tuple[str, ...] = ()
) -> None:
    areas = [{"id": s, "kind": "substation", "name": f"测试换热站{s}", "parent_id": None} for s in substations]
    r = await loop.intake.http.put(
        "/admin/registry", json={"areas": areas, "buildings": buildings, "households": households}, headers=ADMIN
    )
    assert r.status_code == 200, r.text


async def report(loop: Loop, hid: str, description: str, category: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"household_id": hid, "description": description}
    if category:
        body["category"] = category
    r = await loop.intake.http.post("/v1/grid-reports", json=body, headers=loop.auth("GW-01"))
    assert r.status_code == 201, r.text
    return dict(r.json())


async def reports(loop: Loop, ids: list[str]) -> list[Report]:
    async with loop.intake.runtime.sessions() as s:
        return list((await s.scalars(select(Report).where(Report.id.in_(ids)))).all())


async def events_of(loop: Loop, ids: list[str]) -> dict[str, int]:
    async with loop.intake.runtime.sessions() as s:
        rows = await s.execute(
            select(intake_outbox.c.event_type, func.count())
            .where(intake_outbox.c.value["payload"]["report_id"].astext.in_(ids))
            .group_by(intake_outbox.c.event_type)
        )
        return {t: n for t, n in rows}


async def statuses(loop: Loop, ids: list[str]) -> set[str]:
    return {r.status for r in await reports(loop, ids)}


async def assignments_of(loop: Loop, case_id: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for who in [w for w in loop.tokens if w.startswith("U-")]:
        r = await loop.dispatch.http.get("/v1/assignments", headers=loop.auth(who))
        found += [(who, a) for a in r.json() if a["case_id"] == case_id]
    return found


async def test_a_burst_reported_by_ten_households_and_one_unrelated_report_make_two_incidents(loop: Loop) -> None:
    burst_homes = [f"H-IT-BURST-{i:03d}" for i in range(1, 11)]
    await register(
        loop,
        [building("B-IT-BURST", "SS-01"), building("B-IT-OTHER", "SS-01")],
        [household(h, "B-IT-BURST") for h in [*burst_homes, "H-IT-BURST-011"]]
        + [household("H-IT-OTHER-001", "B-IT-OTHER")],
    )
    wordings = ["楼道主管道爆管，水漫出来了", "管道破裂，一直喷水", "楼下爆管了", "地下室管子爆了"]
    burst = await asyncio.gather(*(report(loop, h, wordings[i % len(wordings)]) for i, h in enumerate(burst_homes)))
    unrelated = await report(loop, "H-IT-OTHER-001", "卫生间暖气片滴水")
    assert {r["category"] for r in burst} == {"burst_pipe"} and unrelated["category"] == "leak"
    burst_ids = [r["id"] for r in burst]
    all_ids = [*burst_ids, unrelated["id"]]

    groups = {r.group_id for r in await reports(loop, all_ids)}
    assert len(groups) == 2, "ten burst reports are one incident, the leak another"
    assert len({r.group_id for r in await reports(loop, burst_ids)}) == 1
    assert await events_of(loop, all_ids) == {"ComplaintReported": 2, "ComplaintGrouped": 9}

    # dispatch opens exactly two cases; every burst report is linked to its incident's case
    async def dispatch_cases() -> set[str]:
        async with loop.dispatch.runtime.sessions() as s:
            return set((await s.scalars(select(CaseReport.case_id).where(CaseReport.report_id.in_(all_ids)))).all())

    cases = await wait_until("two cases in dispatch", lambda: _len(dispatch_cases(), 2), timeout=60)
    assert len(cases) == 2

    async def linked() -> set[str | None] | None:
        found = {r.case_id for r in await reports(loop, burst_ids)}
        return found if None not in found else None

    [burst_case] = await wait_until("every burst report linked to the case", linked, timeout=60)
    assert burst_case in cases

    # dispatch hears the nine grouped reports too: one case of ten households, not a one-flat problem
    async def case_of(households: int) -> Any:
        c = (await loop.dispatch.http.get(f"/v1/cases/{burst_case}", headers=loop.auth("TF-JYG"))).json()
        return c if c["affected_households"] == households else None

    case = await wait_until("ten households on the case", lambda: case_of(10), timeout=60)
    assert sorted(case["report_ids"]) == sorted(burst_ids) and case["priority"] == "emergency"
    await wait_until("all ten dispatched", lambda: _eq(statuses(loop, burst_ids), {"dispatched"}), timeout=60)

    # the units act once for the incident; all ten reporters hear it
    todo = await wait_until("assignments for the burst", lambda: assignments_of(loop, burst_case), timeout=60)
    for who, a in todo:
        assert (
            await loop.dispatch.http.post(f"/v1/assignments/{a['id']}/sign-in", headers=loop.auth(who))
        ).status_code == 200
    await wait_until("all ten signed in", lambda: _eq(statuses(loop, burst_ids), {"signed_in"}), timeout=60)
    # an eleventh household calls now: it joins the incident in hand and is told where it stands at once
    late = await report(loop, "H-IT-BURST-011", "我家楼下也爆管了")
    assert late["status"] == "signed_in" and late["case_id"] == burst_case and late["group_id"] == burst[0]["group_id"]
    lead = next(r for r in await reports(loop, burst_ids) if r.agency)
    [late_row] = await reports(loop, [late["id"]])
    assert late_row.agency == lead.agency and late_row.expected_at == lead.expected_at
    assert late_row.handling == lead.handling == {"U-HEAT-1": "heating_company", "U-PM-1": "property_manager"}
    # the public status view tells the deadline and the kinds of unit handling it, never which unit or who
    public = (await loop.intake.http.get(f"/v1/public/reports/{late['id']}")).json()
    assert public["handling_unit_types"] == ["heating_company", "property_manager"]
    assert public["handled_by"] == "供热企业、物业"
    assert public["expected_at"] and datetime.fromisoformat(public["expected_at"]) == lead.expected_at
    shown = json.dumps(public, ensure_ascii=False)
    assert "U-HEAT-1" not in shown and "U-PM-1" not in shown and "供热公司" not in shown and "安居" not in shown
    await wait_until("the eleventh household on the case", lambda: case_of(11), timeout=60)
    burst_ids.append(late["id"])
    for who, a in todo:
        await loop.dispatch.http.post(f"/v1/assignments/{a['id']}/arrive", headers=loop.auth(who))
        r = await loop.dispatch.http.post(
            f"/v1/assignments/{a['id']}/resolve",
            json={"action_taken": "更换破裂管段", "measured_temp_c": 20.0},
            headers=loop.auth(who),
        )
        assert r.status_code == 200, r.text
    await wait_until("all ten resolved", lambda: _eq(statuses(loop, burst_ids), {"resolved"}), timeout=60)

    async def return_visit() -> Any:
        r = await loop.followup.http.get("/v1/visits", headers=loop.auth("GW-01"))
        return next((v for v in r.json() if v["case_id"] == burst_case), None)

    visit = await wait_until("the return visit", return_visit, timeout=60)
    r = await loop.followup.http.post(
        f"/v1/visits/{visit['id']}/record",
        json={"room_temps_c": [20.5, 19.8], "satisfaction": "satisfied"},
        headers=loop.auth("GW-01"),
    )
    assert r.status_code == 200, r.text
    await wait_until("all eleven closed", lambda: _eq(statuses(loop, burst_ids), {"closed"}), timeout=60)
    for rid in burst_ids:
        timeline = (await loop.intake.http.get(f"/v1/public/reports/{rid}")).json()["timeline"]
        assert [e["status"] for e in timeline][-1] == "closed"
        assert "signed_in" in {e["status"] for e in timeline}
    async with loop.intake.runtime.sessions() as s:
        [group] = (await s.scalars(select(ReportGroup).where(ReportGroup.case_id == burst_case))).all()
        assert not group.accepting and group.report_count == 11 and group.status == "closed"
    incident = (await loop.intake.http.get(f"/admin/incidents/{group.id}", headers=ADMIN)).json()
    assert sorted(incident["report_ids"]) == sorted(burst_ids)

    # the incident is closed: a new burst in the building is a new incident
    later = await report(loop, burst_homes[0], "又爆管了")
    assert (await reports(loop, [later["id"]]))[0].group_id != group.id


async def test_a_substation_outage_absorbs_cold_rooms_it_feeds_and_households_attach_while_open(loop: Loop) -> None:
    await register(
        loop,
        [
            building("B-IT-SS-1", "SS-IT-OUT"),
            building("B-IT-SS-2", "SS-IT-OUT"),
            building("B-IT-SS-3", "SS-IT-OUT"),
            building("B-IT-SSX", "SS-IT-ELSE"),
        ],
        [
            household("H-IT-SS1-101", "B-IT-SS-1"),
            household("H-IT-SS2-101", "B-IT-SS-2"),
            household("H-IT-SS3-101", "B-IT-SS-3"),
            household("H-IT-SSX-101", "B-IT-SSX"),
        ],
        substations=("SS-IT-OUT", "SS-IT-ELSE"),
    )
    first = await report(loop, "H-IT-SS1-101", "整栋楼停暖了")
    second = await report(loop, "H-IT-SS2-101", "我们楼也没暖气")
    absorbed = await report(loop, "H-IT-SS3-101", "家里暖气不热")
    elsewhere = await report(loop, "H-IT-SSX-101", "家里暖气不热")
    again = await report(loop, "H-IT-SSX-101", "还是不热，温度低")
    leak = await report(loop, "H-IT-SSX-101", "暖气片漏水")
    got = {r.id: r for r in await reports(loop, [x["id"] for x in (first, second, absorbed, elsewhere, again, leak)])}
    outage_group = got[first["id"]].group_id
    assert got[second["id"]].group_id == outage_group
    assert got[absorbed["id"]].group_id == outage_group, "the substation's outage absorbs the cold room"
    assert absorbed["status"] == got[first["id"]].status or absorbed["status"] in {"accepted", "dispatched"}
    assert absorbed["status"] != "grouped", "a grouped report shows the incident's status"
    assert got[elsewhere["id"]].group_id != outage_group
    assert got[again["id"]].group_id == got[elsewhere["id"]].group_id, "same household and category attach"
    assert got[leak["id"]].group_id not in {outage_group, got[elsewhere["id"]].group_id}
    ids = [first["id"], second["id"], absorbed["id"]]
    assert await events_of(loop, ids) == {"ComplaintReported": 1, "ComplaintGrouped": 2}
    grouped_timeline = (await loop.intake.http.get(f"/v1/public/reports/{absorbed['id']}")).json()["timeline"]
    assert [e["status"] for e in grouped_timeline][:2] == ["accepted", "grouped"]

    # a quiet spell longer than the window: the next outage report opens a new incident
    async with loop.intake.runtime.sessions() as s, s.begin():
        await s.execute(
            update(ReportGroup)
            .where(ReportGroup.id == outage_group)
            .values(last_report_at=func.now() - timedelta(hours=7))
        )
    late = await report(loop, "H-IT-SS2-101", "又停暖了")
    assert (await reports(loop, [late["id"]]))[0].group_id != outage_group
    async with loop.intake.runtime.sessions() as s:
        old = await s.get(ReportGroup, outage_group)
        assert old is not None and not old.accepting


async def test_a_report_joining_after_the_closure_happened_but_before_intake_heard_of_it_is_closed_too(
    loop: Loop,
) -> None:
    """The closure is decided at follow-up at t; a report joins the incident just after t, before intake consumed
    CaseClosed. The closure is news to that report too: it must end closed, with the incident."""
    await register(loop, [building("B-IT-LATE", None)], [household("H-IT-LATE-101", "B-IT-LATE")])
    lead = await report(loop, "H-IT-LATE-101", "家里暖气不热")
    case_id = await wait_until("a case for the lead report", lambda: _case_of(loop, lead["id"]))
    joined = await report(loop, "H-IT-LATE-101", "还是不热")
    got = {r.id: r for r in await reports(loop, [lead["id"], joined["id"]])}
    assert got[joined["id"]].group_id == got[lead["id"]].group_id and got[joined["id"]].case_id == case_id
    dispatched_at = got[lead["id"]].status_at
    assert dispatched_at is not None and got[joined["id"]].status_at == dispatched_at
    # decided after the dispatch the report joined into, before the report came
    closed_at = dispatched_at + (got[joined["id"]].reported_at - dispatched_at) / 2

    async with loop.intake.runtime.sessions() as s, s.begin():
        told = await feedback.set_case_status(s, case_id=case_id, status="closed", at=closed_at, calls_back=frozenset())
    assert told == 2
    got = {r.id: r for r in await reports(loop, [lead["id"], joined["id"]])}
    assert {r.status for r in got.values()} == {"closed"}
    # and a stale fact arriving after it moves nothing
    async with loop.intake.runtime.sessions() as s, s.begin():
        await feedback.set_case_status(
            s, case_id=case_id, status="resolved", at=closed_at - timedelta(seconds=5), calls_back=frozenset()
        )
    assert await statuses(loop, [lead["id"], joined["id"]]) == {"closed"}
    async with loop.intake.runtime.sessions() as s:
        group = await s.get(ReportGroup, got[lead["id"]].group_id)
        assert group is not None and not group.accepting and group.status == "closed"


async def test_the_public_view_follows_the_units_and_an_approved_extension(loop: Loop) -> None:
    await register(loop, [building("B-IT-PUB", "SS-01")], [household("H-IT-PUB-001", "B-IT-PUB")])
    lead = await report(loop, "H-IT-PUB-001", "家里暖气片不热，室温只有15度", category="cold_room")
    public = (await loop.intake.http.get(f"/v1/public/reports/{lead['id']}")).json()
    assert (public["expected_at"], public["handling_unit_types"], public["handled_by"]) == (None, [], None)

    case_id = await wait_until("the case", lambda: _case_of(loop, lead["id"]), timeout=60)
    [(who, a)] = await wait_until("the heating company's assignment", lambda: assignments_of(loop, case_id), timeout=60)
    assert who == "U-HEAT-1"

    async def shown(expected_at: str) -> Any:
        view = (await loop.intake.http.get(f"/v1/public/reports/{lead['id']}")).json()
        due = view["expected_at"] and datetime.fromisoformat(view["expected_at"])
        return view if due == datetime.fromisoformat(expected_at) else None

    view = await wait_until("the deadline in the public view", lambda: shown(a["resolve_due"]), timeout=60)
    assert view["handling_unit_types"] == ["heating_company"] and view["handled_by"] == "供热企业"
    for step in ("sign-in", "arrive"):
        r = await loop.dispatch.http.post(f"/v1/assignments/{a['id']}/{step}", headers=loop.auth(who))
        assert r.status_code == 200, r.text
    later = (datetime.fromisoformat(a["resolve_due"]) + timedelta(days=2)).isoformat()
    r = await loop.dispatch.http.post(
        f"/v1/assignments/{a['id']}/extensions",
        json={"reason": "需更换户内阀门，配件后天到货", "resolve_due": later},
        headers=loop.auth(who),
    )
    assert r.status_code == 201, r.text
    r = await loop.dispatch.http.post(
        f"/v1/extensions/{r.json()['id']}/decision", json={"approved": True}, headers=loop.auth("TF-JYG")
    )
    assert r.status_code == 200, r.text
    await wait_until("the approved extension's deadline in the public view", lambda: shown(later), timeout=60)
    # 退单: the unit no longer answers for it; the street task force takes it (nobody else serves SS-01 for heat)
    r = await loop.dispatch.http.post(
        f"/v1/assignments/{a['id']}/return", json={"reason": "not_our_equipment"}, headers=loop.auth(who)
    )
    assert r.status_code == 200, r.text

    async def handled_by() -> Any:
        view = (await loop.intake.http.get(f"/v1/public/reports/{lead['id']}")).json()
        return view["handled_by"] if "供热企业" not in (view["handled_by"] or "供热企业") else None

    assert await wait_until("the task force handling it", handled_by, timeout=60) == "街道工作专班"


async def _case_of(loop: Loop, report_id: str) -> str | None:
    found = await reports(loop, [report_id])
    return found[0].case_id if found else None


async def _len(coro: Any, n: int) -> Any:
    value = await coro
    return value if len(value) == n else None


async def _eq(coro: Any, expected: Any) -> bool:
    return bool(await coro == expected)
