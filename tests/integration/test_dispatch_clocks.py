"""Dispatch on the real stack with an injected clock: joint dispatch and the escalation chain, 退单 to district
supervision, 延期 approved and refused, re-tiering, a spot-check reopen, and who may see what."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import select

from deploy.seed import registry
from services.dispatch import console, rules
from services.dispatch.config import DispatchSettings
from services.dispatch.main import create_app, timer_engine
from services.dispatch.models import Case
from shared.auth import Principal, Role, issue
from shared.clock import ManualClock
from shared.contracts.common import Category, Channel, Location, Priority, Satisfaction
from shared.contracts.followup import CaseClosed, CaseReopened, ReopenReason
from shared.contracts.intake import ComplaintReported
from shared.events import Envelope
from shared.settings import DEV_ADMIN_TOKEN, DEV_AUTH_PRIVATE_KEY
from shared.timers import TimerEngine
from shared.topics import Topics
from tests.harness import (
    KAFKA,
    SEED_HOUSEHOLD,
    InProcess,
    check_stack,
    drop_database,
    envelopes,
    fresh_database,
    new_prefix,
    read_topic,
    run_db,
    run_in_process,
    wait_until,
)

LK1 = SEED_HOUSEHOLD


@dataclass
class Desk:
    """The dispatch service in this process, its clock and its deadline engine, and a way to send it complaints."""

    svc: InProcess
    clock: ManualClock
    engine: TimerEngine
    topics: Topics
    producer: AIOKafkaProducer
    tokens: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def call(self, method: str, path: str, who: str, json: Any = None, expect: int = 200) -> Any:
        r = await self.svc.http.request(method, path, headers=self.auth(who), json=json)
        assert r.status_code == expect, r.text
        return r.json()

    async def complain(self, category: Category, priority: Priority = Priority.NORMAL, location: Location = LK1) -> str:
        report_id = f"R-{uuid.uuid4().hex[:12]}"
        env = Envelope.wrap(
            ComplaintReported(
                report_id=report_id,
                channel=Channel.GRID_REPORT,
                category=category,
                priority=priority,
                priority_resident=False,
                location=location,
                description="测试",
                reporter_kind="grid_worker",
                reporter_id="GW-01",
                reported_at=self.clock.now(),
            ),
            correlation_id=report_id,
            producer="intake",
            occurred_at=self.clock.now(),
        )
        await self.producer.send_and_wait(self.topics.complaints, env.encode(), key=b"H")

        async def case_id() -> str | None:
            async with self.svc.runtime.sessions() as s:
                from services.dispatch.models import CaseReport

                return await s.scalar(select(CaseReport.case_id).where(CaseReport.report_id == report_id))

        found: str = await wait_until(f"a case for {report_id}", case_id)
        return found

    async def verdict(self, payload: CaseClosed | CaseReopened) -> None:
        env = Envelope.wrap(payload, correlation_id=payload.case_id, producer="followup", occurred_at=self.clock.now())
        await self.producer.send_and_wait(self.topics.followup, env.encode(), key=payload.case_id.encode())

    async def assignments(self, who: str, case_id: str) -> list[dict[str, Any]]:
        return [a for a in await self.call("GET", "/v1/assignments", who) if a["case_id"] == case_id]

    async def case(self, case_id: str, who: str = "TF-JYG") -> dict[str, Any]:
        return await self.call("GET", f"/v1/cases/{case_id}", who)  # type: ignore[no-any-return]

    async def fire_due(self) -> int:
        total = 0
        while fired := await self.engine.run_once():
            total += fired
        return total

    async def events(self, case_id: str, until: Any) -> list[Envelope]:
        records = await read_topic(
            self.topics.cases, until=lambda rs: until([e for e in envelopes(rs) if e.correlation_id == case_id])
        )
        return [e for e in envelopes(records) if e.correlation_id == case_id]


@pytest.fixture(scope="module")
async def desk() -> AsyncIterator[Desk]:
    await check_stack()
    prefix = new_prefix("dispatch")
    db = run_db("dispatch_clocks")
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    settings = DispatchSettings(
        database_url=await fresh_database(db),
        kafka_bootstrap=KAFKA,
        kafka_topic_prefix=prefix,
        environment="test",
        run_timers=False,
    )
    doc = registry.read()
    tokens = registry.tokens(doc, DEV_AUTH_PRIVATE_KEY)
    tokens["TF-OTHER"] = issue(Principal(role=Role.TASK_FORCE, sub="TF-OTHER", scope="S-OTHER"), DEV_AUTH_PRIVATE_KEY)
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True, acks="all")
    await producer.start()
    async with run_in_process(create_app(settings, clock=clock)) as svc:
        r = await svc.http.put(
            "/admin/units", json=registry.dispatch_units(doc), headers={"X-Admin-Token": DEV_ADMIN_TOKEN}
        )
        r.raise_for_status()
        engine = timer_engine(svc.runtime, svc.runtime.writer(settings.topics.cases), clock)
        yield Desk(svc, clock, engine, settings.topics, producer, tokens)
    await producer.stop()
    await drop_database(db)


def escalations(events: list[Envelope]) -> list[tuple[str | None, str, str]]:
    return [
        (e.payload["unit_id"], e.payload["clock"], e.payload["level"])
        for e in events
        if e.event_type == "CaseEscalated"
    ]


async def test_joint_dispatch_one_unit_on_time_the_other_climbs_the_whole_chain(desk: Desk) -> None:
    start = desk.clock.now()
    case_id = await desk.complain(Category.BURST_PIPE)
    heat = (await desk.assignments("U-HEAT-1", case_id))[0]
    pm = (await desk.assignments("U-PM-1", case_id))[0]
    assert heat["sign_in_due"] == pm["sign_in_due"]
    sign_in_due = datetime.fromisoformat(heat["sign_in_due"])
    assert sign_in_due - start == timedelta(minutes=15)  # burst pipe: sign in within 15 min

    desk.clock.advance(timedelta(minutes=5))
    await desk.call("POST", f"/v1/assignments/{heat['id']}/sign-in", "U-HEAT-1")
    await desk.call("POST", f"/v1/assignments/{heat['id']}/arrive", "U-HEAT-1")

    # 催办 at the deadline, 通报 after half the clock again, 督办 after a whole clock (rules.yaml).
    desk.clock.set(sign_in_due + timedelta(seconds=1))
    assert await desk.fire_due() == 1
    desk.clock.set(sign_in_due + timedelta(minutes=7, seconds=31))
    assert await desk.fire_due() == 1
    desk.clock.set(sign_in_due + timedelta(minutes=15, seconds=1))
    assert await desk.fire_due() == 1
    assert await desk.fire_due() == 0, "the chain ends at supervision"

    events = await desk.events(case_id, lambda es: len(escalations(es)) >= 3)
    assert escalations(events) == [
        ("U-PM-1", "sign_in", "reminder"),
        ("U-PM-1", "sign_in", "notice"),
        ("U-PM-1", "sign_in", "supervision"),
    ]
    case = await desk.case(case_id)
    assert case["supervised"] and case["escalation_level"] == "supervision"
    assert [e["detail"]["level"] for e in case["timeline"] if e["kind"] == "escalated"] == [
        "reminder",
        "notice",
        "supervision",
    ]
    assert {a["unit_id"]: a["escalation_level"] for a in case["assignments"]} == {
        "U-HEAT-1": None,
        "U-PM-1": "supervision",
    }
    # The late unit signing in now stops its sign-in clock; its on-site clock still runs.
    await desk.call("POST", f"/v1/assignments/{pm['id']}/sign-in", "U-PM-1")
    signed = await desk.call("GET", f"/v1/assignments/{pm['id']}", "U-PM-1")
    assert signed["status"] == "signed_in" and signed["clock"] == "on_site"


async def test_three_returns_send_the_case_to_district_supervision(desk: Desk) -> None:
    case_id = await desk.complain(Category.COLD_ROOM)
    first = (await desk.assignments("U-HEAT-1", case_id))[0]
    await desk.call(
        "POST",
        f"/v1/assignments/{first['id']}/return",
        "U-HEAT-1",
        {"reason": "not_our_equipment", "note": "户内管线属物业"},
    )
    # Nobody else serves SS-01 as a heating company: the street task force takes it.
    second = (await desk.assignments("TF-JYG", case_id))[0]
    assert second["unit_type"] == "street_task_force"
    await desk.call("POST", f"/v1/assignments/{second['id']}/return", "TF-JYG", {"reason": "other"})
    third = (await desk.assignments("U-HB-CG", case_id))[0]
    case = await desk.case(case_id)
    assert case["bounce_count"] == 2 and not case["supervised"]
    await desk.call("POST", f"/v1/assignments/{third['id']}/return", "U-HB-CG", {"reason": "not_our_area"})

    case = await desk.case(case_id)
    assert case["bounce_count"] == 3 and case["supervised"] and case["escalation_level"] == "supervision"
    supervised = [a for a in case["assignments"] if a["status"] == "dispatched"]
    assert [a["unit_id"] for a in supervised] == ["U-HB-CG"], "under 督办 the district bureau holds the case"
    events = await desk.events(case_id, lambda es: any(e.event_type == "CaseEscalated" for e in es))
    returned = [e.payload for e in events if e.event_type == "AssignmentReturned"]
    assert [(r["unit_id"], r["bounce_count"]) for r in returned] == [("U-HEAT-1", 1), ("U-TF-JYG", 2), ("U-HB-CG", 3)]
    assert escalations(events) == [(None, "bounces", "supervision")]


async def test_an_approved_extension_moves_the_deadline_and_a_refused_one_does_not(desk: Desk) -> None:
    approved_case = await desk.complain(Category.COLD_ROOM)
    refused_case = await desk.complain(Category.COLD_ROOM)
    a_ok = (await desk.assignments("U-HEAT-1", approved_case))[0]
    a_no = (await desk.assignments("U-HEAT-1", refused_case))[0]
    for a in (a_ok, a_no):
        await desk.call("POST", f"/v1/assignments/{a['id']}/sign-in", "U-HEAT-1")
        await desk.call("POST", f"/v1/assignments/{a['id']}/arrive", "U-HEAT-1")
    old_due = datetime.fromisoformat(a_ok["resolve_due"])
    later = (old_due + timedelta(days=3)).isoformat()
    ext_ok = await desk.call(
        "POST",
        f"/v1/assignments/{a_ok['id']}/extensions",
        "U-HEAT-1",
        {"reason": "主管道更换", "resolve_due": later},
        expect=201,
    )
    ext_no = await desk.call(
        "POST",
        f"/v1/assignments/{a_no['id']}/extensions",
        "U-HEAT-1",
        {"reason": "人手不足", "resolve_due": later},
        expect=201,
    )
    await desk.call(
        "POST",
        f"/v1/assignments/{a_ok['id']}/extensions",
        "U-HEAT-1",
        {"reason": "再次申请", "resolve_due": later},
        expect=409,
    )
    pending = {e["id"] for e in await desk.call("GET", "/v1/extensions", "TF-JYG")}
    assert {ext_ok["id"], ext_no["id"]} <= pending
    assert await desk.call("GET", "/v1/extensions", "TF-OTHER") == []
    await desk.call("POST", f"/v1/extensions/{ext_ok['id']}/decision", "TF-OTHER", {"approved": True}, expect=404)
    await desk.call("POST", f"/v1/extensions/{ext_ok['id']}/decision", "U-HEAT-1", {"approved": True}, expect=404)

    decided = await desk.call("POST", f"/v1/extensions/{ext_ok['id']}/decision", "TF-JYG", {"approved": True})
    assert decided["status"] == "approved"
    await desk.call(
        "POST", f"/v1/extensions/{ext_no['id']}/decision", "TF-JYG", {"approved": False, "note": "请按期办结"}
    )
    await desk.call("POST", f"/v1/extensions/{ext_no['id']}/decision", "TF-JYG", {"approved": True}, expect=409)

    assert (await desk.call("GET", f"/v1/assignments/{a_ok['id']}", "U-HEAT-1"))[
        "resolve_due"
    ] == datetime.fromisoformat(later).astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert (await desk.call("GET", f"/v1/assignments/{a_no['id']}", "U-HEAT-1"))["resolve_due"] == a_no["resolve_due"]

    desk.clock.set(old_due + timedelta(seconds=1))
    await desk.fire_due()
    ok_events = await desk.events(approved_case, lambda es: any(e.event_type == "ExtensionDecided" for e in es))
    no_events = await desk.events(refused_case, lambda es: any(e.event_type == "CaseEscalated" for e in es))
    assert ("U-HEAT-1", "resolve", "reminder") in escalations(no_events)
    assert not [x for x in escalations(ok_events) if x[1] == "resolve"], "the approved extension moved the clock"
    decided_payload = next(e.payload for e in ok_events if e.event_type == "ExtensionDecided")
    assert decided_payload["approved"] is True
    assert datetime.fromisoformat(decided_payload["resolve_due"]) == datetime.fromisoformat(later)


async def test_a_closed_case_failing_its_spot_check_starts_a_new_round(desk: Desk) -> None:
    case_id = await desk.complain(Category.COLD_ROOM)
    a = (await desk.assignments("U-HEAT-1", case_id))[0]
    for step in ("sign-in", "arrive"):
        await desk.call("POST", f"/v1/assignments/{a['id']}/{step}", "U-HEAT-1")
    await desk.call("POST", f"/v1/assignments/{a['id']}/resolve", "U-HEAT-1", {"action_taken": "更换阀门"})
    now = desk.clock.now()
    await desk.verdict(
        CaseClosed(case_id=case_id, round=1, min_temp_c=19.0, satisfaction=Satisfaction.SATISFIED, closed_at=now)
    )
    await wait_until("case closed", lambda: _status(desk, case_id, "closed"))
    await desk.verdict(
        CaseReopened(
            case_id=case_id,
            round=1,
            reason=ReopenReason.SPOT_CHECK_FAILED,
            min_temp_c=16.5,
            satisfaction=None,
            reopened_at=now,
        )
    )
    await wait_until("round 2", lambda: _status(desk, case_id, "assigned"))
    case = await desk.case(case_id)
    assert case["round"] == 2 and case["redo_count"] == 1 and case["priority"] == "urgent"
    assert [(x["round"], x["unit_id"]) for x in case["assignments"]] == [(1, "U-HEAT-1"), (2, "U-HEAT-1")]
    # A stale verdict for round 1 changes nothing now.
    await desk.verdict(CaseClosed(case_id=case_id, round=1, min_temp_c=20, satisfaction=None, closed_at=now))
    events = await desk.events(case_id, lambda es: sum(e.event_type == "CaseAssigned" for e in es) >= 2)
    assert next(e.payload for e in events if e.event_type == "CaseRoundStarted")["reason"] == "spot_check_failed"
    assert (await desk.case(case_id))["status"] == "assigned"


async def _status(desk: Desk, case_id: str, status: str) -> bool:
    async with desk.svc.runtime.sessions() as s:
        case = await s.get(Case, case_id)
        return case is not None and case.status == status


async def test_retiering_withdraws_the_round_and_routes_for_the_new_tier(desk: Desk) -> None:
    case_id = await desk.complain(Category.FEE_DISPUTE)
    case = await desk.case(case_id)
    assert case["tier"] == "complex"
    assert (await desk.assignments("TF-JYG", case_id))[0]["unit_type"] == "street_task_force"
    await desk.call("POST", f"/v1/cases/{case_id}/tier", "TF-OTHER", {"tier": "minor"}, expect=404)
    await desk.call("POST", f"/v1/cases/{case_id}/tier", "TF-JYG", {"tier": "minor"})
    assert await desk.assignments("TF-JYG", case_id) == []
    grid = (await desk.assignments("GW-01", case_id))[0]
    assert grid["unit_type"] == "grid" and grid["unit_id"] == "G-PHN-01"
    await desk.call("POST", f"/v1/assignments/{grid['id']}/sign-in", "GW-01")
    await desk.call("POST", f"/v1/assignments/{grid['id']}/arrive", "GW-01")
    await desk.call("POST", f"/v1/assignments/{grid['id']}/resolve", "GW-01", {"action_taken": "现场解释收费政策"})
    assert (await desk.case(case_id))["status"] == "resolved"


async def test_nobody_sees_or_acts_on_what_is_not_theirs(desk: Desk) -> None:
    case_id = await desk.complain(Category.COLD_ROOM)
    a = (await desk.assignments("U-HEAT-1", case_id))[0]
    for who in ("U-HEAT-2", "U-PM-1", "GW-02"):
        await desk.call("GET", f"/v1/assignments/{a['id']}", who, expect=404)
        for action in ("sign-in", "arrive"):
            await desk.call("POST", f"/v1/assignments/{a['id']}/{action}", who, expect=404)
        await desk.call("POST", f"/v1/assignments/{a['id']}/resolve", who, {"action_taken": "x"}, expect=404)
        await desk.call("POST", f"/v1/assignments/{a['id']}/return", who, {"reason": "other"}, expect=404)
        await desk.call("GET", f"/v1/cases/{case_id}", who, expect=404)
        assert all(x["case_id"] != case_id for x in await desk.call("GET", "/v1/assignments", who))
    # Guessing ids: a well-formed id that does not exist answers exactly like another unit's.
    await desk.call("GET", "/v1/assignments/A-0000000000000000", "U-HEAT-1", expect=404)
    await desk.call("GET", f"/v1/cases/{case_id}", "TF-OTHER", expect=404)
    assert all(c["id"] != case_id for c in await desk.call("GET", "/v1/cases", "TF-OTHER"))
    assert any(c["id"] == case_id for c in await desk.call("GET", "/v1/cases", "TF-JYG"))
    await desk.call("GET", "/v1/cases", "U-HEAT-1", expect=403)
    await desk.call("GET", f"/v1/cases/{case_id}", "DIST-CG")
    r = await desk.svc.http.get("/v1/assignments")
    assert r.status_code == 401 and r.json()["detail"]["code"] == "unauthenticated"
    # Admin endpoints need the admin token, not a user token.
    r = await desk.svc.http.get("/admin/rules", headers=desk.auth("admin"))
    assert r.status_code == 401


async def test_rules_change_without_restart(desk: Desk) -> None:
    history = (await desk.svc.http.get("/admin/rules", headers={"X-Admin-Token": DEV_ADMIN_TOKEN})).json()
    current = history[0]["document"]
    faster = {**current, "sla": {**current["sla"], "leak": {"sign_in": 5, "on_site": 30, "resolve": 600}}}
    r = await desk.svc.http.put(
        "/admin/rules?note=leaks faster", json=faster, headers={"X-Admin-Token": DEV_ADMIN_TOKEN}
    )
    assert r.status_code == 200 and r.json()["version"] == history[0]["version"] + 1
    start = desk.clock.now()
    case_id = await desk.complain(Category.LEAK)
    a = (await desk.assignments("U-PM-1", case_id))[0]
    assert datetime.fromisoformat(a["sign_in_due"]) - start == timedelta(minutes=5)
    bad = {**current, "sla": {**current["sla"], "leak": {"sign_in": 90, "on_site": 30, "resolve": 600}}}
    r = await desk.svc.http.put("/admin/rules", json=bad, headers={"X-Admin-Token": DEV_ADMIN_TOKEN})
    assert r.status_code == 422 and r.json()["detail"]["code"] == "invalid_rules"
    async with desk.svc.runtime.sessions() as s:
        version, _ = await rules.current_rules(s)
    assert version == history[0]["version"] + 1


async def test_a_cold_snap_tightens_new_clocks(desk: Desk) -> None:
    await desk.call("PUT", "/v1/districts/D-CG/cold-snap", "DIST-CG", {"active": True})
    try:
        start = desk.clock.now()
        case_id = await desk.complain(Category.COLD_ROOM)
        a = (await desk.assignments("U-HEAT-1", case_id))[0]
        assert datetime.fromisoformat(a["sign_in_due"]) - start == timedelta(minutes=15)  # 30 min × 0.5
    finally:
        await desk.call("PUT", "/v1/districts/D-CG/cold-snap", "DIST-CG", {"active": False})
    await desk.call("PUT", "/v1/districts/D-CG/cold-snap", "TF-JYG", {"active": True}, expect=403)


async def test_an_earlier_rule_version_can_be_put_back_in_force(desk: Desk) -> None:
    admin = {"X-Admin-Token": DEV_ADMIN_TOKEN}

    async def in_force() -> dict[str, Any]:
        history = (await desk.svc.http.get("/admin/rules", headers=admin)).json()
        assert [r["active"] for r in history].count(True) == 1 and history[0]["active"]
        return history[0]  # type: ignore[no-any-return]

    before = await in_force()
    slow = {
        **before["document"],
        "sla": {**before["document"]["sla"], "leak": {"sign_in": 50, "on_site": 60, "resolve": 900}},
    }
    r = await desk.svc.http.put("/admin/rules?note=slow leaks", json=slow, headers=admin)
    newer = r.json()["version"]
    assert (await in_force())["version"] == newer

    r = await desk.svc.http.post(f"/admin/rules/{before['version']}/activate", headers=admin)
    assert r.status_code == 200 and r.json()["version"] == before["version"] and r.json()["active"]
    assert (await in_force())["version"] == before["version"]
    start = desk.clock.now()
    case_id = await desk.complain(Category.LEAK)
    a = (await desk.assignments("U-PM-1", case_id))[0]
    leak = before["document"]["sla"]["leak"]["sign_in"]
    assert datetime.fromisoformat(a["sign_in_due"]) - start == timedelta(minutes=leak) != timedelta(minutes=50)

    r = await desk.svc.http.post("/admin/rules/99999/activate", headers=admin)
    assert r.status_code == 404 and r.json()["detail"]["code"] == "rules_not_found"
    assert (await desk.svc.http.post(f"/admin/rules/{newer}/activate", headers=desk.auth("admin"))).status_code == 401
    # Forward again: the newer version is back, and a new case runs on it.
    assert (await desk.svc.http.post(f"/admin/rules/{newer}/activate", headers=admin)).status_code == 200
    assert (await in_force())["version"] == newer
    start = desk.clock.now()
    case_id = await desk.complain(Category.LEAK)
    a = (await desk.assignments("U-PM-1", case_id))[0]
    assert datetime.fromisoformat(a["sign_in_due"]) - start == timedelta(minutes=50)
    await desk.svc.http.post(f"/admin/rules/{before['version']}/activate", headers=admin)


async def test_open_cases_include_those_awaiting_their_return_visit(desk: Desk) -> None:
    case_id = await desk.complain(Category.COLD_ROOM)
    a = (await desk.assignments("U-HEAT-1", case_id))[0]
    for step in ("sign-in", "arrive"):
        await desk.call("POST", f"/v1/assignments/{a['id']}/{step}", "U-HEAT-1")
    await desk.call("POST", f"/v1/assignments/{a['id']}/resolve", "U-HEAT-1", {"action_taken": "排气后室温达标"})

    def listed(cases: list[dict[str, Any]]) -> list[str]:
        return [c["status"] for c in cases if c["id"] == case_id]

    assert listed(await desk.call("GET", "/v1/cases", "TF-JYG")) == ["resolved"]  # the default is open
    assert listed(await desk.call("GET", "/v1/cases?status=open", "TF-JYG")) == ["resolved"]
    assert listed(await desk.call("GET", "/v1/cases?status=in_progress", "TF-JYG")) == []
    assert listed(await desk.call("GET", "/v1/cases?status=resolved", "TF-JYG")) == ["resolved"]
    assert listed(await desk.call("GET", "/v1/cases?status=", "TF-JYG")) == ["resolved"]
    refused = await desk.call("GET", "/v1/cases?status=pending", "TF-JYG", expect=422)
    assert refused["detail"]["code"] == "invalid_status" and refused["detail"]["field"] == "status"
    now = desk.clock.now()
    await desk.verdict(CaseClosed(case_id=case_id, round=1, min_temp_c=19.0, satisfaction=None, closed_at=now))
    await wait_until("case closed", lambda: _status(desk, case_id, "closed"))
    assert listed(await desk.call("GET", "/v1/cases?status=open", "TF-JYG")) == []


async def test_an_assignment_has_one_shape_in_every_answer(desk: Desk) -> None:
    case_id = await desk.complain(Category.BURST_PIPE, Priority.EMERGENCY)
    listed = (await desk.assignments("U-HEAT-1", case_id))[0]
    one = await desk.call("GET", f"/v1/assignments/{listed['id']}", "U-HEAT-1")
    in_case = next(a for a in (await desk.case(case_id))["assignments"] if a["id"] == listed["id"])
    for shown in (one, in_case):
        assert shown == listed
    assert (listed["category"], listed["priority"], listed["location"]["building_id"]) == (
        "burst_pipe",
        "emergency",
        "B-LK-1",
    )
    assert listed["affected_households"] == 1
    signed = await desk.call("POST", f"/v1/assignments/{listed['id']}/sign-in", "U-HEAT-1")
    assert signed.keys() == listed.keys() and signed["category"] == "burst_pipe" and signed["location"]


async def test_a_unit_s_console_version_moves_with_what_its_list_shows_and_only_with_that(desk: Desk) -> None:
    """The live stream's version, digested by the database: it moves for a new assignment, every step and timeline
    entry of the unit's open cases, an escalation and a resolve; not for another unit's case."""
    heat = Principal(role=Role.UNIT, sub="U-HEAT-1", scope="D-CG")

    async def now() -> tuple[str, int]:
        async with desk.svc.runtime.sessions() as s:
            return await console.version(s, heat)

    async def moved(before: tuple[str, int]) -> tuple[str, int]:
        after = await now()
        assert after[0] != before[0], "the version stayed as it was"
        assert after[1] == len(await desk.call("GET", "/v1/assignments", "U-HEAT-1"))
        return after

    seen = await now()
    assert seen == await now(), "a version read twice with nothing between is the same"
    case_id = await desk.complain(Category.COLD_ROOM)
    seen = await moved(seen)
    a = (await desk.assignments("U-HEAT-1", case_id))[0]

    others = await desk.complain(Category.LEAK)  # the property manager's alone
    assert not await desk.assignments("U-HEAT-1", others)
    assert await now() == seen, "another unit's case moved this unit's version"

    await desk.call("POST", f"/v1/assignments/{a['id']}/sign-in", "U-HEAT-1")
    seen = await moved(seen)
    await desk.call("POST", f"/v1/assignments/{a['id']}/progress", "U-HEAT-1", {"note": "已联系住户，明早入户"})
    seen = await moved(seen)  # a timeline entry only: the list's fields are as they were

    desk.clock.set(datetime.fromisoformat(a["on_site_due"]) + timedelta(seconds=1))
    await desk.fire_due()
    assert (await desk.call("GET", f"/v1/assignments/{a['id']}", "U-HEAT-1"))["escalation_level"] == "reminder"
    seen = await moved(seen)
    await desk.call("POST", f"/v1/assignments/{a['id']}/arrive", "U-HEAT-1")
    seen = await moved(seen)
    await desk.call("POST", f"/v1/assignments/{a['id']}/resolve", "U-HEAT-1", {"action_taken": "调整平衡阀"})
    before_open = seen[1]
    seen = await moved(seen)
    assert seen[1] == before_open - 1
