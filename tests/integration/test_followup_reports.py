"""Figures reconcile: a known history — dispatch's and intake's facts produced onto follow-up's topics, return
visits and spot-checks recorded through its API, one visit left to go overdue on the timer — and every number of
the unit scorecard, the daily reports and the season report checked against it.

The history (local time, Asia/Shanghai; D1 = Mon 2026-11-16, D2, D3; street S-JYG of district D-CG with
communities CM-PHN and CM-XC, and a foreign street S-N of district D-N that must never be counted):

C1  PHN H-A2 (R1, raised from a ledger visit)  U-HEAT-1 on time → visit D1 18:00 warm, satisfied → closed
C2  PHN H-A6 (R2)  U-HEAT-1 (late sign-in, late fix) + U-PM-1 (on time) → visit D2 14:00 17 °C → reopened;
    round 2 U-HEAT-1 on time → visit D3 09:00 → closed; spot-check Mon 11-23 fails → reopened again
C3  XC  H-X3 (R3)  U-HEAT-2 late sign-in (催办) → visit overdue D2 20:00 → late visit D3 10:00 dissatisfied →
    reopened; round 2 never signed in
C4  PHN H-A7 (R4, R5; a call from H-A9 grouped into R4: no new problem)  U-PM-1 退单 before its deadline,
    U-HEAT-1 on time → resident unreached twice,
    18.5 °C → closed flagged unreached
C5  XC  H-X4 (R6)  U-HEAT-2 never signs in (通报 D2, 督办 D3)
C6  PHN H-A8 (R7, priority resident)  U-HEAT-1 signed in, 延期 approved to 11-30; whole-case 督办 D3
CN  S-N (RN)  U-N-1 (water company) on time → closed
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from services.followup import texts
from services.followup.main import create_app, timer_engine
from services.followup.models import AssignmentFact, ComplaintFact, EscalationFact, LedgerVisit
from shared.clock import ManualClock
from shared.contracts.common import UnitType
from shared.contracts.dispatch import AssignmentReturned, CaseEscalated, EscalationLevel, ExtensionDecided
from tests.harness import (
    KAFKA,
    check_stack,
    drop_database,
    fresh_database,
    new_prefix,
    run_db,
    run_in_process,
    wait_until,
)
from tests.integration.test_followup_flow import Desk, Feed, place, settings_for, tokens

ZONE = ZoneInfo("Asia/Shanghai")


def L(day: int, hhmm: str) -> datetime:
    """Local time on day 1..7 of the week of 2026-11-16, as UTC."""
    h, m = map(int, hhmm.split(":"))
    return datetime(2026, 11, 15 + day, h, m, tzinfo=ZONE).astimezone(UTC)


PHN = dict(community_id="CM-PHN", grid="G-PHN-01")
XC = dict(community_id="CM-XC", grid="G-XC-01")
NORTH = dict(district_id="D-N", street_id="S-N", community_id="CM-N", grid="G-N-01")


def loc(household: str | None, area: dict[str, str], building: str | None = None) -> Any:
    return place(household, building=building or f"B-{(household or 'X')[:4]}", **area)


COUNTED = [
    ("followup_unit_assignments_total", "U-HEAT-1", "heating_company"),
    ("followup_unit_assignments_total", "U-HEAT-2", "heating_company"),
    ("followup_unit_returns_total", "U-PM-1", "property_manager"),
]


def unit_counter(name: str, unit: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"unit_id": unit, **labels}) or 0.0


@dataclass
class History:
    desk: Desk
    cases: dict[str, str]
    counters_before: dict[tuple[str, str, str], float]


async def escalate(
    feed: Feed,
    case_id: str,
    at: datetime,
    level: EscalationLevel,
    *,
    assignment: str | None,
    unit: str | None,
    clock: str,
    area: dict[str, str] | None = None,
) -> None:
    await feed.dispatch(
        case_id,
        CaseEscalated(
            case_id=case_id,
            assignment_id=assignment,
            unit_id=unit,
            unit_type=UnitType.HEATING_COMPANY if unit else None,
            level=level,
            clock=clock,
            due_at=None,
            escalated_at=at,
            district_id="D-CG",
            street_id="S-JYG",
        ),
        at,
    )


async def build(desk: Desk) -> dict[str, str]:
    f, clock = desk.feed, desk.clock

    async def visit(who: str, case_id: str, at: datetime, round_: int = 1, **body: Any) -> dict[str, Any]:
        (v,) = [x for x in await desk.wait_visits(who, case_id, round_=round_) if x["round"] == round_]
        clock.set(at)
        return await desk.record(who, v["id"], **body)  # type: ignore[no-any-return]

    # Ledger (访民问暖)
    for household, area, day, hhmm, residents, problem in [
        ("H-A1", PHN, 1, "08:00", 3, False),
        ("H-A3", PHN, 1, "08:40", 1, True),  # settled on the spot: no report
        ("H-A1", PHN, 1, "16:00", 2, False),  # the same household again
        ("H-X1", XC, 1, "09:00", 4, False),
        ("H-A4", PHN, 2, "08:00", 2, False),
        (None, PHN, 2, "08:30", 5, False),  # a building visit
        ("H-X2", XC, 2, "09:00", 1, False),  # see below: two findings, neither raised
        ("H-X1", XC, 3, "09:00", 2, False),
        ("H-N1", NORTH, 1, "09:00", 9, True),
    ]:
        await f.ledger(
            loc(household, area, "B-A" if household is None else None),
            L(day, hhmm),
            residents=residents,
            problem=problem,
        )
    r1 = await f.complaint(loc("H-A2", PHN), L(1, "09:00"))
    await f.ledger(loc("H-A2", PHN), L(1, "08:50"), residents=2, findings=1, report_ids=[r1])
    await f.ledger(loc("H-X2", XC), L(2, "09:05"), residents=0, findings=2)  # the same household, two problems

    # C1: on time, warm, satisfied.
    c1 = await f.open(loc("H-A2", PHN), L(1, "09:05"), report_ids=[r1])
    a = await f.assign(c1, "U-HEAT-1", L(1, "09:05"))
    await f.sign_in(c1, a, "U-HEAT-1", L(1, "09:20"), on_time=True)
    await f.unit_resolved(c1, a, "U-HEAT-1", L(1, "15:00"), on_time=True)
    await f.resolved(c1, loc("H-A2", PHN), L(1, "15:00"), units=["U-HEAT-1"], report_ids=[r1])

    # C2: joint, round 1 too cold.
    r2 = await f.complaint(loc("H-A6", PHN), L(1, "10:00"))
    c2 = await f.open(loc("H-A6", PHN), L(1, "10:05"), report_ids=[r2])
    a2h = await f.assign(c2, "U-HEAT-1", L(1, "10:05"))
    a2p = await f.assign(c2, "U-PM-1", L(1, "10:05"), unit_type=UnitType.PROPERTY_MANAGER)
    await f.sign_in(c2, a2p, "U-PM-1", L(1, "10:20"), on_time=True)
    await f.sign_in(c2, a2h, "U-HEAT-1", L(1, "10:50"), on_time=False)
    await f.unit_resolved(c2, a2p, "U-PM-1", L(1, "16:00"), on_time=True)

    # C3: late sign-in after a reminder.
    r3 = await f.complaint(loc("H-X3", XC), L(1, "11:00"))
    c3 = await f.open(loc("H-X3", XC), L(1, "11:05"), report_ids=[r3])
    a3 = await f.assign(c3, "U-HEAT-2", L(1, "11:05"))
    await escalate(f, c3, L(1, "11:40"), EscalationLevel.REMINDER, assignment=a3, unit="U-HEAT-2", clock="sign_in")
    await f.sign_in(c3, a3, "U-HEAT-2", L(1, "12:00"), on_time=False)
    await f.unit_resolved(c3, a3, "U-HEAT-2", L(1, "20:00"), on_time=True)
    await f.resolved(c3, loc("H-X3", XC), L(1, "20:00"), units=["U-HEAT-2"], report_ids=[r3])

    # CN: another street, another district.
    rn = await f.complaint(loc("H-N1", NORTH), L(1, "09:30"))
    cn = await f.open(loc("H-N1", NORTH), L(1, "09:35"), report_ids=[rn])
    an = await f.assign(cn, "U-N-1", L(1, "09:35"), unit_type=UnitType.WATER_COMPANY)
    await f.sign_in(cn, an, "U-N-1", L(1, "09:40"), on_time=True)
    await f.unit_resolved(cn, an, "U-N-1", L(1, "12:00"), on_time=True)
    await f.resolved(cn, loc("H-N1", NORTH), L(1, "12:00"), units=["U-N-1"], report_ids=[rn])

    await visit("GW-N1", cn, L(1, "14:00"), room_temps_c=[21.0], satisfaction="satisfied")
    await visit("GW-01", c1, L(1, "18:00"), room_temps_c=[20.0, 19.0], satisfaction="satisfied")

    # D2
    r4 = await f.complaint(loc("H-A7", PHN), L(2, "09:00"))
    r5 = await f.complaint(loc("H-A7", PHN), L(2, "09:30"))
    await f.grouped(loc("H-A9", PHN), L(2, "09:40"), lead=r4)  # the same problem: never counted again
    c4 = await f.open(loc("H-A7", PHN), L(2, "09:05"), report_ids=[r4])
    a4p = await f.assign(c4, "U-PM-1", L(2, "09:05"), unit_type=UnitType.PROPERTY_MANAGER)
    await f.dispatch(
        c4,
        AssignmentReturned(
            case_id=c4,
            assignment_id=a4p,
            unit_id="U-PM-1",
            unit_type=UnitType.PROPERTY_MANAGER,
            reason_code="not_ours",
            note=None,
            bounce_count=1,
            returned_at=L(2, "09:15"),
        ),
        L(2, "09:15"),
    )
    a4h = await f.assign(c4, "U-HEAT-1", L(2, "09:16"))
    await f.sign_in(c4, a4h, "U-HEAT-1", L(2, "09:30"), on_time=True)

    r6 = await f.complaint(loc("H-X4", XC), L(2, "10:00"))
    c5 = await f.open(loc("H-X4", XC), L(2, "10:05"), report_ids=[r6])
    a5 = await f.assign(c5, "U-HEAT-2", L(2, "10:05"))
    await escalate(f, c5, L(2, "12:00"), EscalationLevel.NOTICE, assignment=a5, unit="U-HEAT-2", clock="sign_in")

    await f.unit_resolved(c2, a2h, "U-HEAT-1", L(2, "12:00"), on_time=False)
    await f.resolved(c2, loc("H-A6", PHN), L(2, "12:00"), units=["U-HEAT-1", "U-PM-1"], report_ids=[r2])
    await f.unit_resolved(c4, a4h, "U-HEAT-1", L(2, "13:00"), on_time=True)
    await f.resolved(c4, loc("H-A7", PHN), L(2, "13:00"), units=["U-HEAT-1"], report_ids=[r4, r5])

    await visit("GW-01", c2, L(2, "14:00"), room_temps_c=[17.0, 19.0], satisfaction="mostly")
    await f.round_started(c2, 2, L(2, "14:05"), "too_cold")
    a2h2 = await f.assign(c2, "U-HEAT-1", L(2, "14:05"), round_=2)
    await f.sign_in(c2, a2h2, "U-HEAT-1", L(2, "14:10"), on_time=True)
    await visit("GW-01", c4, L(2, "17:00"), reached=False)
    await f.unit_resolved(c2, a2h2, "U-HEAT-1", L(2, "18:00"), on_time=True)
    await f.resolved(c2, loc("H-A6", PHN), L(2, "18:00"), units=["U-HEAT-1"], report_ids=[r2], round_=2)

    # C3's visit was due D2 20:00: the timer escalates it to the community.
    await desk.wait_visits("GW-03", c3)
    clock.set(L(2, "20:01"))
    assert await desk.engine.run_once() == 1

    # D3
    r7 = await f.complaint(loc("H-A8", PHN), L(3, "08:00"))
    c6 = await f.open(loc("H-A8", PHN), L(3, "08:05"), report_ids=[r7], priority_resident=True)
    a6 = await f.assign(c6, "U-HEAT-1", L(3, "08:05"), resolve=timedelta(hours=12))
    await f.sign_in(c6, a6, "U-HEAT-1", L(3, "08:10"), on_time=True)
    await f.dispatch(
        c6,
        ExtensionDecided(
            case_id=c6,
            assignment_id=a6,
            unit_id="U-HEAT-1",
            extension_id="E-1",
            approved=True,
            decided_by="TF-JYG",
            resolve_due=L(15, "12:00"),
            decided_at=L(3, "08:30"),
        ),
        L(3, "08:30"),
    )
    await escalate(f, c5, L(3, "09:00"), EscalationLevel.SUPERVISION, assignment=a5, unit="U-HEAT-2", clock="sign_in")
    await visit("GW-01", c2, L(3, "09:00"), round_=2, room_temps_c=[20.0, 21.0], satisfaction="satisfied")
    await visit("GW-03", c3, L(3, "10:00"), room_temps_c=[19.0], satisfaction="dissatisfied")
    await f.round_started(c3, 2, L(3, "10:05"), "dissatisfied")
    await f.assign(c3, "U-HEAT-2", L(3, "10:05"), round_=2)
    await visit("GW-01", c4, L(3, "11:00"), reached=False, room_temps_c=[18.5])
    await escalate(f, c6, L(3, "12:00"), EscalationLevel.SUPERVISION, assignment=None, unit=None, clock="bounces")

    # Everything consumed before the checks.
    async def settled() -> bool:
        async with desk.svc.runtime.sessions() as s:
            counts = [
                await s.scalar(select(func.count()).select_from(model))
                for model in (ComplaintFact, LedgerVisit, AssignmentFact, EscalationFact)
            ]
            a6_due = await s.scalar(select(AssignmentFact.resolve_due).where(AssignmentFact.id == a6))
        return counts == [9, 11, 11, 4] and a6_due == L(15, "12:00")

    await wait_until("the whole history consumed", settled)

    # Monday 11-23: the weekly spot-check of W47 (every closed round of S-JYG): C1 passes, C2 fails.
    clock.set(L(8, "07:00"))
    drawn = (await desk.call("POST", "/v1/spot-checks/draw", "TF-JYG", params={"week": "2026-W47"}))[0]
    checks = {c["case_id"]: c for c in drawn["checks"]}
    assert sorted(checks) == sorted([c1, c2, c4])
    clock.set(L(8, "08:00"))
    await desk.call("POST", f"/v1/spot-checks/{checks[c1]['id']}/record", "TF-JYG", json={"room_temps_c": [20.0]})
    clock.set(L(8, "09:00"))
    await desk.call(
        "POST",
        f"/v1/spot-checks/{checks[c2]['id']}/record",
        "TF-JYG",
        json={"room_temps_c": [20.0], "record_mismatch": True, "notes": "回访照片与现场不符"},
    )
    clock.set(L(8, "09:30"))
    return {"C1": c1, "C2": c2, "C3": c3, "C4": c4, "C5": c5, "C6": c6, "CN": cn}


@pytest.fixture(scope="module")
async def history() -> AsyncIterator[History]:
    await check_stack()
    prefix = new_prefix("fr")
    db = run_db("followup_reports")
    clock = ManualClock(L(1, "07:00"))
    settings = settings_for(
        await fresh_database(db),
        prefix,
        spot_check_share_by_street={"S-JYG": 1.0},
        area_names={"CM-PHN": "排洪南路社区", "CM-XC": "西村社区", "S-JYG": "嘉峪关路街道"},
    )
    before = {
        (name, unit, unit_type): unit_counter(name, unit, unit_type=unit_type) for name, unit, unit_type in COUNTED
    }
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        async with run_in_process(create_app(settings, clock=clock)) as svc:
            rt = svc.runtime
            desk = Desk(
                svc,
                clock,
                timer_engine(rt, rt.writer(settings.topics.followup), clock),
                Feed(producer, settings.topics),
                settings.topics,
                tokens(),
            )
            cases = await build(desk)
            yield History(desk, cases, before)
    finally:
        await producer.stop()
        await drop_database(db)


# -- the unit scorecard ------------------------------------------------------------------------------------------

PERIOD = {"start": "2026-11-16", "end": "2026-11-18"}

U_HEAT_1 = {
    "rank": 2,
    "key": "U-HEAT-1",
    "unit_type": "heating_company",
    "assignments": 5,
    "returns": 0,
    "escalations": 0,
    "sign_in_counted": 5,
    "signed_in_on_time": 4,
    "on_time_sign_in_rate": 0.8,
    "resolve_counted": 4,
    "resolved_on_time": 3,
    "on_time_resolve_rate": 0.75,
    "rounds": 4,
    "rounds_reopened": 2,
    "redo_rate": 0.5,
    "spot_checks": 2,
    "spot_check_failures": 1,
    "visits_answered": 3,
    "visits_satisfied": 3,
    "satisfaction_rate": 1.0,
    "visits_measured": 4,
    "visits_compliant": 3,
    "temperature_compliance": 0.75,
    "mean_temp_c": 19.12,
    "photos": 0,
    "photos_flagged": 0,
    "score": 78.5,
}
U_PM_1 = {
    "rank": 3,
    "key": "U-PM-1",
    "unit_type": "property_manager",
    "assignments": 2,
    "returns": 1,
    "escalations": 0,
    "sign_in_counted": 1,
    "signed_in_on_time": 1,
    "on_time_sign_in_rate": 1.0,
    "resolve_counted": 1,
    "resolved_on_time": 1,
    "on_time_resolve_rate": 1.0,
    "rounds": 1,
    "rounds_reopened": 1,
    "redo_rate": 1.0,
    "spot_checks": 0,
    "spot_check_failures": 0,
    "visits_answered": 1,
    "visits_satisfied": 1,
    "satisfaction_rate": 1.0,
    "visits_measured": 1,
    "visits_compliant": 0,
    "temperature_compliance": 0.0,
    "mean_temp_c": 18.0,
    "photos": 0,
    "photos_flagged": 0,
    "score": 65.0,
}
U_HEAT_2 = {
    "rank": 4,
    "key": "U-HEAT-2",
    "unit_type": "heating_company",
    "assignments": 3,
    "returns": 0,
    "escalations": 3,
    "sign_in_counted": 3,
    "signed_in_on_time": 0,
    "on_time_sign_in_rate": 0.0,
    "resolve_counted": 3,
    "resolved_on_time": 1,
    "on_time_resolve_rate": 0.3333,
    "rounds": 1,
    "rounds_reopened": 1,
    "redo_rate": 1.0,
    "spot_checks": 0,
    "spot_check_failures": 0,
    "visits_answered": 1,
    "visits_satisfied": 0,
    "satisfaction_rate": 0.0,
    "visits_measured": 1,
    "visits_compliant": 1,
    "temperature_compliance": 1.0,
    "mean_temp_c": 19.0,
    "photos": 0,
    "photos_flagged": 0,
    "score": 26.67,
}
U_N_1 = {
    "rank": 1,
    "key": "U-N-1",
    "unit_type": "water_company",
    "assignments": 1,
    "returns": 0,
    "escalations": 0,
    "sign_in_counted": 1,
    "signed_in_on_time": 1,
    "on_time_sign_in_rate": 1.0,
    "resolve_counted": 1,
    "resolved_on_time": 1,
    "on_time_resolve_rate": 1.0,
    "rounds": 1,
    "rounds_reopened": 0,
    "redo_rate": 0.0,
    "spot_checks": 0,
    "spot_check_failures": 0,
    "visits_answered": 1,
    "visits_satisfied": 1,
    "satisfaction_rate": 1.0,
    "visits_measured": 1,
    "visits_compliant": 1,
    "temperature_compliance": 1.0,
    "mean_temp_c": 21.0,
    "photos": 0,
    "photos_flagged": 0,
    "score": 100.0,
}
HEATING = {
    "key": "heating_company",
    "unit_type": None,
    "assignments": 8,
    "returns": 0,
    "escalations": 3,
    "sign_in_counted": 8,
    "signed_in_on_time": 4,
    "on_time_sign_in_rate": 0.5,
    "resolve_counted": 7,
    "resolved_on_time": 4,
    "on_time_resolve_rate": 0.5714,
    "rounds": 5,
    "rounds_reopened": 3,
    "redo_rate": 0.6,
    "spot_checks": 2,
    "spot_check_failures": 1,
    "visits_answered": 4,
    "visits_satisfied": 3,
    "satisfaction_rate": 0.75,
    "visits_measured": 5,
    "visits_compliant": 4,
    "temperature_compliance": 0.8,
    "mean_temp_c": 19.1,
    "photos": 0,
    "photos_flagged": 0,
}
D_CG = {
    "key": "D-CG",
    "unit_type": None,
    "assignments": 10,
    "returns": 1,
    "escalations": 3,
    "sign_in_counted": 9,
    "signed_in_on_time": 5,
    "on_time_sign_in_rate": 0.5556,
    "resolve_counted": 8,
    "resolved_on_time": 5,
    "on_time_resolve_rate": 0.625,
    "rounds": 5,
    "rounds_reopened": 3,
    "redo_rate": 0.6,
    "spot_checks": 2,
    "spot_check_failures": 1,
    "visits_answered": 4,
    "visits_satisfied": 3,
    "satisfaction_rate": 0.75,
    "visits_measured": 5,
    "visits_compliant": 4,
    "temperature_compliance": 0.8,
    "mean_temp_c": 19.1,
    "photos": 0,
    "photos_flagged": 0,
}


def weighted(line: dict[str, Any]) -> float:
    rates = {
        "on_time_sign_in_rate": 0.2,
        "on_time_resolve_rate": 0.2,
        "satisfaction_rate": 0.25,
        "temperature_compliance": 0.2,
        "redo_rate": 0.15,
    }
    total = sum(w * (1 - line[k] if k == "redo_rate" else line[k]) for k, w in rates.items())
    return round(100 * total, 2)


async def test_every_figure_of_the_unit_scorecard(history: History) -> None:
    desk = history.desk
    card = await desk.call("GET", "/v1/scorecards", "admin", params=PERIOD)
    assert card["of"] == 4 and card["scope"] == "all" and card["rank_by"] == "score"
    assert card["lines"] == [U_N_1, U_HEAT_1, U_PM_1, U_HEAT_2]
    for line in card["lines"]:
        assert line["score"] == weighted(line)
    assert set(card["formulas"]) >= {"on_time_sign_in_rate", "redo_rate", "satisfaction_rate", "score"}

    by_type = {
        x["key"]: x
        for x in (await desk.call("GET", "/v1/scorecards", "admin", params=PERIOD | {"group": "unit_type"}))["lines"]
    }
    assert {k: v for k, v in by_type["heating_company"].items() if k not in ("rank", "score")} == HEATING
    assert by_type["property_manager"] | {"rank": 0} == U_PM_1 | {
        "key": "property_manager",
        "unit_type": None,
        "rank": 0,
    }
    by_district = {
        x["key"]: x
        for x in (await desk.call("GET", "/v1/scorecards", "admin", params=PERIOD | {"group": "district"}))["lines"]
    }
    assert {k: v for k, v in by_district["D-CG"].items() if k not in ("rank", "score")} == D_CG
    assert by_district["D-N"] | {"rank": 0} == U_N_1 | {"key": "D-N", "unit_type": None, "rank": 0}

    # The street task force ranks the units working in its street; a unit sees only its own line.
    street = await desk.call("GET", "/v1/scorecards", "TF-JYG", params=PERIOD)
    assert [x["key"] for x in street["lines"]] == ["U-HEAT-1", "U-PM-1", "U-HEAT-2"]
    assert street["lines"][0] == U_HEAT_1 | {"rank": 1}
    own = await desk.call("GET", "/v1/scorecards", "U-HEAT-1", params=PERIOD)
    assert own["lines"] == [U_HEAT_1] and own["of"] == 4 and own["scope"] == "unit:U-HEAT-1"
    await desk.call("GET", "/v1/scorecards", "GW-01", expect=403, params=PERIOD)

    ranked = await desk.call("GET", "/v1/scorecards", "admin", params=PERIOD | {"rank_by": "redo_rate"})
    assert [(x["key"], x["rank"]) for x in ranked["lines"]] == [
        ("U-N-1", 1),
        ("U-HEAT-1", 2),
        ("U-HEAT-2", 3),
        ("U-PM-1", 3),
    ]

    text = await desk.call("GET", "/v1/scorecards", "admin", params=PERIOD | {"format": "csv"})
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == [texts.SCORE_LABELS[k] for k in texts.SCORE_LABELS]
    assert [r[1] for r in rows[1:]] == ["U-N-1", "U-HEAT-1", "U-PM-1", "U-HEAT-2"]
    assert rows[2][rows[0].index("按时签收率")] == "0.8" and rows[2][rows[0].index("平均实测室温")] == "19.12"

    # The underlying Prometheus counters moved by what this history fed.
    def moved(name: str, unit: str, unit_type: str) -> float:
        return unit_counter(name, unit, unit_type=unit_type) - history.counters_before[(name, unit, unit_type)]

    assert moved("followup_unit_assignments_total", "U-HEAT-1", "heating_company") == 5
    assert moved("followup_unit_assignments_total", "U-HEAT-2", "heating_company") == 3
    assert moved("followup_unit_returns_total", "U-PM-1", "property_manager") == 1


# -- the daily and season reports --------------------------------------------------------------------------------

ZERO = {
    "ledger_visits": 0,
    "households_visited": 0,
    "residents_reached": 0,
    "problems_found": 0,
    "found_on_visits": 0,
    "settled_on_site": 0,
    "solved": 0,
    "reopened": 0,
    "withdrawn": 0,
    "open": 0,
    "overdue": 0,
    "escalated": 0,
    "cases_closed": 0,
    "return_visits": 0,
    "visits_overdue": 0,
    "visits_answered": 0,
    "visits_satisfied": 0,
    "satisfaction_rate": None,
    "mean_temp_c": None,
}
DAILY = {
    ("CM-PHN", "2026-11-16"): ZERO
    | {
        "ledger_visits": 4,
        "households_visited": 3,
        "residents_reached": 8,
        "found_on_visits": 2,
        "settled_on_site": 1,
        "problems_found": 3,
        "solved": 2,
        "cases_closed": 1,
        "open": 1,
        "return_visits": 1,
        "visits_answered": 1,
        "visits_satisfied": 1,
        "satisfaction_rate": 1.0,
        "mean_temp_c": 19.5,
    },
    ("CM-PHN", "2026-11-17"): ZERO
    | {
        "ledger_visits": 2,
        "households_visited": 2,
        "residents_reached": 7,
        "problems_found": 2,
        "open": 3,
        "return_visits": 1,
        "visits_answered": 1,
        "visits_satisfied": 1,
        "satisfaction_rate": 1.0,
        "mean_temp_c": 18.0,
    },
    ("CM-PHN", "2026-11-18"): ZERO
    | {
        "problems_found": 1,
        "solved": 3,
        "cases_closed": 2,
        "open": 1,
        "escalated": 1,
        "return_visits": 2,
        "visits_answered": 1,
        "visits_satisfied": 1,
        "satisfaction_rate": 1.0,
        "mean_temp_c": 19.5,
    },
    ("CM-XC", "2026-11-16"): ZERO
    | {
        "ledger_visits": 1,
        "households_visited": 1,
        "residents_reached": 4,
        "problems_found": 1,
        "open": 1,
        "escalated": 1,
    },
    ("CM-XC", "2026-11-17"): ZERO
    | {
        "ledger_visits": 2,
        "households_visited": 1,
        "residents_reached": 1,
        "found_on_visits": 2,
        "settled_on_site": 2,
        "problems_found": 3,
        "solved": 2,
        "open": 2,
        "overdue": 2,
        "escalated": 1,
        "visits_overdue": 1,
    },
    ("CM-XC", "2026-11-18"): ZERO
    | {
        "ledger_visits": 1,
        "households_visited": 1,
        "residents_reached": 2,
        "open": 2,
        "overdue": 2,
        "escalated": 1,
        "return_visits": 1,
        "visits_answered": 1,
        "satisfaction_rate": 0.0,
        "mean_temp_c": 19.0,
    },
    # Monday: the failed spot-check reopened C2 (R2 is open again).
    ("CM-PHN", "2026-11-23"): ZERO | {"reopened": 1, "open": 2},
}


def notable(history: History, *items: tuple[str, list[str]]) -> list[dict[str, Any]]:
    homes = {"C2": "H-A6", "C3": "H-X3", "C4": "H-A7", "C5": "H-X4", "C6": "H-A8"}
    return [
        {
            "case_id": history.cases[c],
            "category": "cold_room",
            "building_id": f"B-{homes[c][:4]}",
            "household_id": homes[c],
            "reasons": reasons,
        }
        for c, reasons in items
    ]


async def test_every_figure_of_the_daily_reports(history: History) -> None:
    desk = history.desk
    for (community, day), expected in DAILY.items():
        report = await desk.call("GET", "/v1/reports/daily", "DIST-CG", params={"date": day, "community_id": community})
        assert report["figures"] == expected, (community, day)
    h = history
    notables = {
        ("CM-PHN", "2026-11-16"): [],
        ("CM-PHN", "2026-11-17"): notable(h, ("C2", ["reopened"])),
        ("CM-PHN", "2026-11-18"): notable(
            h, ("C6", ["supervision", "priority_resident_open"]), ("C4", ["closed_unreached"])
        ),
        ("CM-XC", "2026-11-16"): notable(h, ("C3", ["reminder"])),
        ("CM-XC", "2026-11-17"): notable(h, ("C3", ["visit_overdue"]), ("C5", ["notice"])),
        ("CM-XC", "2026-11-18"): notable(h, ("C5", ["supervision"]), ("C3", ["reopened"])),
        ("CM-PHN", "2026-11-23"): notable(h, ("C2", ["spot_check_failed"]), ("C6", ["priority_resident_open"])),
    }
    for (community, day), expected_notable in notables.items():
        report = await desk.call("GET", "/v1/reports/daily", "TF-JYG", params={"date": day, "community_id": community})
        assert report["notable"] == expected_notable, (community, day)

    # The street is the sum of its communities (households counted once) and never sees another street.
    street = await desk.call("GET", "/v1/reports/daily", "TF-JYG", params={"date": "2026-11-17", "street_id": "S-JYG"})
    phn, xc = DAILY[("CM-PHN", "2026-11-17")], DAILY[("CM-XC", "2026-11-17")]
    summed = {k: phn[k] + xc[k] for k in phn if isinstance(phn[k], int)}
    assert {k: v for k, v in street["figures"].items() if k in summed} == summed
    assert street["figures"]["satisfaction_rate"] == 1.0 and street["figures"]["mean_temp_c"] == 18.0

    # Readable Chinese text, CSV, and who may read which area.
    text = await desk.call(
        "GET", "/v1/reports/daily", "GW-01", params={"date": "2026-11-18", "community_id": "CM-PHN", "format": "text"}
    )
    assert text.splitlines()[0] == "排洪南路社区2026年11月18日日报告"
    assert text.splitlines()[1] == (
        "2026年11月18日，排洪南路社区走访0户0名居民，排查问题1条，已解决3条（其中现场化解0条），在办1条，"
        "超时未办0件，催办督办1件；完成回访2户，回访超时0户。"
    )
    assert "重点关注：" in text and f"1. {history.cases['C6']}（暖气不热，H-A8）：提级督办、重点人群诉求在办" in text
    table = await desk.call(
        "GET", "/v1/reports/daily", "DIST-CG", params={"date": "2026-11-17", "community_id": "CM-XC", "format": "csv"}
    )
    header, row = list(csv.reader(io.StringIO(table.lstrip("\ufeff"))))
    assert dict(zip(header, row, strict=True))["超时未办"] == "2" and row[:2] == ["2026-11-17", "CM-XC"]
    for who, params in [
        ("GW-01", {"community_id": "CM-XC"}),  # not the grid worker's community
        ("GW-01", {"street_id": "S-JYG"}),
        ("TF-N", {"community_id": "CM-PHN"}),
        ("DIST-CG", {"community_id": "CM-NOWHERE"}),
    ]:
        await desk.call("GET", "/v1/reports/daily", who, expect=404, params={"date": "2026-11-17", **params})
    await desk.call(
        "GET", "/v1/reports/daily", "DIST-CG", expect=422, params={"date": "2026-11-24", "street_id": "S-JYG"}
    )
    await desk.call("GET", "/v1/reports/daily", "U-HEAT-1", expect=403, params={"street_id": "S-JYG"})


async def test_every_figure_of_the_season_report(history: History) -> None:
    desk = history.desk
    season = await desk.call(
        "GET",
        "/v1/reports/season",
        "DIST-CG",
        params={"start": "2026-11-16", "end": "2026-11-18", "street_id": "S-JYG"},
    )
    days = [d["figures"] for d in season["days"]]
    assert [d["date"] for d in season["days"]] == ["2026-11-16", "2026-11-17", "2026-11-18"]
    for day, figures in zip(("2026-11-16", "2026-11-17", "2026-11-18"), days, strict=True):
        phn, xc = DAILY[("CM-PHN", day)], DAILY[("CM-XC", day)]
        for key in (
            "ledger_visits",
            "residents_reached",
            "problems_found",
            "found_on_visits",
            "settled_on_site",
            "solved",
            "reopened",
            "withdrawn",
            "open",
            "overdue",
            "escalated",
            "cases_closed",
            "return_visits",
            "visits_overdue",
            "visits_answered",
            "visits_satisfied",
        ):
            assert figures[key] == phn[key] + xc[key], (day, key)
    assert [d["households_visited"] for d in days] == [4, 3, 1]
    assert [d["mean_temp_c"] for d in days] == [19.5, 18.0, 19.33]
    # The stock of open problems moves by exactly the day's flows.
    previous = 0
    for d in days:
        assert d["open"] == previous + d["problems_found"] - d["solved"] + d["reopened"] - d["withdrawn"]
        previous = d["open"]

    assert season["totals"] == ZERO | {
        "ledger_visits": 10,
        "households_visited": 7,
        "residents_reached": 22,
        "found_on_visits": 4,
        "settled_on_site": 3,
        "problems_found": 10,
        "solved": 7,
        "open": 3,
        "overdue": 2,
        "escalated": 3,
        "cases_closed": 3,
        "return_visits": 5,
        "visits_overdue": 1,
        "visits_answered": 4,
        "visits_satisfied": 3,
        "satisfaction_rate": 0.75,
        "mean_temp_c": 19.1,
    }
    assert season["text"].splitlines()[0] == (
        "2026年11月16日至2026年11月18日，嘉峪关路街道累计走访辖区7户22名居民，排查问题10条，已解决7条，在办3条；"
        "完成回访5户，回访满意率75.0%，平均实测室温19.1°C。"
    )
    assert season["text"].splitlines()[2] == "11月16日  走访4户  排查4条  解决2条  在办2条  超时0件"
    table = await desk.call(
        "GET",
        "/v1/reports/season",
        "DIST-CG",
        params={"start": "2026-11-16", "end": "2026-11-18", "street_id": "S-JYG", "format": "csv"},
    )
    rows = list(csv.DictReader(io.StringIO(table.lstrip("\ufeff"))))
    assert [r["日期"] for r in rows] == ["2026-11-16", "2026-11-17", "2026-11-18", "合计"]
    assert [int(r["排查问题"]) for r in rows] == [4, 5, 1, 10] and rows[-1]["已解决"] == "7"
