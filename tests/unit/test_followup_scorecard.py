"""Unit scorecards: each formula on a small cohort built by hand."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.followup.config import DEFAULT_SCORE_WEIGHTS
from services.followup.scorecard import AssignmentRow, CheckRow, Group, Line, RoundRow, VisitRow, compute, rank, score

T0 = datetime(2026, 11, 16, 1, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=3)


def a(id_: str, unit: str = "U-1", *, case: str = "C-1", round_: int = 1, **kw: Any) -> AssignmentRow:
    base: dict[str, Any] = {
        "id": id_,
        "case_id": case,
        "round": round_,
        "unit_id": unit,
        "unit_type": kw.pop("unit_type", "heating_company"),
        "district_id": kw.pop("district_id", "D-CG"),
        "dispatched_at": T0,
        "sign_in_due": T0 + timedelta(minutes=30),
        "resolve_due": T0 + timedelta(hours=24),
        "status": "dispatched",
    }
    return AssignmentRow(**(base | kw))


def signed(on_time: bool = True) -> dict[str, Any]:
    return {
        "signed_in_at": T0 + timedelta(minutes=10 if on_time else 40),
        "sign_in_on_time": on_time,
        "status": "signed_in",
    }


def fixed(on_time: bool = True) -> dict[str, Any]:
    return signed() | {
        "resolved_at": T0 + timedelta(hours=2 if on_time else 30),
        "resolve_on_time": on_time,
        "status": "resolved",
    }


def only(lines: list[Line], key: str) -> Line:
    (line,) = [x for x in lines if x.key == key]
    return line


def card(
    assignments: list[AssignmentRow],
    rounds: list[RoundRow] = (),
    visits: list[VisitRow] = (),  # type: ignore[assignment]
    checks: list[CheckRow] = (),
    group: Group = Group.UNIT,
    as_of: datetime = NOW,
) -> list[Line]:  # type: ignore[assignment]
    return compute(assignments, rounds, visits, checks, group=group, as_of=as_of, weights=DEFAULT_SCORE_WEIGHTS)


def test_a_missed_sign_in_counts_as_late_but_an_early_return_does_not_count() -> None:
    lines = card(
        [
            a("on-time", **signed(True)),
            a("late", **signed(False)),
            a("never"),  # deadline passed, never signed in
            a("returned-early", returned_at=T0 + timedelta(minutes=5), status="returned"),
            a("returned-late", returned_at=T0 + timedelta(hours=1), status="returned"),
            a("withdrawn-early", withdrawn_at=T0 + timedelta(minutes=1), status="withdrawn"),
        ]
    )
    line = only(lines, "U-1")
    assert (line.assignments, line.returns) == (6, 2)
    assert (line.sign_in_counted, line.signed_in_on_time, line.on_time_sign_in_rate) == (4, 1, 0.25)


def test_a_deadline_not_yet_passed_is_not_counted() -> None:
    line = only(card([a("open")], as_of=T0 + timedelta(minutes=20)), "U-1")
    assert line.sign_in_counted == 0 and line.on_time_sign_in_rate is None and line.score is None
    line = only(card([a("open", **signed())], as_of=T0 + timedelta(hours=1)), "U-1")
    assert line.resolve_counted == 0 and line.on_time_resolve_rate is None


def test_on_time_resolve_rate_counts_missed_resolutions() -> None:
    lines = card([a("ok", **fixed(True)), a("late", **fixed(False)), a("stuck", **signed())])
    line = only(lines, "U-1")
    assert (line.resolve_counted, line.resolved_on_time, line.on_time_resolve_rate) == (3, 1, 0.3333)


def test_redo_satisfaction_temperature_and_mean() -> None:
    assignments = [a("a1", case="C-1", **fixed()), a("a2", case="C-2", **fixed()), a("a3", case="C-3", **fixed())]
    rounds = [RoundRow("C-1", 1, "closed"), RoundRow("C-2", 1, "reopened", "too_cold"), RoundRow("C-3", 1, "pending")]
    visits = [
        VisitRow("V1", "C-1", 1, "satisfied", (20.0, 19.0), 18.0),
        VisitRow("V2", "C-2", 1, "mostly", (17.0, 21.0), 18.0),
        VisitRow("V3", "C-3", 1, None, (18.0,), 18.0),  # unreached: no answer, still measured
    ]
    line = only(card(assignments, rounds, visits), "U-1")
    assert (line.rounds, line.rounds_reopened, line.redo_rate) == (2, 1, 0.5)
    assert (line.visits_answered, line.visits_satisfied, line.satisfaction_rate) == (2, 2, 1.0)
    assert (line.visits_measured, line.visits_compliant, line.temperature_compliance) == (3, 2, 0.6667)
    assert line.mean_temp_c == round((19.5 + 19.0 + 18.0) / 3, 2)


def test_a_round_counts_only_for_the_units_that_fixed_it() -> None:
    assignments = [
        a("h", "U-H", **fixed()),
        a("p", "U-P", unit_type="property_manager", returned_at=T0 + timedelta(minutes=5), status="returned"),
    ]
    lines = card(
        assignments,
        [RoundRow("C-1", 1, "reopened", "too_cold")],
        [VisitRow("V", "C-1", 1, "dissatisfied", (16.0,), 18.0)],
    )
    assert only(lines, "U-H").rounds_reopened == 1 and only(lines, "U-H").visits_answered == 1
    assert only(lines, "U-P").rounds == 0 and only(lines, "U-P").visits_answered == 0


def test_spot_checks_count_against_the_round_units() -> None:
    lines = card(
        [a("h", **fixed())],
        [RoundRow("C-1", 1, "reopened", "spot_check_failed")],
        checks=[CheckRow("C-1", 1, "failed"), CheckRow("C-9", 1, "failed")],
    )
    line = only(lines, "U-1")
    assert (line.spot_checks, line.spot_check_failures, line.redo_rate) == (1, 1, 1.0)
    pending = only(
        card([a("h", **fixed())], [RoundRow("C-1", 1, "closed")], checks=[CheckRow("C-1", 1, "pending")]), "U-1"
    )
    assert pending.spot_checks == 0


def test_groups_pool_facts_and_count_a_joint_round_once() -> None:
    assignments = [
        a("h1", "U-H1", case="C-1", **fixed()),
        a("h2", "U-H2", case="C-1", **fixed()),
        a("p", "U-P", case="C-2", unit_type="property_manager", district_id="D-N", **fixed(False)),
    ]
    rounds = [RoundRow("C-1", 1, "reopened", "too_cold"), RoundRow("C-2", 1, "closed")]
    visits = [VisitRow("V1", "C-1", 1, "mostly", (17.0,), 18.0), VisitRow("V2", "C-2", 1, "satisfied", (20.0,), 18.0)]
    by_type = card(assignments, rounds, visits, group=Group.UNIT_TYPE)
    heating = only(by_type, "heating_company")
    assert (heating.assignments, heating.rounds, heating.visits_measured) == (2, 1, 1)
    assert heating.unit_type is None
    by_district = card(assignments, rounds, visits, group=Group.DISTRICT)
    assert only(by_district, "D-CG").assignments == 2 and only(by_district, "D-N").on_time_resolve_rate == 0.0


def test_escalations_are_summed() -> None:
    line = only(card([a("x", escalations=2), a("y", escalations=1)]), "U-1")
    assert line.escalations == 3


def test_score_weighs_the_rates_it_has() -> None:
    line = Line(key="U", on_time_sign_in_rate=1.0, on_time_resolve_rate=0.5, redo_rate=0.5)
    # satisfaction and temperature are unknown: the other weights are renormalised.
    assert score(line, DEFAULT_SCORE_WEIGHTS) == round(100 * (0.2 * 1 + 0.2 * 0.5 + 0.15 * 0.5) / 0.55, 2)
    assert score(Line(key="U"), DEFAULT_SCORE_WEIGHTS) is None
    assert score(line, {"on_time_sign_in_rate": 1.0}) == 100.0


def test_rank_shares_places_on_ties_and_puts_unknowns_last() -> None:
    lines = [Line(key="a", score=80.0), Line(key="b", score=90.0), Line(key="c", score=80.0), Line(key="d")]
    assert [(x.key, x.rank) for x in rank(lines, "score")] == [("b", 1), ("a", 2), ("c", 2), ("d", None)]
    redo = [Line(key="a", redo_rate=0.5), Line(key="b", redo_rate=0.0)]
    assert [x.key for x in rank(redo, "redo_rate")] == ["b", "a"]  # lower is better
    with pytest.raises(ValueError):
        rank(lines, "assignments")
