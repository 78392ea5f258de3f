"""An incident's size on the real stack: reports intake grouped into one problem (ComplaintGrouped) join the case
their lead report opened, the case counts the distinct households, and the rules raise its priority by that count
(≥ 5 urgent, ≥ 20 emergency). Grouped reports that overtake their lead are kept and join the case as it opens; a
resent event changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select

from deploy.seed import registry
from services.dispatch import opening, rules
from services.dispatch.config import DispatchSettings
from services.dispatch.main import create_app
from services.dispatch.models import Assignment, CaseEvent, CaseReport, EarlyReport
from shared.clock import ManualClock
from shared.contracts.common import Category, Channel, Location, Priority
from shared.contracts.intake import ComplaintGrouped, ComplaintReported
from shared.events import Envelope, EventPayload
from shared.settings import DEV_ADMIN_TOKEN, DEV_AUTH_PRIVATE_KEY
from shared.topics import Topics
from tests.harness import (
    KAFKA,
    InProcess,
    check_stack,
    drop_database,
    fresh_database,
    new_prefix,
    run_db,
    run_in_process,
    statements_of,
    wait_until,
)


def place(building: str, household: str | None) -> Location:
    return Location(
        district_id="D-CG",
        street_id="S-JYG",
        community_id="CM-PHN",
        grid_id="G-PHN-01",
        compound_id="CP-LK",
        building_id=building,
        household_id=household,
        substation_id="SS-01",
    )


@dataclass
class Incident:
    """One problem as intake announces it: the lead report, then the grouped ones."""

    category: Category
    priority: Priority
    building: str = field(default_factory=lambda: f"B-{uuid.uuid4().hex[:8]}")
    group_id: str = field(default_factory=lambda: f"G-{uuid.uuid4().hex[:8]}")
    lead: str = field(default_factory=lambda: f"R-{uuid.uuid4().hex[:12]}")

    def reported(self, household: str, at: datetime) -> ComplaintReported:
        return ComplaintReported(
            report_id=self.lead,
            channel=Channel.GRID_REPORT,
            category=self.category,
            priority=self.priority,
            priority_resident=False,
            location=place(self.building, household),
            description="测试",
            reporter_kind="grid_worker",
            reporter_id="GW-01",
            reported_at=at,
            group_id=self.group_id,
        )

    def grouped(
        self, household: str | None, at: datetime, channel: Channel = Channel.HOTLINE_12345
    ) -> ComplaintGrouped:
        return ComplaintGrouped(
            report_id=f"R-{uuid.uuid4().hex[:12]}",
            group_id=self.group_id,
            lead_report_id=self.lead,
            case_id=None,
            scope="building",
            channel=channel,
            category=self.category,
            priority=self.priority,
            priority_resident=False,
            location=place(self.building, household),
            description="楼里暖气管爆了",
            reporter_kind="sensor" if household is None else "resident",
            reported_at=at,
        )


@dataclass
class Desk:
    svc: InProcess
    clock: ManualClock
    topics: Topics
    producer: AIOKafkaProducer
    tokens: dict[str, str]

    async def send(self, payload: EventPayload, key: str) -> Envelope:
        env = Envelope.wrap(payload, correlation_id=key, producer="intake", occurred_at=self.clock.now())
        await self.resend(env, key)
        return env

    async def resend(self, env: Envelope, key: str) -> None:
        await self.producer.send_and_wait(self.topics.complaints, env.encode(), key=key.encode())

    async def scalar(self, query: Any) -> Any:
        async with self.svc.runtime.sessions() as s:
            return await s.scalar(query)

    async def case_of(self, report_id: str) -> str:
        found: str = await wait_until(
            f"a case for {report_id}",
            lambda: self.scalar(select(CaseReport.case_id).where(CaseReport.report_id == report_id)),
        )
        return found

    async def reports_of(self, case_id: str) -> int:
        return int(await self.scalar(select(func.count()).where(CaseReport.case_id == case_id)))

    async def call(self, method: str, path: str, who: str, json: Any = None) -> Any:
        r = await self.svc.http.request(
            method, path, headers={"Authorization": f"Bearer {self.tokens[who]}"}, json=json
        )
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="module")
async def desk() -> AsyncIterator[Desk]:
    await check_stack()
    db = run_db("dispatch_incidents")
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    settings = DispatchSettings(
        database_url=await fresh_database(db),
        kafka_bootstrap=KAFKA,
        kafka_topic_prefix=new_prefix("dispatch"),
        environment="test",
        run_timers=False,
    )
    doc = registry.read()
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True, acks="all")
    await producer.start()
    async with run_in_process(create_app(settings, clock=clock)) as svc:
        r = await svc.http.put(
            "/admin/units", json=registry.dispatch_units(doc), headers={"X-Admin-Token": DEV_ADMIN_TOKEN}
        )
        r.raise_for_status()
        yield Desk(svc, clock, settings.topics, producer, registry.tokens(doc, DEV_AUTH_PRIVATE_KEY))
    await producer.stop()
    await drop_database(db)


async def test_a_burst_pipe_reported_by_ten_households_is_one_case_of_ten(desk: Desk) -> None:
    at = desk.clock.now()
    pipe = Incident(Category.BURST_PIPE, Priority.EMERGENCY)
    homes = [f"H-{pipe.building}-{n}" for n in range(1, 11)]
    # Two reports overtake their lead (keyed by their own household, they travel on other partitions).
    early = [pipe.grouped(h, at) for h in homes[1:3]]
    for g in early:
        await desk.send(g, g.location.household_id or "")
    await wait_until(
        "the early reports kept",
        lambda: desk.scalar(select(func.count()).where(EarlyReport.lead_report_id == pipe.lead)),
    )
    await desk.send(pipe.reported(homes[0], at), homes[0])
    case_id = await desk.case_of(pipe.lead)
    later = [pipe.grouped(h, at + timedelta(minutes=1)) for h in homes[3:]]
    later.append(pipe.grouped(homes[4], at + timedelta(minutes=2)))  # a household calling twice counts once
    later.append(pipe.grouped(None, at + timedelta(minutes=2), Channel.SENSOR))  # the building's sensor: no household
    envs = [await desk.send(g, g.location.household_id or pipe.building) for g in later]
    await wait_until("every report joined", lambda: _equals(desk.reports_of(case_id), 12))

    case = await desk.call("GET", f"/v1/cases/{case_id}", "TF-JYG")
    assert case["affected_households"] == 10
    assert case["report_ids"][0] == pipe.lead
    assert set(case["report_ids"]) == {pipe.lead, *(g.report_id for g in early + later)}
    assert case["priority"] == "emergency"  # already the most urgent: the count never lowers it
    # Each joined report's timeline row says the count it reached (rows are in the order reported, not joined).
    counts = [e["detail"]["affected_households"] for e in case["timeline"] if e["kind"] == "grouped"]
    assert len(counts) == 11 and max(counts) == 10
    assert await desk.scalar(select(func.count()).where(EarlyReport.lead_report_id == pipe.lead)) == 0
    listed = [c for c in await desk.call("GET", "/v1/cases?status=open", "TF-JYG") if c["id"] == case_id]
    assert listed[0]["affected_households"] == 10 and len(listed[0]["report_ids"]) == 12
    heat = [a for a in await desk.call("GET", "/v1/assignments", "U-HEAT-1") if a["case_id"] == case_id]
    assert heat[0]["affected_households"] == 10

    # The same events again (a redelivery), and the same report under a new event id: nothing changes.
    rows = await desk.scalar(select(func.count()).where(CaseEvent.case_id == case_id))
    for env in envs[:3]:
        await desk.resend(env, "again")
    await desk.send(later[0], "again")
    # Sent on the same key as the resends, so on their partition after them: once it joined, they are settled.
    marker = pipe.grouped(homes[0], at + timedelta(minutes=3))
    await desk.send(marker, "again")
    await wait_until("the marker joined", lambda: _equals(desk.reports_of(case_id), 13))
    assert await desk.scalar(select(func.count()).where(CaseEvent.case_id == case_id)) == rows + 1  # the marker's row
    again = await desk.call("GET", f"/v1/cases/{case_id}", "TF-JYG")
    assert again["affected_households"] == 10 and len(again["report_ids"]) == 13


async def test_households_raise_a_cold_room_to_urgent_and_new_clocks_follow(desk: Desk) -> None:
    at = desk.clock.now()
    cold = Incident(Category.COLD_ROOM, Priority.NORMAL)
    homes = [f"H-{cold.building}-{n}" for n in range(1, 11)]
    await desk.send(cold.reported(homes[0], at), homes[0])
    case_id = await desk.case_of(cold.lead)
    first = (await desk.call("GET", f"/v1/cases/{case_id}", "TF-JYG"))["assignments"][0]
    assert first["priority"] == "normal"

    for h in homes[1:]:
        await desk.send(cold.grouped(h, at), h)
    await wait_until("every report joined", lambda: _equals(desk.reports_of(case_id), 10))
    case = await desk.call("GET", f"/v1/cases/{case_id}", "TF-JYG")
    assert (case["affected_households"], case["priority"]) == (10, "urgent")
    raised = [e["detail"] for e in case["timeline"] if e["kind"] == "priority_raised"]
    assert raised == [{"priority": "urgent", "previous": "normal", "affected_households": 5}]
    # The open assignment keeps the deadlines it was given; the next one (after 退单) runs on urgent clocks.
    assert case["assignments"][0]["sign_in_due"] == first["sign_in_due"]
    await desk.call(
        "POST", f"/v1/assignments/{first['id']}/return", "U-HEAT-1", {"reason": "not_our_equipment", "note": "户内"}
    )
    after = await desk.call("GET", f"/v1/cases/{case_id}", "TF-JYG")
    rerouted = next(a for a in after["assignments"] if a["id"] != first["id"])
    length = datetime.fromisoformat(rerouted["sign_in_due"]) - datetime.fromisoformat(rerouted["dispatched_at"])
    assert length == timedelta(minutes=30 * 0.75)  # cold room signs in within 30 min, × 0.75 urgent


async def test_an_outage_of_twenty_households_that_arrived_first_opens_as_an_emergency(desk: Desk) -> None:
    at = desk.clock.now()
    outage = Incident(Category.OUTAGE, Priority.URGENT)
    homes = [f"H-{outage.building}-{n}" for n in range(1, 21)]
    for h in homes[1:]:
        await desk.send(outage.grouped(h, at), h)
    await wait_until(
        "the early reports kept",
        lambda: _equals(desk.scalar(select(func.count()).where(EarlyReport.lead_report_id == outage.lead)), 19),
    )
    await desk.send(outage.reported(homes[0], at), homes[0])
    case_id = await desk.case_of(outage.lead)
    case = await desk.call("GET", f"/v1/cases/{case_id}", "TF-JYG")
    assert (case["affected_households"], case["priority"]) == (20, "emergency")
    a = case["assignments"][0]
    length = datetime.fromisoformat(a["sign_in_due"]) - datetime.fromisoformat(a["dispatched_at"])
    assert length == timedelta(minutes=15 * 0.5)  # the first clocks already run on emergency


async def _equals(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


async def test_a_batch_of_openings_reads_the_rules_weather_and_calendar_once_and_writes_each_case_once(
    desk: Desk,
) -> None:
    """A consumer applies a poll's events in one transaction: what every opening reads alike (the rules in force,
    the district's cold-snap flag, the amended calendar, who covers a substation) is read once for the batch, and
    each case's row is inserted with the status its routing gave it, never updated after. A flag set within the
    transaction is seen by the openings after it."""
    rt = desk.svc.runtime
    writer = rt.writer(desk.topics.cases)
    at = desk.clock.now()
    incidents = [Incident(Category.COLD_ROOM, Priority.NORMAL) for _ in range(4)]
    try:
        with statements_of(rt.engine) as sent:
            async with rt.sessions() as session, session.begin():
                await sent.watch(session)
                opened = [
                    await opening.open_case(session, writer, complaint=i.reported(f"H-{i.building}-1", at), at=at)
                    for i in incidents[:3]
                ]
                three = len(sent.seen)
                assert not await rules.cold_snap_active(session, "D-CG", at)
                await rules.set_cold_snap(session, district_id="D-CG", active=True, until=None, by="test", at=at)
                await session.flush()
                assert await rules.cold_snap_active(session, "D-CG", at)
                last = await opening.open_case(
                    session, writer, complaint=incidents[3].reported(f"H-{incidents[3].building}-1", at), at=at
                )
    finally:
        async with rt.sessions() as session, session.begin():
            await rules.set_cold_snap(session, district_id="D-CG", active=False, until=None, by="test", at=at)

    assert sent.count("SELECT rule_sets.version") == 1
    assert sent.count("SELECT weather_flags.", upto=three) == 1  # the three openings read it once; the flag set, again
    assert sent.count("SELECT calendar_years.") == 1
    assert sent.count("SELECT unit_coverage.") == 1  # one substation's heating company, for all four
    assert sent.count("INSERT INTO cases ") == 4 and sent.count("UPDATE cases ") == 0
    for case in [*opened, last]:
        stored = await desk.call("GET", f"/v1/cases/{case.id}", "TF-JYG")
        assert stored["status"] == "assigned"
    # The cold snap set in the transaction shortened the last case's clocks.
    first_due = await desk.scalar(select(Assignment.sign_in_due).where(Assignment.case_id == opened[0].id).limit(1))
    last_due = await desk.scalar(select(Assignment.sign_in_due).where(Assignment.case_id == last.id).limit(1))
    assert last_due < first_due
