"""Follow-up on the real stack, alone in this process with an injected clock: dispatch's and intake's facts are
produced onto its topics with aiokafka, people act through its HTTP API, and its verdicts are read back from
Kafka. Close, reopen (too cold, dissatisfied), district standards, the unreached resident, a building's sample,
the overdue visit escalated to the community, the reproducible weekly spot-check that fails a case, and who may
see what."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import select, text

from services.followup import domain, facts
from services.followup.config import FollowupSettings
from services.followup.main import arm_weekly_draw, create_app, draw_due, timer_engine
from services.followup.metrics import refresh_once
from services.followup.models import AssignmentFact
from shared.auth import Principal, Role, issue
from shared.clock import ManualClock
from shared.contracts.common import Category, Channel, Location, Priority, Tier, UnitType
from shared.contracts.dispatch import (
    AssignmentResolved,
    AssignmentSignedIn,
    CaseAssigned,
    CaseOpened,
    CaseResolved,
    CaseRetiered,
    CaseRoundStarted,
)
from shared.contracts.intake import ComplaintGrouped, ComplaintReported, HouseholdVisited
from shared.db import after_commit
from shared.events import Envelope, EventPayload
from shared.photos import PhotoStoreSettings
from shared.settings import DEV_AUTH_PRIVATE_KEY
from shared.timers import TimerEngine
from shared.topics import Topics
from tests.harness import (
    KAFKA,
    S3_ENDPOINT,
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


def place(household: str | None, *, building: str = "B-LK-1", grid: str = "G-PHN-01", **over: str) -> Location:
    base = {
        "district_id": "D-CG",
        "street_id": "S-JYG",
        "community_id": "CM-PHN",
        "grid_id": grid,
        "compound_id": "CP-LK",
        "building_id": building,
        "household_id": household,
        "substation_id": "SS-01",
    }
    return Location.model_validate({**base, **over})


PEOPLE = {
    "GW-01": (Role.GRID_WORKER, "G-PHN-01"),
    "GW-02": (Role.GRID_WORKER, "G-PHN-02"),
    "GW-03": (Role.GRID_WORKER, "G-XC-01"),
    "GW-N1": (Role.GRID_WORKER, "G-N-01"),
    "TF-JYG": (Role.TASK_FORCE, "S-JYG"),
    "TF-N": (Role.TASK_FORCE, "S-N"),
    "DIST-CG": (Role.DISTRICT, "D-CG"),
    "U-HEAT-1": (Role.UNIT, "D-CG"),
    "admin": (Role.ADMIN, ""),
}


def tokens() -> dict[str, str]:
    return {
        sub: issue(Principal(role=role, sub=sub, scope=scope), DEV_AUTH_PRIVATE_KEY)
        for sub, (role, scope) in PEOPLE.items()
    }


@dataclass
class Feed:
    """Produces dispatch's and intake's facts onto follow-up's topics, as those services would."""

    producer: AIOKafkaProducer
    topics: Topics
    sent: list[Envelope] = field(default_factory=list)

    async def send(self, topic: str, key: str, payload: EventPayload, at: datetime, producer: str) -> Envelope:
        env = Envelope.wrap(payload, correlation_id=key, producer=producer, occurred_at=at)
        await self.producer.send_and_wait(topic, env.encode(), key=key.encode())
        self.sent.append(env)
        return env

    async def dispatch(self, case_id: str, payload: EventPayload, at: datetime) -> Envelope:
        return await self.send(self.topics.cases, case_id, payload, at, "dispatch")

    async def intake(self, key: str, payload: EventPayload, at: datetime) -> Envelope:
        return await self.send(self.topics.complaints, key, payload, at, "intake")

    async def complaint(
        self, loc: Location, at: datetime, *, category: Category = Category.COLD_ROOM, report_id: str | None = None
    ) -> str:
        report_id = report_id or f"R-{uuid.uuid4().hex[:12]}"
        await self.intake(
            loc.household_id or loc.building_id,
            ComplaintReported(
                report_id=report_id,
                channel=Channel.GRID_REPORT,
                category=category,
                priority=Priority.NORMAL,
                priority_resident=False,
                location=loc,
                description="暖气不热",
                reporter_kind="grid_worker",
                reporter_id="GW-01",
                reported_at=at,
            ),
            at,
        )
        return report_id

    async def grouped(self, loc: Location, at: datetime, *, lead: str) -> str:
        """A complaint intake linked to the open incident of ``lead`` (no new case)."""
        report_id = f"R-{uuid.uuid4().hex[:12]}"
        await self.intake(
            loc.household_id or loc.building_id,
            ComplaintGrouped(
                report_id=report_id,
                group_id=f"G-{lead}",
                lead_report_id=lead,
                case_id=None,
                scope="building",
                channel=Channel.HOTLINE_12345,
                category=Category.COLD_ROOM,
                priority=Priority.NORMAL,
                priority_resident=False,
                location=loc,
                description="同一楼栋暖气不热",
                reporter_kind="hotline",
                reported_at=at,
            ),
            at,
        )
        return report_id

    async def ledger(
        self,
        loc: Location,
        at: datetime,
        *,
        residents: int,
        problem: bool = False,
        report_id: str | None = None,
        findings: int = 0,
        report_ids: list[str] | None = None,
    ) -> None:
        await self.intake(
            loc.household_id or loc.building_id,
            HouseholdVisited(
                visit_id=f"HV-{uuid.uuid4().hex[:12]}",
                grid_worker_id="GW-01",
                location=loc,
                visited_at=at,
                residents_reached=residents,
                measured_temp_c=19.0,
                problem_found=problem,
                report_id=report_id,
                findings=findings,
                report_ids=report_ids or [],
            ),
            at,
        )

    async def open(
        self,
        loc: Location,
        at: datetime,
        *,
        report_ids: list[str],
        category: Category = Category.COLD_ROOM,
        priority_resident: bool = False,
    ) -> str:
        case_id = f"C-{uuid.uuid4().hex[:12]}"
        await self.dispatch(
            case_id,
            CaseOpened(
                case_id=case_id,
                report_ids=report_ids,
                category=category,
                priority=Priority.NORMAL,
                tier=Tier.TECHNICAL,
                priority_resident=priority_resident,
                location=loc,
                opened_at=at,
            ),
            at,
        )
        return case_id

    async def assign(
        self,
        case_id: str,
        unit: str,
        at: datetime,
        *,
        round_: int = 1,
        unit_type: UnitType = UnitType.HEATING_COMPANY,
        sign_in: timedelta = timedelta(minutes=30),
        on_site: timedelta = timedelta(hours=2),
        resolve: timedelta = timedelta(hours=24),
    ) -> str:
        assignment_id = f"A-{uuid.uuid4().hex[:12]}"
        await self.dispatch(
            case_id,
            CaseAssigned(
                case_id=case_id,
                assignment_id=assignment_id,
                round=round_,
                unit_id=unit,
                unit_type=unit_type,
                sign_in_due=at + sign_in,
                on_site_due=at + on_site,
                resolve_due=at + resolve,
            ),
            at,
        )
        return assignment_id

    async def sign_in(self, case_id: str, assignment_id: str, unit: str, at: datetime, *, on_time: bool) -> None:
        await self.dispatch(
            case_id,
            AssignmentSignedIn(
                case_id=case_id, assignment_id=assignment_id, unit_id=unit, signed_in_at=at, on_time=on_time
            ),
            at,
        )

    async def unit_resolved(self, case_id: str, assignment_id: str, unit: str, at: datetime, *, on_time: bool) -> None:
        await self.dispatch(
            case_id,
            AssignmentResolved(
                case_id=case_id,
                assignment_id=assignment_id,
                unit_id=unit,
                resolved_at=at,
                on_time=on_time,
                action_taken="排气、清洗滤网",
                measured_temp_c=20.0,
            ),
            at,
        )

    async def resolved(
        self, case_id: str, loc: Location, at: datetime, *, units: list[str], report_ids: list[str], round_: int = 1
    ) -> None:
        await self.dispatch(
            case_id,
            CaseResolved(
                case_id=case_id,
                round=round_,
                category=Category.COLD_ROOM,
                priority=Priority.NORMAL,
                location=loc,
                report_ids=report_ids,
                unit_ids=units,
                resolved_at=at,
            ),
            at,
        )

    async def round_started(self, case_id: str, round_: int, at: datetime, reason: str) -> None:
        await self.dispatch(
            case_id,
            CaseRoundStarted(
                case_id=case_id, round=round_, redo_count=round_ - 1, priority=Priority.URGENT, reason=reason
            ),
            at,
        )

    async def fixed_case(
        self, loc: Location, at: datetime, *, unit: str = "U-HEAT-1", report_ids: list[str] | None = None
    ) -> str:
        """A case opened, assigned, signed in and fixed on time by one unit: it awaits its return visit."""
        report_ids = report_ids if report_ids is not None else [await self.complaint(loc, at)]
        case_id = await self.open(loc, at, report_ids=report_ids)
        a = await self.assign(case_id, unit, at)
        await self.sign_in(case_id, a, unit, at + timedelta(minutes=10), on_time=True)
        await self.unit_resolved(case_id, a, unit, at + timedelta(hours=2), on_time=True)
        await self.resolved(case_id, loc, at + timedelta(hours=2), units=[unit], report_ids=report_ids)
        return case_id


@dataclass
class Desk:
    svc: InProcess
    clock: ManualClock
    engine: TimerEngine
    feed: Feed
    topics: Topics
    tokens: dict[str, str]

    async def call(self, method: str, path: str, who: str, expect: int = 200, **kw: Any) -> Any:
        r = await self.svc.http.request(method, path, headers={"Authorization": f"Bearer {self.tokens[who]}"}, **kw)
        assert r.status_code == expect, r.text
        return r.json() if r.headers.get("content-type", "").startswith("application/json") else r.text

    async def visits(self, who: str, case_id: str, status: str = "all") -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self.call(
            "GET", "/v1/visits", who, params={"case_id": case_id, "status": status}
        )
        return found

    async def wait_visits(self, who: str, case_id: str, count: int = 1, round_: int = 1) -> list[dict[str, Any]]:
        async def probe() -> list[dict[str, Any]]:
            found = [v for v in await self.visits(who, case_id) if v["round"] == round_]
            return found if len(found) >= count else []

        found: list[dict[str, Any]] = await wait_until(f"{count} visit(s) of {case_id}", probe)
        return found

    async def knows(self, building: str, households: set[str]) -> None:
        """Follow-up has consumed the reports and ledger visits of ``households`` (the complaints topic): the sample
        is drawn from them when CaseResolved arrives on the cases topic, which another consumer reads."""

        async def probe() -> bool:
            async with self.svc.runtime.sessions() as s:
                return households <= await facts.households_of_building(s, building)

        await wait_until(f"follow-up to know {sorted(households)}", probe)

    async def record(self, who: str, visit_id: str, expect: int = 200, **body: Any) -> Any:
        return await self.call("POST", f"/v1/visits/{visit_id}/record", who, expect=expect, json=body)

    async def verdicts(self, case_id: str, until: list[str]) -> list[Envelope]:
        """Follow-up's events of one case, once the types in ``until`` have appeared in order."""

        def mine(records: list[Any]) -> list[Envelope]:
            return [e for e in envelopes(records) if e.correlation_id == case_id]

        def done(records: list[Any]) -> bool:
            return [e.event_type for e in mine(records)][: len(until)] == until

        return mine(await read_topic(self.topics.followup, until=done))


def settings_for(database_url: str, prefix: str, **over: Any) -> FollowupSettings:
    return FollowupSettings(
        database_url=database_url,
        kafka_bootstrap=KAFKA,
        kafka_topic_prefix=prefix,
        environment="test",
        run_timers=False,
        district_standard_temp_c={"D-N": 20.0},
        photos=PhotoStoreSettings(endpoint_url=S3_ENDPOINT),
        photo_required_on_visit=False,  # these tests are about verdicts; the photo rule is test_photo_evidence's
        **over,
    )


@pytest.fixture(scope="module")
async def desk() -> AsyncIterator[Desk]:
    await check_stack()
    prefix = new_prefix("fu")
    db = run_db("followup_flow")
    clock = ManualClock(datetime.fromisoformat("2026-11-18T01:00:00+00:00"))  # a Wednesday, 09:00 in Lanzhou
    settings = settings_for(await fresh_database(db), prefix, spot_check_share=0.5, spot_check_seed="it-seed")
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        async with run_in_process(create_app(settings, clock=clock)) as svc:
            rt = svc.runtime
            engine = timer_engine(rt, rt.writer(settings.topics.followup), clock)
            yield Desk(svc, clock, engine, Feed(producer, settings.topics), settings.topics, tokens())
    finally:
        await producer.stop()
        await drop_database(db)


# -- the verdict -------------------------------------------------------------------------------------------------


async def test_warm_and_satisfied_closes_the_case(desk: Desk) -> None:
    loc = place("H-LK-1-101")
    at = desk.clock.now()
    case_id = await desk.feed.fixed_case(loc, at)
    (visit,) = await desk.wait_visits("GW-01", case_id)
    assert visit["status"] == "pending" and visit["household_id"] == "H-LK-1-101"
    assert visit["due_at"] == (at + timedelta(hours=26)).isoformat().replace("+00:00", "Z")
    assert visit["standard_c"] == 18.0

    recorded = await desk.record(
        "GW-01", visit["id"], room_temps_c=[20.5, 19.0], satisfaction="satisfied", notes="暖和"
    )
    assert recorded["status"] == "closed" and recorded["round_outcome"] == "closed"
    assert recorded["min_temp_c"] == 19.0 and recorded["visited_by"] == "GW-01"

    events = await desk.verdicts(case_id, ["VisitScheduled", "VisitRecorded", "CaseClosed"])
    closed = events[2].payload
    assert closed["round"] == 1 and closed["min_temp_c"] == 19.0 and closed["satisfaction"] == "satisfied"
    assert closed["unreached"] is False
    assert events[1].payload["room_temps_c"] == [20.5, 19.0] and events[1].payload["visited_by"] == "GW-01"
    # No personal data leaves in the events: ids and measurements only (the notes stay in follow-up).
    assert "暖和" not in events[1].model_dump_json()

    await desk.record("GW-01", visit["id"], expect=409, room_temps_c=[20.0], satisfaction="satisfied")


@pytest.mark.parametrize(
    ("temps", "satisfaction", "reason"),
    [
        ([17.5, 21.0], "satisfied", "too_cold"),
        ([21.0], "dissatisfied", "dissatisfied"),
        ([16.0], "dissatisfied", "both"),
    ],
)
async def test_cold_or_dissatisfied_reopens_with_the_reason(
    desk: Desk, temps: list[float], satisfaction: str, reason: str
) -> None:
    loc = place("H-LK-1-102")
    case_id = await desk.feed.fixed_case(loc, desk.clock.now())
    (visit,) = await desk.wait_visits("GW-01", case_id)
    recorded = await desk.record("GW-01", visit["id"], room_temps_c=temps, satisfaction=satisfaction)
    assert recorded["status"] == "reopened" and recorded["reopen_reason"] == reason

    events = await desk.verdicts(case_id, ["VisitScheduled", "VisitRecorded", "CaseReopened"])
    reopened = events[2].payload
    assert reopened["reason"] == reason and reopened["round"] == 1 and reopened["min_temp_c"] == min(temps)

    # Dispatch's second round is fixed: a new visit is owed for round 2, and a warm one closes the case.
    at = desk.clock.now()
    await desk.feed.round_started(case_id, 2, at, reason)
    a = await desk.feed.assign(case_id, "U-HEAT-1", at, round_=2)
    await desk.feed.sign_in(case_id, a, "U-HEAT-1", at, on_time=True)
    await desk.feed.unit_resolved(case_id, a, "U-HEAT-1", at + timedelta(hours=1), on_time=True)
    await desk.feed.resolved(case_id, loc, at + timedelta(hours=1), units=["U-HEAT-1"], report_ids=[], round_=2)
    (second,) = await desk.wait_visits("GW-01", case_id, round_=2)
    assert second["id"] != visit["id"]
    closed = await desk.record("GW-01", second["id"], room_temps_c=[20.0], satisfaction="mostly")
    assert closed["status"] == "closed"
    events = await desk.verdicts(
        case_id, ["VisitScheduled", "VisitRecorded", "CaseReopened", "VisitScheduled", "VisitRecorded", "CaseClosed"]
    )
    assert events[5].payload["round"] == 2


async def test_the_district_standard_decides(desk: Desk) -> None:
    loc = place("H-N-1-101", building="B-N-1", grid="G-N-01", district_id="D-N", street_id="S-N", community_id="CM-N")
    case_id = await desk.feed.fixed_case(loc, desk.clock.now())
    (visit,) = await desk.wait_visits("GW-N1", case_id)
    assert visit["standard_c"] == 20.0
    recorded = await desk.record("GW-N1", visit["id"], room_temps_c=[19.5, 21.0], satisfaction="satisfied")
    assert recorded["status"] == "reopened" and recorded["reopen_reason"] == "too_cold"


async def test_visit_validation_errors_are_clear(desk: Desk) -> None:
    case_id = await desk.feed.fixed_case(place("H-LK-1-103"), desk.clock.now())
    (visit,) = await desk.wait_visits("GW-01", case_id)
    for body, where, code in [
        ({"room_temps_c": [20.0, 60.0], "satisfaction": "satisfied"}, "room_temps_c", "temperature_implausible"),
        ({"room_temps_c": [-40.0], "satisfaction": "satisfied"}, "room_temps_c", "temperature_implausible"),
        ({"room_temps_c": [], "satisfaction": "satisfied"}, "room_temps_c", "temperature_required"),
        ({"room_temps_c": [20.0]}, "satisfaction", "satisfaction_required"),
        ({"reached": False, "satisfaction": "satisfied"}, "satisfaction", "satisfaction_unexpected"),
        ({"room_temps_c": [20.0], "satisfaction": "happy"}, "satisfaction", "enum"),
    ]:
        errors = (await desk.record("GW-01", visit["id"], expect=422, **body))["detail"]
        assert [(e["field"], e["code"]) for e in errors] == [(where, code)], errors
        assert errors[0]["reason"]
    assert (await desk.visits("GW-01", case_id))[0]["status"] == "pending"


# -- the resident who cannot be reached ------------------------------------------------------------------------------


async def test_unreached_twice_is_decided_on_temperature_alone(desk: Desk) -> None:
    case_id = await desk.feed.fixed_case(place("H-LK-1-104"), desk.clock.now())
    (visit,) = await desk.wait_visits("GW-01", case_id)

    first = await desk.record("GW-01", visit["id"], reached=False, notes="敲门无人应答")
    assert first["status"] == "pending" and first["attempts"] == 1
    assert first["due_at"] >= (desk.clock.now() + timedelta(hours=24)).isoformat().replace("+00:00", "Z")

    desk.clock.advance(timedelta(hours=5))
    missing = await desk.record("GW-01", visit["id"], expect=422, reached=False)
    assert missing["detail"]["code"] == "reading_required" and missing["detail"]["field"] == "room_temps_c"

    second = await desk.record("GW-01", visit["id"], reached=False, room_temps_c=[19.0, 18.5])
    assert second["status"] == "closed" and second["unreached"] is True and second["satisfaction"] is None

    events = await desk.verdicts(case_id, ["VisitScheduled", "VisitUnreached", "VisitRecorded", "CaseClosed"])
    assert events[1].payload["attempt"] == 1
    assert events[2].payload["reached"] is False and events[2].payload["attempt"] == 2
    assert events[3].payload["unreached"] is True and events[3].payload["satisfaction"] is None


async def test_unreached_twice_and_cold_reopens(desk: Desk) -> None:
    case_id = await desk.feed.fixed_case(place("H-LK-1-105"), desk.clock.now())
    (visit,) = await desk.wait_visits("GW-01", case_id)
    await desk.record("GW-01", visit["id"], reached=False, room_temps_c=[16.5])  # a room sensor's reading
    second = await desk.record("GW-01", visit["id"], reached=False)  # decided on the earlier reading
    assert second["status"] == "reopened" and second["reopen_reason"] == "too_cold" and second["min_temp_c"] == 16.5


# -- a building-wide case: a sample of its households ------------------------------------------------------------


async def test_a_building_case_visits_a_sample_and_reopens_at_the_first_failure(desk: Desk) -> None:
    at = desk.clock.now()
    building = place(None, building="B-LK-2")
    complainant = place("H-LK-2-201", building="B-LK-2")
    report = await desk.feed.complaint(complainant, at)
    for h in ("H-LK-2-202", "H-LK-2-203", "H-LK-2-204"):
        await desk.feed.ledger(place(h, building="B-LK-2"), at, residents=2)
    await desk.knows("B-LK-2", {"H-LK-2-201", "H-LK-2-202", "H-LK-2-203", "H-LK-2-204"})
    case_id = await desk.feed.fixed_case(building, at, report_ids=[report])
    visits = await desk.wait_visits("GW-01", case_id, count=3)
    households = [v["household_id"] for v in visits]
    assert len(visits) == 3 and "H-LK-2-201" in households  # the complainant is always asked
    expected = domain.building_sample(
        case_id=case_id,
        round_=1,
        complainants=["H-LK-2-201"],
        known=["H-LK-2-201", "H-LK-2-202", "H-LK-2-203", "H-LK-2-204"],
        size=3,
    )
    assert sorted(households) == sorted(expected)

    by_household = {v["household_id"]: v for v in visits}
    others = sorted(h for h in households if h != "H-LK-2-201")
    ok = await desk.record("GW-01", by_household["H-LK-2-201"]["id"], room_temps_c=[20.0], satisfaction="satisfied")
    assert ok["status"] == "closed" and ok["round_outcome"] == "pending"  # the rest of the sample is still owed
    bad = await desk.record("GW-01", by_household[others[0]]["id"], room_temps_c=[15.0], satisfaction="mostly")
    assert bad["status"] == "reopened" and bad["round_outcome"] == "reopened"
    rest = await desk.call("GET", f"/v1/visits/{by_household[others[1]]['id']}", "GW-01")
    assert rest["status"] == "cancelled"

    events = await desk.verdicts(case_id, ["VisitScheduled"] * 3 + ["VisitRecorded", "VisitRecorded", "CaseReopened"])
    assert [e.event_type for e in events].count("CaseReopened") == 1
    assert events[-1].payload["reason"] == "too_cold" and events[-1].payload["min_temp_c"] == 15.0


async def test_households_grouped_into_the_incident_are_asked_first(desk: Desk) -> None:
    at = desk.clock.now()
    lead = await desk.feed.complaint(place("H-LK-4-401", building="B-LK-4"), at)
    await desk.feed.grouped(place("H-LK-4-402", building="B-LK-4"), at, lead=lead)
    for h in ("H-LK-4-403", "H-LK-4-404", "H-LK-4-405"):
        await desk.feed.ledger(place(h, building="B-LK-4"), at, residents=1)
    await desk.knows("B-LK-4", {"H-LK-4-401", "H-LK-4-402", "H-LK-4-403", "H-LK-4-404", "H-LK-4-405"})
    case_id = await desk.feed.fixed_case(place(None, building="B-LK-4"), at, report_ids=[lead])
    households = {v["household_id"] for v in await desk.wait_visits("GW-01", case_id, count=3)}
    assert {"H-LK-4-401", "H-LK-4-402"} < households and len(households) == 3


async def test_a_building_nobody_is_known_in_gets_one_building_visit(desk: Desk) -> None:
    case_id = await desk.feed.fixed_case(place(None, building="B-LK-9"), desk.clock.now(), report_ids=[])
    (visit,) = await desk.wait_visits("GW-01", case_id)
    assert visit["household_id"] is None and visit["building_id"] == "B-LK-9"
    assert (await desk.record("GW-01", visit["id"], room_temps_c=[19.0], satisfaction="satisfied"))[
        "status"
    ] == "closed"


# -- overdue: escalated to the community ------------------------------------------------------------------------------


async def test_an_overdue_visit_is_escalated_to_the_community(desk: Desk) -> None:
    at = desk.clock.now()
    case_id = await desk.feed.fixed_case(place("H-LK-1-106"), at)
    (visit,) = await desk.wait_visits("GW-01", case_id)
    due = at + timedelta(hours=26)

    desk.clock.set(due - timedelta(minutes=1))
    await desk.engine.run_once()
    assert (await desk.call("GET", f"/v1/visits/{visit['id']}", "GW-01"))["overdue_at"] is None

    desk.clock.set(due + timedelta(minutes=1))
    assert await desk.engine.run_once() >= 1
    now = await desk.call("GET", f"/v1/visits/{visit['id']}", "GW-01")
    assert now["overdue_at"] is not None and now["status"] == "pending"
    overdue = await desk.call("GET", "/v1/visits", "TF-JYG", params={"overdue": "true", "community_id": "CM-PHN"})
    assert visit["id"] in {v["id"] for v in overdue}
    assert await desk.engine.run_once() == 0  # fired once, never again

    events = await desk.verdicts(case_id, ["VisitScheduled", "VisitOverdue"])
    escalation = events[1].payload
    assert escalation["community_id"] == "CM-PHN" and escalation["street_id"] == "S-JYG"
    assert escalation["visit_id"] == visit["id"] and escalation["attempts"] == 0

    await refresh_once(desk.svc.runtime, desk.svc.runtime.settings, desk.clock)
    assert 'followup_visits_pending{district="D-CG",overdue="true"}' in (await desk.svc.http.get("/metrics")).text

    # A late visit can still be recorded and decides the case.
    late = await desk.record("GW-01", visit["id"], room_temps_c=[19.0], satisfaction="satisfied")
    assert late["status"] == "closed" and late["overdue_at"] is not None

    metrics = (await desk.svc.http.get("/metrics")).text
    assert 'followup_visits_overdue_total{district="D-CG"}' in metrics


# -- who may see what --------------------------------------------------------------------------------------------------


async def test_visits_are_visible_only_within_the_callers_remit(desk: Desk) -> None:
    case_id = await desk.feed.fixed_case(place("H-LK-1-107"), desk.clock.now())
    (visit,) = await desk.wait_visits("GW-01", case_id)
    path = f"/v1/visits/{visit['id']}"
    for who in ("GW-02", "GW-03", "TF-N"):  # another grid, another community, another street
        assert (await desk.call("GET", path, who, expect=404))["detail"]["code"] == "visit_not_found"
        assert visit["id"] not in {v["id"] for v in await desk.call("GET", "/v1/visits", who)}
    await desk.record("GW-02", visit["id"], expect=404, room_temps_c=[20.0], satisfaction="satisfied")
    await desk.record("TF-JYG", visit["id"], expect=403, room_temps_c=[20.0], satisfaction="satisfied")
    await desk.call("GET", "/v1/visits", "U-HEAT-1", expect=403)
    for who in ("TF-JYG", "DIST-CG", "admin"):
        assert (await desk.call("GET", path, who))["id"] == visit["id"]
    assert (await desk.svc.http.get("/v1/visits", headers={"Authorization": "Bearer forged"})).status_code == 401
    assert (await desk.svc.http.get("/v1/visits")).status_code == 401


# -- 每周随机抽核 -----------------------------------------------------------------------------------------------------


async def test_the_weekly_spot_check_is_reproducible_and_a_failure_reopens_the_case(desk: Desk) -> None:
    # Five cases of one street closed during one week (the week of the clock, moved to a fresh Monday).
    monday = domain.week_window(
        domain.next_week(domain.week_of(desk.clock.now(), desk.svc.runtime.settings.zone)),
        desk.svc.runtime.settings.zone,
    )[0]
    desk.clock.set(monday + timedelta(hours=2))
    week = domain.week_of(desk.clock.now(), desk.svc.runtime.settings.zone)
    closed: list[str] = []
    for i in range(5):
        case_id = await desk.feed.fixed_case(place(f"H-SC-{i}", building="B-SC", grid="G-PHN-02"), desk.clock.now())
        (visit,) = await desk.wait_visits("GW-02", case_id)
        await desk.record("GW-02", visit["id"], room_temps_c=[20.0], satisfaction="satisfied")
        closed.append(case_id)
        desk.clock.advance(timedelta(hours=20))
    # Not before the week is over.
    early = await desk.call("POST", "/v1/spot-checks/draw", "TF-JYG", expect=422, params={"week": week})
    assert early["detail"]["code"] == "week_not_over"
    desk.clock.set(monday + timedelta(days=7, hours=6))

    drawn = (await desk.call("POST", "/v1/spot-checks/draw", "TF-JYG", params={"week": week}))[0]
    population = [tuple(x) for x in drawn["population"]]
    assert {c for c, _ in population} >= set(closed)
    expected = domain.spot_check_sample(population, seed="it-seed", street_id="S-JYG", week=week, share=0.5, minimum=1)
    assert [tuple(x) for x in drawn["sample"]] == expected
    assert len(expected) == domain.sample_size(len(population), share=0.5, minimum=1)
    assert [(c["case_id"], c["round"]) for c in drawn["checks"]] == expected
    again = (await desk.call("POST", "/v1/spot-checks/draw", "TF-JYG", params={"week": week}))[0]
    assert again["sample"] == drawn["sample"] and [c["id"] for c in again["checks"]] == [
        c["id"] for c in drawn["checks"]
    ]
    tasks = await desk.call("GET", "/v1/spot-checks", "TF-JYG", params={"week": week, "status": "pending"})
    assert {t["id"] for t in tasks} == {c["id"] for c in drawn["checks"]}
    target = tasks[0]
    assert await desk.call("GET", "/v1/spot-checks", "TF-N", params={"week": week}) == []
    await desk.call("GET", f"/v1/spot-checks/{target['id']}", "TF-N", expect=404)
    await desk.call("POST", "/v1/spot-checks/draw", "GW-01", expect=403, params={"week": week})
    await desk.call("POST", "/v1/spot-checks/draw", "TF-JYG", expect=404, params={"week": week, "street_id": "S-N"})

    failed = await desk.call(
        "POST",
        f"/v1/spot-checks/{target['id']}/record",
        "TF-JYG",
        json={"room_temps_c": [16.0, 19.0], "satisfaction": "dissatisfied", "notes": "复核室温不达标"},
    )
    assert failed["status"] == "failed" and failed["checked_by"] == "TF-JYG"
    await desk.call(
        "POST", f"/v1/spot-checks/{target['id']}/record", "TF-JYG", expect=409, json={"room_temps_c": [20.0]}
    )
    events = await desk.verdicts(
        target["case_id"],
        ["VisitScheduled", "VisitRecorded", "CaseClosed", "SpotCheckScheduled", "SpotCheckRecorded", "CaseReopened"],
    )
    reopened = events[5].payload
    assert reopened["reason"] == "spot_check_failed" and reopened["round"] == 1
    assert reopened["spot_check_id"] == target["id"] and reopened["min_temp_c"] == 16.0
    assert events[4].payload["passed"] is False

    if len(tasks) > 1:
        passed = await desk.call(
            "POST", f"/v1/spot-checks/{tasks[1]['id']}/record", "TF-JYG", json={"room_temps_c": [20.5]}
        )
        assert passed["status"] == "passed"


# -- metrics move only with what commits ------------------------------------------------------------------------------


async def test_metrics_move_only_when_their_transaction_commits(desk: Desk) -> None:
    seen: list[str] = []
    sessions = desk.svc.runtime.sessions
    async with sessions() as s:
        async with s.begin():
            await s.execute(text("SELECT 1"))
            after_commit(s, seen.append, "outer")
            with pytest.raises(RuntimeError):
                async with s.begin_nested():
                    after_commit(s, seen.append, "failed savepoint")
                    raise RuntimeError("handler failed")
            async with s.begin_nested():
                after_commit(s, seen.append, "savepoint")
        assert seen == ["outer", "savepoint"]
        with pytest.raises(RuntimeError):
            async with s.begin():
                after_commit(s, seen.append, "rolled back")
                raise RuntimeError("rollback")
        async with s.begin():
            await s.execute(text("SELECT 1"))
    assert seen == ["outer", "savepoint"]


async def test_the_monday_timer_draws_every_street_and_arms_the_next_week(desk: Desk) -> None:
    zone = desk.svc.runtime.settings.zone
    # A fresh week, far from the other tests' weeks.
    week = domain.next_week(domain.next_week(domain.week_of(desk.clock.now(), zone)))
    monday = domain.week_window(week, zone)[0]
    desk.clock.set(monday + timedelta(hours=3))
    loc = place("H-AUTO-1", building="B-AUTO", grid="G-AUTO", street_id="S-AUTO", community_id="CM-AUTO")
    case_id = await desk.feed.fixed_case(loc, desk.clock.now())
    (visit,) = await desk.wait_visits("admin", case_id)
    async with desk.svc.runtime.sessions() as s, s.begin():
        await s.execute(
            text("UPDATE visits SET grid_id = 'G-PHN-01' WHERE id = :id"), {"id": visit["id"]}
        )  # recorded by a grid worker of the seed
        await arm_weekly_draw(s, desk.svc.runtime.settings, desk.clock.now())
    await desk.record("GW-01", visit["id"], room_temps_c=[20.0], satisfaction="satisfied")

    desk.clock.set(draw_due(week, desk.svc.runtime.settings) + timedelta(minutes=1))
    await desk.engine.run_once()
    checks = await desk.call("GET", "/v1/spot-checks", "admin", params={"week": week, "street_id": "S-AUTO"})
    assert [(c["case_id"], c["round"]) for c in checks] == [(case_id, 1)]
    async with desk.svc.runtime.sessions() as s:
        armed = (
            await s.execute(
                text("SELECT due_at FROM timers WHERE kind = 'spot_check_draw' AND ref = :w AND fired_at IS NULL"),
                {"w": domain.next_week(week)},
            )
        ).scalar_one()
    assert armed == draw_due(domain.next_week(week), desk.svc.runtime.settings)


async def test_re_tiering_withdraws_the_open_assignments_of_the_round(desk: Desk) -> None:
    at = desk.clock.now()
    loc = place("H-LK-1-108")
    case_id = await desk.feed.open(loc, at, report_ids=[])
    kept = await desk.feed.assign(case_id, "U-HEAT-1", at)
    await desk.feed.unit_resolved(case_id, kept, "U-HEAT-1", at + timedelta(minutes=20), on_time=True)
    open_one = await desk.feed.assign(case_id, "U-PM-1", at, unit_type=UnitType.PROPERTY_MANAGER)
    await desk.feed.dispatch(
        case_id,
        CaseRetiered(
            case_id=case_id, tier=Tier.COMPLEX, previous_tier=Tier.TECHNICAL, by="TF-JYG", at=at + timedelta(minutes=30)
        ),
        at + timedelta(minutes=30),
    )

    async def statuses() -> dict[str, str] | None:
        async with desk.svc.runtime.sessions() as s:
            rows = dict(
                (
                    await s.execute(
                        select(AssignmentFact.id, AssignmentFact.status).where(AssignmentFact.case_id == case_id)
                    )
                ).all()
            )
        return rows if rows.get(open_one) == "withdrawn" else None

    assert await wait_until("the open assignment withdrawn", statuses) == {kept: "resolved", open_one: "withdrawn"}


async def test_a_building_sample_recorded_all_at_once_closes_the_case_once(desk: Desk) -> None:
    at = desk.clock.now()
    report = await desk.feed.complaint(place("H-LK-3-301", building="B-LK-3"), at)
    for h in ("H-LK-3-302", "H-LK-3-303"):
        await desk.feed.ledger(place(h, building="B-LK-3"), at, residents=1)
    await desk.knows("B-LK-3", {"H-LK-3-301", "H-LK-3-302", "H-LK-3-303"})
    case_id = await desk.feed.fixed_case(place(None, building="B-LK-3"), at, report_ids=[report])
    visits = await desk.wait_visits("GW-01", case_id, count=3)
    answers = await asyncio.gather(
        *(
            desk.record("GW-01", v["id"], room_temps_c=[19.0 + i], satisfaction="satisfied")
            for i, v in enumerate(visits)
        )
    )
    assert sorted(a["status"] for a in answers) == ["closed"] * 3
    events = await desk.verdicts(case_id, ["VisitScheduled"] * 3 + ["VisitRecorded"] * 3 + ["CaseClosed"])
    assert [e.event_type for e in events].count("CaseClosed") == 1 and events[-1].payload["min_temp_c"] == 19.0
