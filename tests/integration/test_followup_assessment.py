"""The 12345 hotline's assessment reconciled with a known history — dispatch's facts produced onto follow-up's
topic, including 催单 (CaseHurried) and 撤单 (CaseWithdrawn), return visits recorded through the API — and what a
withdrawn case does to its return visits.

The history (local time, Asia/Shanghai; D1 = Mon 2026-11-16; street S-JYG; sign-in within 30 min, 办结 within
24 h):

C1  U-HEAT-1 signed in on time, fixed on time → visit D1 15:00 satisfied → closed
C2  U-HEAT-1 signed in late, fixed late + U-PM-1 on time → visit D2 14:00 dissatisfied → reopened;
    round 2 U-HEAT-1 on time → visit D3 09:00 基本满意 → closed. 催单 D2 09:30 while U-HEAT-1 held a clock
C3  U-HEAT-2 never signs in; 催单 twice (the second puts it under 督办), naming U-HEAT-2
C4  U-HEAT-1 (never signs in) + U-PM-1 (on time); 催单 naming both; 撤单 D2 12:00 → counts against nobody
C5  U-PM-1 on time → visit D2 17:00 dissatisfied → reopened; round 2 fixed, its visit pending; 撤单 D3 08:00 →
    the pending visit cancelled (never overdue), the recorded one kept; counts against nobody
(only C4 and C5 carry a report, so the daily reports show the two 撤单 alone)
and a 撤单 and a 催单 of a case follow-up never saw, which must not get stuck.

By hand, at D4 12:00 for D1–D3 (composite = 30 响应率 + 35 解决率 + 35 满意率, over 100):

unit      assignments cases 响应率 按时签收率 按时办结率 解决率 满意率 重复诉求率 composite
U-HEAT-1  3           2     3/3    2/3        2/3        2/2    2/3    1/2        30 + 35 + 23.33 = 88.33
U-PM-1    1           1     1/1    1/1        1/1        0/1    0/1    0/1        30
U-HEAT-2  1           1     0/1    0/1        0/1        —      —      1/1        0
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select

from services.followup.main import closed_cases, create_app, timer_engine
from services.followup.metrics import refresh_once
from services.followup.models import AssignmentFact, CaseFact, HurryFact, Photo, Round, inbox
from shared.clock import ManualClock
from shared.contracts.common import UnitType
from shared.contracts.dispatch import CaseHurried, CaseWithdrawn
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
PERIOD = {"start": "2026-11-16", "end": "2026-11-18"}
PM = UnitType.PROPERTY_MANAGER


def L(day: int, hhmm: str) -> datetime:
    h, m = map(int, hhmm.split(":"))
    return datetime(2026, 11, 15 + day, h, m, tzinfo=ZONE).astimezone(UTC)


@dataclass
class History:
    desk: Desk
    cases: dict[str, str]
    visits: dict[str, str]


async def hurry(feed: Feed, case_id: str, at: datetime, units: list[str], *, count: int, supervised: bool) -> None:
    await feed.dispatch(
        case_id,
        CaseHurried(
            case_id=case_id,
            report_id=f"R-{uuid.uuid4().hex[:12]}",
            hurries=count,
            unit_ids=units,
            supervised=supervised,
            hurried_at=at,
            district_id="D-CG",
            street_id="S-JYG",
        ),
        at,
    )


async def withdraw(feed: Feed, case_id: str, at: datetime, units: list[str]) -> None:
    await feed.dispatch(
        case_id,
        CaseWithdrawn(case_id=case_id, report_ids=[], unit_ids=units, reason="市民来电撤销诉求", withdrawn_at=at),
        at,
    )


async def build(desk: Desk) -> tuple[dict[str, str], dict[str, str]]:
    f, clock = desk.feed, desk.clock
    recorded: dict[str, str] = {}

    async def visit(case_id: str, at: datetime, round_: int = 1, **body: Any) -> None:
        (v,) = [x for x in await desk.wait_visits("GW-01", case_id, round_=round_) if x["round"] == round_]
        clock.set(at)
        await desk.record("GW-01", v["id"], **body)
        recorded[f"{case_id}/{round_}"] = v["id"]

    def loc(n: int) -> Any:
        return place(f"H-AS-{n}", building="B-AS")

    # D1
    c1 = await f.open(loc(1), L(1, "09:00"), report_ids=[])
    a = await f.assign(c1, "U-HEAT-1", L(1, "09:00"))
    await f.sign_in(c1, a, "U-HEAT-1", L(1, "09:10"), on_time=True)
    await f.unit_resolved(c1, a, "U-HEAT-1", L(1, "12:00"), on_time=True)
    await f.resolved(c1, loc(1), L(1, "12:00"), units=["U-HEAT-1"], report_ids=[])

    c2 = await f.open(loc(2), L(1, "10:00"), report_ids=[])
    a2h = await f.assign(c2, "U-HEAT-1", L(1, "10:00"))
    a2p = await f.assign(c2, "U-PM-1", L(1, "10:00"), unit_type=PM)
    await f.sign_in(c2, a2p, "U-PM-1", L(1, "10:05"), on_time=True)
    await f.sign_in(c2, a2h, "U-HEAT-1", L(1, "10:50"), on_time=False)
    await f.unit_resolved(c2, a2p, "U-PM-1", L(1, "11:00"), on_time=True)

    c3 = await f.open(loc(3), L(1, "11:00"), report_ids=[])
    await f.assign(c3, "U-HEAT-2", L(1, "11:00"))
    await hurry(f, c3, L(1, "13:00"), ["U-HEAT-2"], count=1, supervised=False)
    await hurry(f, c3, L(1, "15:00"), ["U-HEAT-2"], count=2, supervised=True)

    await visit(c1, L(1, "15:00"), room_temps_c=[20.0], satisfaction="satisfied")

    # D2
    r4 = await f.complaint(loc(4), L(2, "08:55"))
    c4 = await f.open(loc(4), L(2, "09:00"), report_ids=[r4])
    await f.assign(c4, "U-HEAT-1", L(2, "09:00"))
    a4p = await f.assign(c4, "U-PM-1", L(2, "09:00"), unit_type=PM)
    await f.sign_in(c4, a4p, "U-PM-1", L(2, "09:10"), on_time=True)
    await hurry(f, c2, L(2, "09:30"), ["U-HEAT-1"], count=1, supervised=False)
    await hurry(f, c4, L(2, "10:00"), ["U-HEAT-1", "U-PM-1"], count=1, supervised=False)
    await withdraw(f, c4, L(2, "12:00"), ["U-HEAT-1", "U-PM-1"])

    await f.unit_resolved(c2, a2h, "U-HEAT-1", L(2, "12:00"), on_time=False)
    await f.resolved(c2, loc(2), L(2, "12:00"), units=["U-HEAT-1", "U-PM-1"], report_ids=[])
    await visit(c2, L(2, "14:00"), room_temps_c=[17.0], satisfaction="dissatisfied")
    await f.round_started(c2, 2, L(2, "14:05"), "too_cold")
    a2h2 = await f.assign(c2, "U-HEAT-1", L(2, "14:05"), round_=2)
    await f.sign_in(c2, a2h2, "U-HEAT-1", L(2, "14:10"), on_time=True)

    r5 = await f.complaint(loc(5), L(2, "14:55"))
    c5 = await f.open(loc(5), L(2, "15:00"), report_ids=[r5])
    a5 = await f.assign(c5, "U-PM-1", L(2, "15:00"), unit_type=PM)
    await f.sign_in(c5, a5, "U-PM-1", L(2, "15:05"), on_time=True)
    await f.unit_resolved(c5, a5, "U-PM-1", L(2, "16:00"), on_time=True)
    await f.resolved(c5, loc(5), L(2, "16:00"), units=["U-PM-1"], report_ids=[])
    await visit(c5, L(2, "17:00"), room_temps_c=[16.0], satisfaction="dissatisfied")
    await f.round_started(c5, 2, L(2, "17:05"), "too_cold")
    a52 = await f.assign(c5, "U-PM-1", L(2, "17:05"), round_=2, unit_type=PM)
    await f.sign_in(c5, a52, "U-PM-1", L(2, "17:10"), on_time=True)
    await f.unit_resolved(c5, a52, "U-PM-1", L(2, "18:00"), on_time=True)
    await f.resolved(c5, loc(5), L(2, "18:00"), units=["U-PM-1"], report_ids=[], round_=2)

    await f.unit_resolved(c2, a2h2, "U-HEAT-1", L(2, "18:00"), on_time=True)
    await f.resolved(c2, loc(2), L(2, "18:00"), units=["U-HEAT-1"], report_ids=[], round_=2)

    # D3: C5 withdrawn while its second visit is pending (twice: a second announcement changes nothing).
    (pending,) = await desk.wait_visits("GW-01", c5, round_=2)
    recorded[f"{c5}/2"] = pending["id"]
    await withdraw(f, c5, L(3, "08:00"), [])
    await withdraw(f, c5, L(3, "08:30"), [])
    unseen = f"C-{uuid.uuid4().hex[:12]}"
    await withdraw(f, unseen, L(3, "08:40"), ["U-HEAT-1"])
    await hurry(f, unseen, L(3, "08:45"), ["U-HEAT-1"], count=1, supervised=False)
    await visit(c2, L(3, "09:00"), round_=2, room_temps_c=[20.0, 21.0], satisfaction="mostly")

    async def settled() -> bool:
        async with desk.svc.runtime.sessions() as s:
            consumed = await s.scalar(select(func.count()).select_from(inbox))
            assignments = await s.scalar(select(func.count()).select_from(AssignmentFact))
            hurries = await s.scalar(select(func.count()).select_from(HurryFact))
        return (consumed, assignments, hurries) == (len(f.sent), 9, 5)

    await wait_until("the whole history consumed", settled)
    clock.set(L(4, "12:00"))
    cases = {"C1": c1, "C2": c2, "C3": c3, "C4": c4, "C5": c5, "unseen": unseen}
    return cases, recorded


@pytest.fixture(scope="module")
async def history() -> AsyncIterator[History]:
    await check_stack()
    prefix = new_prefix("fa")
    db = run_db("followup_assessment")
    clock = ManualClock(L(1, "07:00"))
    settings = settings_for(await fresh_database(db), prefix)
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
            cases, visits = await build(desk)
            yield History(desk, cases, visits)
    finally:
        await producer.stop()
        await drop_database(db)


FIGURES = (
    "rank",
    "assignments",
    "cases",
    "sign_in_due",
    "signed_in",
    "signed_in_on_time",
    "response_rate",
    "on_time_sign_in_rate",
    "resolve_due",
    "resolved_on_time",
    "on_time_resolve_rate",
    "cases_decided",
    "cases_closed",
    "resolution_rate",
    "visits_answered",
    "visits_satisfied",
    "satisfaction_rate",
    "cases_hurried",
    "repeat_complaint_rate",
    "composite",
)
BY_HAND = {
    "U-HEAT-1": (1, 3, 2, 3, 3, 2, 1.0, 0.6667, 3, 2, 0.6667, 2, 2, 1.0, 3, 2, 0.6667, 1, 0.5, 88.33),
    "U-PM-1": (2, 1, 1, 1, 1, 1, 1.0, 1.0, 1, 1, 1.0, 1, 0, 0.0, 1, 0, 0.0, 0, 0.0, 30.0),
    "U-HEAT-2": (3, 1, 1, 1, 0, 0, 0.0, 0.0, 1, 0, 0.0, 0, 0, None, 0, 0, None, 1, 1.0, 0.0),
}


def figures(line: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(line[k] for k in FIGURES)


async def test_every_figure_of_the_assessment_per_unit(history: History) -> None:
    desk = history.desk
    card = await desk.call("GET", "/v1/assessment", "admin", params=PERIOD)
    assert (card["start"], card["end"], card["by"], card["rank_by"], card["scope"], card["of"]) == (
        "2026-11-16",
        "2026-11-18",
        "unit",
        "composite",
        "all",
        3,
    )
    assert card["weights"] == {"response_rate": 30.0, "resolution_rate": 35.0, "satisfaction_rate": 35.0}
    got = {line["key"]: figures(line) for line in card["lines"]}
    assert got == BY_HAND  # no U-PM-1 figure of C4 or C5, no U-HEAT-1 figure of C4
    assert [line["key"] for line in card["lines"]] == ["U-HEAT-1", "U-PM-1", "U-HEAT-2"]
    assert {line["key"]: line["unit_type"] for line in card["lines"]}["U-PM-1"] == "property_manager"
    assert set(card["formulas"]) >= {"response_rate", "resolution_rate", "satisfaction_rate", "composite"}


async def test_a_unit_type_pools_its_units(history: History) -> None:
    card = await history.desk.call("GET", "/v1/assessment", "admin", params=PERIOD | {"by": "unit_type"})
    lines = {line["key"]: line for line in card["lines"]}
    assert set(lines) == {"heating_company", "property_manager"}
    heat = lines["heating_company"]
    assert (heat["assignments"], heat["cases"], heat["sign_in_due"], heat["signed_in"]) == (4, 3, 4, 3)
    assert (heat["response_rate"], heat["on_time_sign_in_rate"], heat["on_time_resolve_rate"]) == (0.75, 0.5, 0.5)
    assert (heat["resolution_rate"], heat["satisfaction_rate"], heat["repeat_complaint_rate"]) == (1.0, 0.6667, 0.6667)
    assert heat["composite"] == round(30 * 0.75 + 35 * 1.0 + 35 * 0.6667, 2) == 80.83
    assert figures(lines["property_manager"])[1:] == BY_HAND["U-PM-1"][1:]


async def test_the_scorecard_leaves_withdrawn_cases_out_too(history: History) -> None:
    card = await history.desk.call("GET", "/v1/scorecards", "admin", params=PERIOD)
    lines = {line["key"]: line for line in card["lines"]}
    assert lines["U-HEAT-1"]["assignments"] == 3 and lines["U-PM-1"]["assignments"] == 1
    assert (lines["U-PM-1"]["visits_answered"], lines["U-PM-1"]["rounds"]) == (1, 1)  # C2 only, not C5


async def test_the_assessment_is_scoped_like_the_scorecard(history: History) -> None:
    desk = history.desk
    street = await desk.call("GET", "/v1/assessment", "TF-JYG", params=PERIOD)
    assert street["scope"] == "street:S-JYG" and {line["key"] for line in street["lines"]} == set(BY_HAND)
    own = await desk.call("GET", "/v1/assessment", "U-HEAT-1", params=PERIOD | {"unit_id": "U-PM-1"})
    assert [line["key"] for line in own["lines"]] == ["U-HEAT-1"] and own["of"] == 3
    assert (await desk.call("GET", "/v1/assessment", "U-HEAT-1", params=PERIOD | {"by": "unit_type"}))["lines"] == []
    other = await desk.call("GET", "/v1/assessment", "TF-N", params=PERIOD)
    assert other["lines"] == []
    denied = await desk.call("GET", "/v1/assessment", "GW-01", expect=403, params=PERIOD)
    assert denied["detail"]["code"]
    bad = await desk.call(
        "GET", "/v1/assessment", "admin", expect=422, params={"start": "2026-11-18", "end": "2026-11-16"}
    )
    assert bad["detail"]["code"] == "range_invalid" and bad["detail"]["field"] == "start"
    await desk.call("GET", "/v1/assessment", "admin", expect=422, params=PERIOD | {"by": "district"})


async def test_ranked_by_repeat_complaints_fewest_first(history: History) -> None:
    card = await history.desk.call(
        "GET", "/v1/assessment", "admin", params=PERIOD | {"rank_by": "repeat_complaint_rate"}
    )
    assert [(line["key"], line["rank"]) for line in card["lines"]] == [("U-PM-1", 1), ("U-HEAT-1", 2), ("U-HEAT-2", 3)]


async def test_the_csv_has_chinese_headings_and_the_same_figures(history: History) -> None:
    text = await history.desk.call("GET", "/v1/assessment", "admin", params=PERIOD | {"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    heat = next(r for r in rows if r["单位/类别"] == "U-HEAT-1")
    assert (heat["响应率"], heat["解决率"], heat["满意率"], heat["重复诉求率"], heat["综合得分"]) == (
        "1.0",
        "1.0",
        "0.6667",
        "0.5",
        "88.33",
    )
    assert heat["单位类型"] == "供热企业"
    by_type = await history.desk.call(
        "GET", "/v1/assessment", "admin", params=PERIOD | {"format": "csv", "by": "unit_type"}
    )
    assert {r["单位/类别"] for r in csv.DictReader(io.StringIO(by_type.lstrip("\ufeff")))} == {"供热企业", "物业"}


async def test_a_withdrawn_case_owes_no_visit_and_keeps_the_one_recorded(history: History) -> None:
    desk, c5 = history.desk, history.cases["C5"]
    visits = {(v["round"], v["id"]): v["status"] for v in await desk.visits("GW-01", c5)}
    assert visits == {(1, history.visits[f"{c5}/1"]): "reopened", (2, history.visits[f"{c5}/2"]): "cancelled"}
    pending = await desk.call("GET", "/v1/visits", "GW-01", params={"case_id": c5})
    assert pending == []
    # Its deadline (D3 18:00) has passed: the timer was disarmed, nothing goes overdue.
    assert await desk.engine.run_once() == 0
    cancelled = await desk.call("GET", f"/v1/visits/{history.visits[f'{c5}/2']}", "GW-01")
    assert cancelled["overdue_at"] is None
    again = await desk.record(
        "GW-01", history.visits[f"{c5}/2"], expect=409, room_temps_c=[20.0], satisfaction="satisfied"
    )
    assert again["detail"]["code"] == "visit_not_pending"
    async with desk.svc.runtime.sessions() as s:
        rounds = dict((await s.execute(select(Round.round, Round.outcome).where(Round.case_id == c5))).all())
        case = await s.get(CaseFact, c5)
        c4 = await s.get(CaseFact, history.cases["C4"])
        unseen = await s.get(CaseFact, history.cases["unseen"])
        open_c4 = await s.scalar(
            select(func.count()).where(
                AssignmentFact.case_id == history.cases["C4"], AssignmentFact.status != "withdrawn"
            )
        )
    assert rounds == {1: "reopened", 2: "withdrawn"}
    assert case is not None and case.status == "withdrawn" and case.withdrawn_at == L(3, "08:00")  # the first one
    assert c4 is not None and c4.status == "withdrawn" and open_c4 == 0
    assert unseen is None  # nothing to record of a case follow-up never saw; and the consumer moved on


async def test_the_photos_of_a_withdrawn_case_fall_due_for_retention_like_a_closed_cases(history: History) -> None:
    desk, c5 = history.desk, history.cases["C5"]
    key = f"uploads/{uuid.uuid4().hex}"
    async with desk.svc.runtime.sessions() as s, s.begin():
        s.add(
            Photo(
                key=key,
                owner="grid_worker:GW-01",
                content_type="image/jpeg",
                granted_at=L(2, "16:30"),
                expires_at=L(2, "17:30"),
                status="accepted",
                subject=f"visit:{history.visits[f'{c5}/1']}",
                case_id=c5,
                outside_window=False,
            )
        )
    async with desk.svc.runtime.sessions() as s:
        assert key not in (await s.scalars(closed_cases(L(3, "08:00")))).all()  # withdrawn at 08:00, not before
        assert key in (await s.scalars(closed_cases(L(3, "08:01")))).all()


async def test_the_daily_reports_count_a_withdrawal_out_of_the_open_stock(history: History) -> None:
    desk = history.desk
    want = {"2026-11-16": (0, 0, 0), "2026-11-17": (2, 1, 1), "2026-11-18": (0, 1, 0)}
    for day, (found, withdrawn, open_) in want.items():
        r = await desk.call("GET", "/v1/reports/daily", "TF-JYG", params={"date": day, "community_id": "CM-PHN"})
        f = r["figures"]
        # overdue: C3 alone (U-HEAT-2 never signed in); not C4, whose U-HEAT-1 never signed in either
        assert (f["problems_found"], f["withdrawn"], f["open"], f["overdue"]) == (found, withdrawn, open_, 1), day
    season = await desk.call(
        "GET", "/v1/reports/season", "TF-JYG", params={"start": "2026-11-16", "end": "2026-11-18", "street_id": "S-JYG"}
    )
    assert (season["totals"]["withdrawn"], season["totals"]["open"]) == (2, 0)


async def test_the_gauges_show_the_assessment_of_the_last_days(history: History) -> None:
    desk = history.desk
    await refresh_once(desk.svc.runtime, desk.svc.runtime.settings, desk.clock)
    metrics = (await desk.svc.http.get("/metrics")).text
    assert 'followup_assessment_composite{unit_id="U-HEAT-1",unit_type="heating_company"} 88.33' in metrics

    def rate(indicator: str, unit: str) -> str:
        return f'followup_assessment_rate{{indicator="{indicator}",unit_id="{unit}",unit_type="heating_company"}}'

    assert rate("repeat_complaint_rate", "U-HEAT-2") + " 1.0" in metrics
    assert rate("response_rate", "U-HEAT-2") + " 0.0" in metrics
    assert rate("resolution_rate", "U-HEAT-2") not in metrics  # nothing decided: no series
    assert rate("satisfaction_rate", "U-HEAT-1") + " 0.6667" in metrics
