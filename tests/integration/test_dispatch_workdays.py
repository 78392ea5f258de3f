"""Working-day clocks on the real stack with an injected clock: a 费用纠纷 case over the 2026 Spring Festival (15–23
February off, Saturdays 14 and 28 February worked) gets its deadlines and its escalation steps in working time; an
approved 延期 on such a clock spaces its steps in working time; an admin amends a year the package does not know,
and the amendment route refuses bad input naming the field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import select

from deploy.seed import registry
from services.dispatch.config import DispatchSettings
from services.dispatch.main import create_app, timer_engine
from services.dispatch.models import timers
from services.dispatch.workdays import CHINA
from shared.clock import ManualClock
from shared.contracts.common import Category
from shared.settings import DEV_ADMIN_TOKEN, DEV_AUTH_PRIVATE_KEY
from tests.harness import KAFKA, check_stack, drop_database, fresh_database, new_prefix, run_db, run_in_process
from tests.integration.test_dispatch_clocks import Desk

ADMIN = {"X-Admin-Token": DEV_ADMIN_TOKEN}


def cst(month: int, day: int, hour: int, minute: int = 0, second: int = 0, *, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=CHINA)


@pytest.fixture(scope="module")
async def desk() -> AsyncIterator[Desk]:
    await check_stack()
    prefix = new_prefix("workdays")
    db = run_db("dispatch_workdays")
    clock = ManualClock(cst(2, 13, 10))
    settings = DispatchSettings(
        database_url=await fresh_database(db),
        kafka_bootstrap=KAFKA,
        kafka_topic_prefix=prefix,
        environment="test",
        run_timers=False,
    )
    doc = registry.read()
    tokens = registry.tokens(doc, DEV_AUTH_PRIVATE_KEY)
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True, acks="all")
    await producer.start()
    async with run_in_process(create_app(settings, clock=clock)) as svc:
        (await svc.http.put("/admin/units", json=registry.dispatch_units(doc), headers=ADMIN)).raise_for_status()
        engine = timer_engine(svc.runtime, svc.runtime.writer(settings.topics.cases), clock)
        yield Desk(svc, clock, engine, settings.topics, producer, tokens)
    await producer.stop()
    await drop_database(db)


def due(assignment: dict[str, Any], clock: str) -> datetime:
    return datetime.fromisoformat(assignment[f"{clock}_due"])


async def steps(desk: Desk, case_id: str) -> list[tuple[str, str]]:
    """The escalation steps on the case's timeline: (clock, level)."""
    case = await desk.case(case_id)
    return [(e["detail"]["clock"], e["detail"]["level"]) for e in case["timeline"] if e["kind"] == "escalated"]


async def timer_due(desk: Desk, assignment_id: str, kind: str) -> datetime | None:
    async with desk.svc.runtime.sessions() as s:
        found: datetime | None = await s.scalar(
            select(timers.c.due_at).where(timers.c.ref == assignment_id, timers.c.kind == kind)
        )
        return found


async def test_a_fee_dispute_over_the_spring_festival_runs_on_working_days(desk: Desk) -> None:
    desk.clock.set(cst(2, 13, 10))  # Friday before the festival
    case_id = await desk.complain(Category.FEE_DISPUTE)
    a = (await desk.assignments("TF-JYG", case_id))[0]
    # 签收 within 1 working day: the make-up Saturday counts.
    assert due(a, "sign_in") == cst(2, 14, 10)
    # 5 working days: 14 February, then 24–27 February after nine days off.
    assert due(a, "on_site") == cst(2, 27, 10)
    # 办结 within 15 working days: 14 Feb, 24–28 Feb (the 28th worked), 2–6 Mar, 9–12 Mar.
    assert due(a, "resolve") == cst(3, 12, 10)
    # The case API answers the same absolute deadlines.
    shown = next(x for x in (await desk.case(case_id))["assignments"] if x["id"] == a["id"])
    assert (due(shown, "sign_in"), due(shown, "resolve")) == (cst(2, 14, 10), cst(3, 12, 10))

    # 催办 at the deadline on the make-up Saturday; 通报 half a working day (4 working hours) later, that afternoon.
    desk.clock.set(cst(2, 14, 10, 0, 1))
    await desk.fire_due()
    assert await steps(desk, case_id) == [("sign_in", "reminder")]
    desk.clock.set(cst(2, 14, 14, 0, 1))
    await desk.fire_due()
    assert await steps(desk, case_id) == [("sign_in", "reminder"), ("sign_in", "notice")]
    # 督办 a whole working day after the deadline: 7 hours that Saturday, 1 more when work resumes on 24 February —
    # nothing fires over the festival.
    assert await timer_due(desk, a["id"], "sign_in:supervision") == cst(2, 24, 10)
    desk.clock.set(cst(2, 23, 16))
    await desk.fire_due()
    assert len(await steps(desk, case_id)) == 2
    desk.clock.set(cst(2, 24, 10, 0, 1))
    await desk.fire_due()
    assert (await steps(desk, case_id))[-1] == ("sign_in", "supervision")
    assert (await desk.case(case_id))["supervised"]


async def test_an_approved_extension_of_a_working_day_clock_spaces_its_steps_in_working_time(desk: Desk) -> None:
    desk.clock.set(cst(3, 2, 10))  # Monday
    case_id = await desk.complain(Category.FEE_DISPUTE)
    a = (await desk.assignments("TF-JYG", case_id))[0]
    assert due(a, "resolve") == cst(3, 23, 10)
    for step in ("sign-in", "arrive"):
        await desk.call("POST", f"/v1/assignments/{a['id']}/{step}", "TF-JYG")
    ext = await desk.call(
        "POST",
        f"/v1/assignments/{a['id']}/extensions",
        "TF-JYG",
        {"reason": "需物价部门复核收费标准", "resolve_due": cst(3, 30, 10).isoformat()},
        expect=201,
    )
    await desk.call("POST", f"/v1/extensions/{ext['id']}/decision", "TF-JYG", {"approved": True})
    assert due(await desk.call("GET", f"/v1/assignments/{a['id']}", "TF-JYG"), "resolve") == cst(3, 30, 10)

    # The clock is now 20 working days long; its 通报 comes 10 working days after the new deadline, skipping the
    # weekends and the Qingming holiday (4–6 April), not 10 calendar days.
    desk.clock.set(cst(3, 30, 10, 0, 1))
    await desk.fire_due()
    assert ("resolve", "reminder") in await steps(desk, case_id)
    assert await timer_due(desk, a["id"], "resolve:notice") == cst(4, 14, 10)


async def test_an_admin_amends_a_year_the_package_does_not_know(desk: Desk) -> None:
    r = await desk.svc.http.get("/admin/calendar/2026", headers=ADMIN)
    assert r.status_code == 200, r.text
    assert r.json()["source"] == "package"
    assert "2026-02-16" in r.json()["holidays"] and r.json()["make_up_workdays"][:2] == ["2026-01-04", "2026-02-14"]
    r = await desk.svc.http.get("/admin/calendar/2099", headers=ADMIN)
    assert r.json() == {
        "year": 2099,
        "source": "weekends_only",
        "holidays": [],
        "make_up_workdays": [],
        "note": None,
        "updated_by": None,
        "updated_at": None,
    }

    # Before any amendment, a clock crossing into 2099 runs on weekends only: 1 January 2099 (a Thursday) is worked.
    desk.clock.set(cst(12, 31, 10, year=2098))  # a Wednesday
    before = (await desk.assignments("TF-JYG", await desk.complain(Category.FEE_DISPUTE)))[0]
    assert due(before, "sign_in") == cst(1, 1, 10, year=2099)

    amendment = {"holidays": ["2099-01-01", "2099-01-02"], "make_up_workdays": ["2099-01-03"], "note": "测试用年份"}
    r = await desk.svc.http.put("/admin/calendar/2099", json=amendment, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert r.json()["source"] == "amended" and r.json()["updated_by"] == "admin"
    r = await desk.svc.http.get("/admin/calendar/2099", headers=ADMIN)
    assert (r.json()["source"], r.json()["holidays"], r.json()["make_up_workdays"]) == (
        "amended",
        ["2099-01-01", "2099-01-02"],
        ["2099-01-03"],
    )
    # The next case's deadline follows the amendment at once: 1–2 January off, Saturday 3 January worked.
    after = (await desk.assignments("TF-JYG", await desk.complain(Category.FEE_DISPUTE)))[0]
    assert due(after, "sign_in") == cst(1, 3, 10, year=2099)
    assert due(before, "sign_in") == cst(1, 1, 10, year=2099), "deadlines already set stay"


@pytest.mark.parametrize(
    ("year", "body", "field", "code"),
    [
        (2027, {"holidays": ["2027-01-01", "2026-12-31"]}, "holidays.1", "date_outside_year"),
        (2027, {"holidays": [], "make_up_workdays": ["2027-02-08"]}, "make_up_workdays.0", "make_up_day_not_weekend"),
        (
            2027,
            {"holidays": ["2027-02-06"], "make_up_workdays": ["2027-02-06"]},
            "make_up_workdays.0",
            "day_off_and_worked",
        ),
        (2027, {"holidays": ["2027-02-30"]}, "holidays.0", "date_from_datetime_parsing"),
        (2027, {"make_up_workdays": []}, "holidays", "missing"),
        (2027, {"holidays": [f"2027-03-{d:02d}" for d in range(1, 32)] * 2 + ["2027-04-01"]}, "holidays", "too_long"),
        (1999, {"holidays": []}, "path.year", "greater_than_equal"),
    ],
)
async def test_the_calendar_amendment_refuses_bad_input_naming_the_field(
    desk: Desk, year: int, body: dict[str, Any], field: str, code: str
) -> None:
    r = await desk.svc.http.put(f"/admin/calendar/{year}", json=body, headers=ADMIN)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    found = (detail["field"], detail["code"]) if isinstance(detail, dict) else (detail[0]["field"], detail[0]["code"])
    assert found == (field, code)
    assert (await desk.svc.http.get(f"/admin/calendar/{max(year, 2004)}", headers=ADMIN)).json()["source"] != "amended"


async def test_the_calendar_is_for_the_admin_only(desk: Desk) -> None:
    r = await desk.svc.http.put("/admin/calendar/2027", json={"holidays": []}, headers=desk.auth("TF-JYG"))
    assert r.status_code == 401
    assert (await desk.svc.http.get("/admin/calendar/2027")).status_code == 401
