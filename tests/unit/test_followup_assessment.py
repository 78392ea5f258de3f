"""The 12345 hotline's assessment: each formula on a small cohort built by hand (the same rows as the scorecard)."""

from datetime import timedelta
from typing import Any

import pytest

from services.followup.assessment import By, HurryRow, Line, compute
from services.followup.config import DEFAULT_ASSESSMENT_WEIGHTS, FollowupSettings
from services.followup.scorecard import AssignmentRow, RoundRow, VisitRow
from tests.unit.test_followup_scorecard import T0, a, fixed, signed

NOW = T0 + timedelta(days=3)


def only(lines: list[Line], key: str) -> Line:
    (line,) = [x for x in lines if x.key == key]
    return line


def assess(
    assignments: list[AssignmentRow],
    rounds: list[RoundRow] = (),  # type: ignore[assignment]
    visits: list[VisitRow] = (),  # type: ignore[assignment]
    hurries: list[HurryRow] = (),  # type: ignore[assignment]
    *,
    by: By = By.UNIT,
    weights: dict[str, float] = DEFAULT_ASSESSMENT_WEIGHTS,
    **kw: Any,
) -> list[Line]:
    return compute(assignments, rounds, visits, hurries, by=by, as_of=NOW, weights=weights, **kw)


def visit(case: str, satisfaction: str | None, round_: int = 1) -> VisitRow:
    return VisitRow(f"V-{case}-{round_}-{satisfaction}", case, round_, satisfaction, (20.0,), 18.0)


def test_response_counts_every_sign_in_and_on_time_sign_in_only_those_in_time() -> None:
    line = only(
        assess(
            [
                a("A1", case="C-1", **signed(True)),
                a("A2", case="C-2", **signed(False)),
                a("A3", case="C-3"),  # never signed in, deadline long passed: due, not signed
                # handed back before its deadline without a sign-in: not due
                a("A4", case="C-4", status="returned", returned_at=T0 + timedelta(minutes=5)),
                # handed back after its deadline without a sign-in: due, not signed
                a("A5", case="C-5", status="returned", returned_at=T0 + timedelta(hours=1)),
                # dispatched just now, deadline ahead: not due yet
                a("A6", case="C-6", sign_in_due=NOW + timedelta(minutes=5)),
            ]
        ),
        "U-1",
    )
    assert (line.assignments, line.sign_in_due, line.signed_in, line.signed_in_on_time) == (6, 4, 2, 1)
    assert line.response_rate == 0.5
    assert line.on_time_sign_in_rate == 0.25


def test_on_time_resolution_counts_the_overdue_unresolved_against_the_unit() -> None:
    line = only(
        assess(
            [
                a("A1", case="C-1", **fixed(True)),
                a("A2", case="C-2", **fixed(False)),
                a("A3", case="C-3", **signed()),  # resolve deadline T0+24h passed at NOW: due, not on time
                a("A4", case="C-4", **signed(), resolve_due=NOW + timedelta(days=1)),  # 延期 approved: not due
            ]
        ),
        "U-1",
    )
    assert (line.resolve_due, line.resolved_on_time, line.on_time_resolve_rate) == (3, 1, 0.3333)


def test_resolution_is_decided_by_the_latest_round_the_unit_took_part_in() -> None:
    rows = [
        # C-1: reopened in round 1, closed in round 2, both fixed by U-1 → solved
        a("A1", case="C-1", **fixed()),
        a("A2", case="C-1", round_=2, **fixed()),
        # C-2: U-1's round 1 reopened, round 2 fixed by U-2 and closed → not solved for U-1, solved for U-2
        a("A3", case="C-2", **fixed()),
        a("A4", "U-2", case="C-2", round_=2, **fixed()),
        # C-3: awaiting its return visit → not decided
        a("A5", case="C-3", **fixed()),
        # C-4: U-1 handed it back; U-2 fixed it, closed → U-1 took no part
        a("A6", case="C-4", status="returned", returned_at=T0 + timedelta(minutes=5)),
        a("A7", "U-2", case="C-4", **fixed()),
        # C-5: closed, then a spot-check failed it (the round is reopened) → not solved
        a("A8", case="C-5", **fixed()),
    ]
    rounds = [
        RoundRow("C-1", 1, "reopened", "too_cold"),
        RoundRow("C-1", 2, "closed"),
        RoundRow("C-2", 1, "reopened", "dissatisfied"),
        RoundRow("C-2", 2, "closed"),
        RoundRow("C-3", 1, "pending"),
        RoundRow("C-4", 1, "closed"),
        RoundRow("C-5", 1, "reopened", "spot_check"),
    ]
    lines = assess(rows, rounds)
    u1, u2 = only(lines, "U-1"), only(lines, "U-2")
    assert (u1.cases, u1.cases_decided, u1.cases_closed, u1.resolution_rate) == (5, 3, 1, 0.3333)
    assert (u2.cases, u2.cases_decided, u2.cases_closed, u2.resolution_rate) == (2, 2, 2, 1.0)


def test_satisfaction_counts_satisfied_and_mostly_over_the_answers() -> None:
    rows = [a("A1", case="C-1", **fixed()), a("A2", case="C-2", **fixed()), a("A3", case="C-3", **signed())]
    visits = [
        visit("C-1", "satisfied"),
        visit("C-1", "mostly"),
        visit("C-2", "dissatisfied"),
        visit("C-2", None),  # not reached: no answer
        visit("C-3", "dissatisfied"),  # U-1 took no part in fixing C-3 (not resolved): not its visit
    ]
    line = only(assess(rows, [RoundRow("C-1", 1, "closed"), RoundRow("C-2", 1, "reopened")], visits), "U-1")
    assert (line.visits_answered, line.visits_satisfied, line.satisfaction_rate) == (3, 2, 0.6667)


def test_a_hurry_counts_against_the_units_it_named() -> None:
    rows = [
        a("A1", case="C-1", **signed()),
        a("A2", "U-2", case="C-1", **fixed()),  # had finished its part when the resident called again
        a("A3", case="C-2", **signed()),
        a("A4", case="C-3", **signed()),
    ]
    hurries = [
        HurryRow("C-1", ("U-1",)),
        HurryRow("C-1", ("U-1",)),  # hurried twice: still one case
        HurryRow("C-2", ()),  # nobody held a clock: charged to no unit
        HurryRow("C-9", ("U-1",)),  # a case outside the cohort
    ]
    lines = assess(rows, hurries=hurries)
    u1, u2 = only(lines, "U-1"), only(lines, "U-2")
    assert (u1.cases, u1.cases_hurried, u1.repeat_complaint_rate) == (3, 1, 0.3333)
    assert (u2.cases, u2.cases_hurried, u2.repeat_complaint_rate) == (1, 0, 0.0)


def test_a_unit_type_pools_its_units_counting_a_case_once() -> None:
    rows = [
        a("A1", "U-1", case="C-1", **fixed()),
        a("A2", "U-2", case="C-1", **fixed()),  # joint handling by two heating companies
        a("A3", "U-3", case="C-1", unit_type="property_manager", **signed()),
        a("A4", "U-2", case="C-2", **signed(False)),
    ]
    rounds = [RoundRow("C-1", 1, "closed")]
    visits = [visit("C-1", "satisfied")]
    hurries = [HurryRow("C-1", ("U-2", "U-3")), HurryRow("C-2", ("U-2",))]
    lines = assess(rows, rounds, visits, hurries, by=By.UNIT_TYPE)
    heat, pm = only(lines, "heating_company"), only(lines, "property_manager")
    assert heat.unit_type is None and heat.assignments == 3
    assert (heat.cases, heat.cases_decided, heat.cases_closed, heat.cases_hurried) == (2, 1, 1, 2)
    assert (heat.visits_answered, heat.signed_in, heat.signed_in_on_time) == (1, 3, 2)
    assert (pm.cases, pm.cases_hurried, pm.cases_decided, pm.visits_answered) == (1, 1, 0, 0)


def test_the_composite_weighs_response_resolution_and_satisfaction_30_35_35() -> None:
    rows = [a("A1", case="C-1", **fixed()), a("A2", case="C-2", **fixed()), a("A3", case="C-3")]
    rounds = [RoundRow("C-1", 1, "closed"), RoundRow("C-2", 1, "reopened")]
    visits = [
        visit("C-1", "satisfied"),
        visit("C-1", "mostly"),
        visit("C-2", "satisfied"),
        visit("C-2", "dissatisfied"),
    ]
    line = only(assess(rows, rounds, visits), "U-1")
    # 响应率 2/3, 解决率 1/2, 满意率 3/4 (ratios rounded to 4 places first, as the API shows them)
    assert (line.response_rate, line.resolution_rate, line.satisfaction_rate) == (0.6667, 0.5, 0.75)
    assert line.composite == round(100 * (30 * 0.6667 + 35 * 0.5 + 35 * 0.75) / 100, 2) == 63.75
    only_response = only(assess(rows, rounds, visits, weights={"response_rate": 1.0}), "U-1")
    assert only_response.composite == 66.67


def test_the_composite_leaves_out_rates_a_line_does_not_have() -> None:
    line = only(assess([a("A1", **signed(False))]), "U-1")  # signed in late, nothing decided or answered yet
    assert (line.response_rate, line.resolution_rate, line.satisfaction_rate) == (1.0, None, None)
    assert line.composite == 100.0
    nothing = only(assess([a("A1", sign_in_due=NOW + timedelta(hours=1))]), "U-1")
    assert nothing.response_rate is None and nothing.composite is None


def test_ranking_puts_fewer_repeat_complaints_first_and_lines_without_the_figure_last() -> None:
    rows = [a("A1", "U-1", case="C-1", **signed()), a("A2", "U-2", case="C-2", **signed()), a("A3", "U-3", case="C-3")]
    hurries = [HurryRow("C-1", ("U-1",))]
    ranked = assess(rows, hurries=hurries, rank_by="repeat_complaint_rate")
    assert [(x.key, x.rank) for x in ranked] == [("U-2", 1), ("U-3", 1), ("U-1", 3)]
    by_composite = assess(rows, hurries=hurries)
    assert [(x.key, x.rank) for x in by_composite] == [("U-1", 1), ("U-2", 1), ("U-3", 3)]
    with pytest.raises(ValueError, match="cannot rank"):
        assess(rows, rank_by="score")


def test_the_weights_are_settings_refused_when_unknown_or_all_zero() -> None:
    assert FollowupSettings().assessment_weights == {
        "response_rate": 30.0,
        "resolution_rate": 35.0,
        "satisfaction_rate": 35.0,
    }
    with pytest.raises(ValueError, match="unknown weights"):
        FollowupSettings(assessment_weights={"redo_rate": 1.0})
    with pytest.raises(ValueError, match="not all zero"):
        FollowupSettings(assessment_weights={"response_rate": 0.0})
    assert FollowupSettings(assessment_weights={"satisfaction_rate": 1.0}).assessment_weights == {
        "satisfaction_rate": 1.0
    }
