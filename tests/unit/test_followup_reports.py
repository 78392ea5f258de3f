"""Daily and season reports: the arithmetic of flows and stocks on small histories built by hand."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from services.followup.render import daily_text, days_csv, season_text
from services.followup.report_facts import (
    AreaFacts,
    CaseInfo,
    ClockFact,
    EscalationFact,
    LedgerFact,
    ReportFact,
    ReturnVisitFact,
    RoundFact,
)
from services.followup.reports import daily, season

ZONE = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 16)


def at(day: int, hhmm: str) -> datetime:
    h, m = map(int, hhmm.split(":"))
    return datetime(2026, 11, 15 + day, h, m, tzinfo=ZONE).astimezone(UTC)


def case(case_id: str, opened: datetime, *, priority: bool = False) -> CaseInfo:
    return CaseInfo(case_id, "cold_room", "B-1", f"H-{case_id}", priority, opened)


def facts() -> AreaFacts:
    """R1 solved day 1; R2 and R3 (one case) solved day 2; R4 open; C1 reopened by a spot-check on day 3."""
    f = AreaFacts()
    f.ledger = [
        LedgerFact(at(1, "08:00"), "H-1", 3, 0, 0),
        LedgerFact(at(1, "09:00"), "H-1", 1, 1, 0),  # raised as R1
        LedgerFact(at(1, "23:59"), "H-2", 2, 1, 1),  # settled on the spot, late in the local day
        LedgerFact(at(2, "00:01"), "H-3", 1, 0, 0),
    ]
    f.reports = [
        ReportFact("R1", at(1, "09:00"), "C1"),
        ReportFact("R2", at(1, "10:00"), "C2"),
        ReportFact("R3", at(2, "08:00"), "C2"),
        ReportFact("R4", at(2, "09:00"), None),  # its case not known yet: open
    ]
    f.cases = {"C1": case("C1", at(1, "09:05")), "C2": case("C2", at(1, "10:05"), priority=True)}
    f.rounds = [
        RoundFact("C1", 1, at(1, "18:00"), at(3, "10:00"), "spot_check_failed", False),
        RoundFact("C2", 1, None, at(1, "20:00"), "too_cold", False),
        RoundFact("C2", 2, at(2, "12:00"), None, None, True),
    ]
    f.escalations = [EscalationFact("C2", at(1, "11:00"), "reminder"), EscalationFact("C2", at(1, "12:00"), "notice")]
    f.visits = [
        ReturnVisitFact(
            "C1", at(1, "15:00"), at(2, "15:00"), "closed", at(1, "18:00"), None, "satisfied", (20.0, 19.0)
        ),
        ReturnVisitFact("C2", at(1, "16:00"), at(2, "16:00"), "reopened", at(1, "20:00"), None, "mostly", (16.0,)),
        ReturnVisitFact("C2", at(2, "06:00"), at(3, "06:00"), "closed", at(2, "12:00"), None, None, (18.5,)),
    ]
    f.clocks = [
        # C2 round 1: sign-in 30 min late (overdue 10:35–11:05), fixed in time.
        ClockFact("C2", at(1, "10:05"), at(1, "10:35"), at(1, "11:05"), at(2, "10:05"), at(1, "15:00")),
    ]
    return f


def test_a_day_s_flows_and_stocks() -> None:
    r = daily(facts(), DAY, zone=ZONE, as_of=at(9, "00:00"), notable_limit=10)
    f = r.figures
    assert (f.ledger_visits, f.households_visited, f.residents_reached) == (3, 2, 6)
    assert (f.found_on_visits, f.settled_on_site) == (2, 1)
    assert f.problems_found == 2 + 1  # R1, R2 and the finding settled on the spot
    assert f.solved == 1 + 1 and f.cases_closed == 1  # R1 (C1 closed at 18:00) and the settled finding
    assert f.open == 1  # R2
    assert f.escalated == 1 and f.return_visits == 2 and f.visits_answered == 2 and f.satisfaction_rate == 1.0
    assert f.mean_temp_c == round((19.5 + 16.0) / 2, 2)
    assert [(n.case_id, n.reasons) for n in r.notable] == [
        ("C2", ("reopened", "notice", "reminder", "priority_resident_open"))
    ]


def test_the_open_stock_moves_by_exactly_the_flows() -> None:
    s = season(facts(), DAY, DAY + timedelta(days=3), zone=ZONE, as_of=at(9, "00:00"))
    previous = 0
    for row in s.days:
        f = row.figures
        assert f.open == previous + f.problems_found - f.solved + f.reopened
        previous = f.open
    day2, day3 = s.days[1].figures, s.days[2].figures
    assert day2.solved == 2 and day2.open == 1  # R2 and R3 with C2's closing; R4 still open
    assert day3.reopened == 1 and day3.open == 2  # the failed spot-check reopened C1: R1 is open again
    assert s.totals.problems_found == 5 and s.totals.solved == 4 and s.totals.open == 2
    assert s.totals.households_visited == 3 and s.totals.escalated == 1


def test_overdue_counts_cases_past_a_deadline_but_not_closed() -> None:
    f = facts()
    f.visits.append(ReturnVisitFact("C3", at(2, "08:00"), at(2, "20:00"), "pending", None, at(2, "20:00"), None, ()))
    f.cases["C3"] = case("C3", at(2, "07:00"))
    f.clocks.append(ClockFact("C4", at(2, "09:00"), at(2, "09:30"), None, at(3, "09:00"), None))
    s = season(f, DAY, DAY + timedelta(days=2), zone=ZONE, as_of=at(9, "00:00"))
    assert [d.figures.overdue for d in s.days] == [0, 2, 2]
    assert s.days[1].figures.visits_overdue == 1
    # Mid-day as_of: the sign-in of C2 was overdue between 10:35 and 11:05 on day 1.
    assert daily(facts(), DAY, zone=ZONE, as_of=at(1, "10:50"), notable_limit=0).figures.overdue == 1
    assert daily(facts(), DAY, zone=ZONE, as_of=at(1, "11:10"), notable_limit=0).figures.overdue == 0


def test_a_closed_case_is_not_overdue() -> None:
    f = AreaFacts(
        reports=[ReportFact("R", at(1, "08:00"), "C")],
        cases={"C": case("C", at(1, "08:00"))},
        rounds=[RoundFact("C", 1, at(1, "09:00"), None, None, False)],
        clocks=[ClockFact("C", at(1, "08:00"), at(1, "08:30"), None, at(1, "10:00"), None)],
    )
    assert daily(f, DAY, zone=ZONE, as_of=at(5, "00:00"), notable_limit=0).figures.overdue == 0


def test_notable_cases_are_ordered_by_severity_and_limited() -> None:
    f = AreaFacts(
        cases={c: case(c, at(1, "08:00")) for c in ("A", "B", "C")},
        escalations=[
            EscalationFact("A", at(1, "09:00"), "reminder"),
            EscalationFact("B", at(1, "09:00"), "supervision"),
        ],
        rounds=[RoundFact("C", 1, at(1, "10:00"), None, None, True)],
    )
    r = daily(f, DAY, zone=ZONE, as_of=at(2, "00:00"), notable_limit=2)
    assert [(n.case_id, n.reasons) for n in r.notable] == [("B", ("supervision",)), ("C", ("closed_unreached",))]


def test_renderings() -> None:
    r = daily(facts(), DAY, zone=ZONE, as_of=at(9, "00:00"), notable_limit=10)
    text = daily_text("排洪南路社区", r)
    assert text.splitlines()[1] == (
        "2026年11月16日，排洪南路社区走访2户6名居民，排查问题3条，已解决2条（其中现场化解1条），在办1条，"
        "超时未办0件，催办督办1件；完成回访2户，回访超时0户。"
    )
    assert "1. C2（暖气不热，H-C2）：回访未通过、发回重办、通报、催办、重点人群诉求在办" in text
    s = season(AreaFacts(), DAY, DAY, zone=ZONE, as_of=at(9, "00:00"))
    assert "回访满意率—，平均实测室温—" in season_text("嘉峪关路街道", s)
    table = days_csv("CM-PHN", s.days, s.totals)
    assert table.startswith("\ufeff日期,区域,走访人次,走访户数")
    assert table.splitlines()[-1].startswith("合计,CM-PHN,0,0")


def test_a_withdrawn_case_leaves_the_open_stock_as_a_flow_of_its_own() -> None:
    """撤单: the case's open reports leave 在办 on the day of the withdrawal (counted in ``withdrawn``), its clocks
    and its pending visit no longer make anything overdue, and the stock identity still holds."""
    f = AreaFacts()
    f.reports = [ReportFact("R1", at(1, "09:00"), "C1"), ReportFact("R2", at(1, "10:00"), "C1")]
    f.cases = {"C1": CaseInfo("C1", "cold_room", "B-1", "H-1", True, at(1, "09:05"), withdrawn_at=at(2, "11:00"))}
    # a unit never signed in (overdue from 09:35 on) and a visit that would be due on day 3
    f.clocks = [ClockFact("C1", at(1, "09:05"), at(1, "09:35"), None, at(2, "09:05"), None)]
    f.visits = [ReturnVisitFact("C1", at(2, "06:00"), at(3, "06:00"), "cancelled", at(2, "11:00"), None, None, ())]
    r = season(f, DAY, DAY + timedelta(days=2), zone=ZONE, as_of=at(9, "00:00"))
    rows = [(d.figures.problems_found, d.figures.withdrawn, d.figures.open, d.figures.overdue) for d in r.days]
    assert rows == [(2, 0, 2, 1), (0, 2, 0, 0), (0, 0, 0, 0)]
    previous = 0
    for d in r.days:
        x = d.figures
        assert x.open == previous + x.problems_found - x.solved + x.reopened - x.withdrawn
        previous = x.open
    assert (r.totals.withdrawn, r.totals.open) == (2, 0)
    day3 = daily(f, DAY + timedelta(days=2), zone=ZONE, as_of=at(9, "00:00"), notable_limit=10)
    assert day3.notable == []  # a priority resident's withdrawn case is not open any more
