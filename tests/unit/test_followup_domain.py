from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from services.followup.config import FollowupSettings
from services.followup.domain import (
    Outcome,
    ReadingRequired,
    building_sample,
    day_window,
    decide_attempt,
    next_week,
    parse_week,
    previous_week,
    round_outcome,
    sample_size,
    spot_check_sample,
    verdict,
    week_of,
    week_window,
    worst_satisfaction,
)
from services.followup.schemas import SpotCheckIn, VisitIn
from shared.contracts.common import Satisfaction
from shared.contracts.followup import ReopenReason

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_warm_and_satisfied_closes() -> None:
    v = verdict([19.0, 18.0], Satisfaction.SATISFIED, standard_c=18.0)
    assert v.close and v.reason is None and v.min_temp_c == 18.0


def test_mostly_satisfied_and_warm_closes() -> None:
    assert verdict([20.0], Satisfaction.MOSTLY, standard_c=18.0).close


@pytest.mark.parametrize(
    ("temps", "satisfaction", "reason"),
    [
        ([17.9, 20.0], Satisfaction.SATISFIED, ReopenReason.TOO_COLD),
        ([20.0], Satisfaction.DISSATISFIED, ReopenReason.DISSATISFIED),
        ([16.0], Satisfaction.DISSATISFIED, ReopenReason.BOTH),
    ],
)
def test_reopen_reasons(temps: list[float], satisfaction: Satisfaction, reason: ReopenReason) -> None:
    v = verdict(temps, satisfaction, standard_c=18.0)
    assert not v.close and v.reason is reason


def test_district_standard_is_respected() -> None:
    assert not verdict([19.0], Satisfaction.SATISFIED, standard_c=20.0).close
    settings = FollowupSettings(district_standard_temp_c={"D-N": 20.0})
    assert settings.standard_for("D-N") == 20.0 and settings.standard_for("D-CG") == 18.0


def test_no_answer_decides_on_temperature_alone() -> None:
    assert verdict([18.0], None, standard_c=18.0).close
    assert verdict([17.0], None, standard_c=18.0).reason is ReopenReason.TOO_COLD


@pytest.mark.parametrize("temp", [60.0, -40.0, 35.5, -0.1])
def test_implausible_indoor_temperature_is_an_error(temp: float) -> None:
    with pytest.raises(ValidationError, match="室温读数不合理"):
        VisitIn(room_temps_c=[20.0, temp], satisfaction=Satisfaction.SATISFIED)
    with pytest.raises(ValidationError, match="室温读数不合理"):
        SpotCheckIn(room_temps_c=[temp])


def test_a_visit_needs_a_reading() -> None:
    with pytest.raises(ValidationError, match="至少录入一个房间"):
        VisitIn(room_temps_c=[], satisfaction=Satisfaction.SATISFIED)


def test_a_reached_resident_must_answer_and_an_unreached_one_cannot() -> None:
    with pytest.raises(ValidationError, match="满意度"):
        VisitIn(room_temps_c=[20.0])
    with pytest.raises(ValidationError, match="未联系上居民时不能登记满意度"):
        VisitIn(reached=False, satisfaction=Satisfaction.SATISFIED)
    assert VisitIn(reached=False).room_temps_c == []


# -- the resident who cannot be reached -------------------------------------------------------------------------


def test_first_unreached_attempt_asks_for_another() -> None:
    a = decide_attempt(reached=False, room_temps_c=[], satisfaction=None, standard_c=18.0, unreached_before=0)
    assert a.outcome is Outcome.RETRY and a.verdict is None and a.unreached


def test_second_unreached_attempt_decides_on_temperature_alone() -> None:
    warm = decide_attempt(reached=False, room_temps_c=[18.5], satisfaction=None, standard_c=18.0, unreached_before=1)
    assert warm.outcome is Outcome.CLOSE and warm.unreached and warm.room_temps_c == (18.5,)
    cold = decide_attempt(reached=False, room_temps_c=[17.0], satisfaction=None, standard_c=18.0, unreached_before=1)
    assert cold.outcome is Outcome.REOPEN and cold.verdict is not None
    assert cold.verdict.reason is ReopenReason.TOO_COLD


def test_the_last_unreached_attempt_uses_an_earlier_reading_or_refuses() -> None:
    a = decide_attempt(
        reached=False, room_temps_c=[], satisfaction=None, standard_c=18.0, unreached_before=1, earlier_temps_c=[19.0]
    )
    assert a.outcome is Outcome.CLOSE and a.room_temps_c == (19.0,)
    with pytest.raises(ReadingRequired):
        decide_attempt(reached=False, room_temps_c=[], satisfaction=None, standard_c=18.0, unreached_before=1)


def test_more_attempts_can_be_required() -> None:
    a = decide_attempt(
        reached=False, room_temps_c=[19.0], satisfaction=None, standard_c=18.0, unreached_before=1, max_unreached=3
    )
    assert a.outcome is Outcome.RETRY


def test_reaching_the_resident_after_a_miss_is_an_ordinary_verdict() -> None:
    a = decide_attempt(
        reached=True,
        room_temps_c=[19.0],
        satisfaction=Satisfaction.DISSATISFIED,
        standard_c=18.0,
        unreached_before=1,
    )
    assert a.outcome is Outcome.REOPEN and not a.unreached


# -- a round of several visits -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "outcome"),
    [
        (["closed"], "closed"),
        (["reopened"], "reopened"),
        (["closed", "pending"], None),
        (["closed", "reopened", "pending"], "reopened"),
        (["closed", "closed", "cancelled"], "closed"),
        (["pending"], None),
    ],
)
def test_round_outcome(statuses: list[str], outcome: str | None) -> None:
    assert round_outcome(statuses) == outcome


def test_worst_satisfaction() -> None:
    assert worst_satisfaction([Satisfaction.SATISFIED, None, Satisfaction.MOSTLY]) is Satisfaction.MOSTLY
    assert worst_satisfaction([Satisfaction.DISSATISFIED, Satisfaction.SATISFIED]) is Satisfaction.DISSATISFIED
    assert worst_satisfaction([None, None]) is None


def test_building_sample_puts_complainants_first_and_is_reproducible() -> None:
    known = [f"H-{i}" for i in range(10)]
    one = building_sample(case_id="C-1", round_=1, complainants=["H-7"], known=known, size=3)
    assert one[0] == "H-7" and len(set(one)) == 3 and set(one) <= set(known)
    assert one == building_sample(case_id="C-1", round_=1, complainants=["H-7"], known=reversed(known), size=3)
    assert building_sample(case_id="C-1", round_=1, complainants=[], known=[], size=3) == []
    assert building_sample(case_id="C-1", round_=1, complainants=[], known=["H-1"], size=3) == ["H-1"]
    many = building_sample(case_id="C-1", round_=2, complainants=known, known=known, size=2)
    assert len(many) == 2 and set(many) <= set(known)


# -- 每周随机抽核 --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("population", "share", "minimum", "size"),
    [(0, 0.1, 1, 0), (1, 0.1, 1, 1), (10, 0.1, 1, 1), (11, 0.1, 1, 2), (30, 0.2, 1, 6), (3, 1.0, 1, 3), (5, 0.1, 0, 1)],
)
def test_sample_size(population: int, share: float, minimum: int, size: int) -> None:
    assert sample_size(population, share=share, minimum=minimum) == size


def test_spot_check_sample_is_reproducible_from_its_seed() -> None:
    population = [(f"C-{i:03d}", 1) for i in range(40)]
    args = {"seed": "s", "street_id": "S-JYG", "week": "2026-W47", "share": 0.1, "minimum": 1}
    first = spot_check_sample(population, **args)  # type: ignore[arg-type]
    assert first == spot_check_sample(list(reversed(population)), **args)  # type: ignore[arg-type]
    assert len(first) == 4 and first == sorted(first) and set(first) <= set(population)
    # Pinned: the same seed, street, week and population give this draw on any machine and any day.
    assert first == [("C-007", 1), ("C-009", 1), ("C-022", 1), ("C-023", 1)]
    others = {
        tuple(spot_check_sample(population, **{**args, "seed": f"s{i}"}))  # type: ignore[arg-type]
        for i in range(5)
    }
    assert len(others) > 1  # the seed matters


# -- the calendar ----------------------------------------------------------------------------------------------------


def test_weeks_and_days_are_local() -> None:
    assert parse_week("2026-W47") == date(2026, 11, 16)
    start, end = week_window("2026-W47", SHANGHAI)
    assert start == datetime(2026, 11, 15, 16, 0, tzinfo=UTC) and end == datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
    assert day_window(date(2026, 11, 16), SHANGHAI)[0] == datetime(2026, 11, 15, 16, 0, tzinfo=UTC)
    sunday_night_utc = datetime(2026, 11, 22, 15, 59, tzinfo=UTC)  # 23:59 Sunday in Lanzhou
    assert week_of(sunday_night_utc, SHANGHAI) == "2026-W47"
    assert week_of(datetime(2026, 11, 22, 16, 0, tzinfo=UTC), SHANGHAI) == "2026-W48"
    assert previous_week(datetime(2026, 11, 23, 1, 0, tzinfo=UTC), SHANGHAI) == "2026-W47"
    assert next_week("2026-W52") == "2026-W53" and next_week("2026-W53") == "2027-W01"


@pytest.mark.parametrize("week", ["2026-47", "2026-W54", "26-W01", "2026-W00", ""])
def test_bad_weeks_are_refused(week: str) -> None:
    with pytest.raises(ValueError):
        parse_week(week)


def test_settings_refuse_unknown_weights_and_zones() -> None:
    with pytest.raises(ValidationError):
        FollowupSettings(score_weights={"speed": 1.0})
    with pytest.raises(ValidationError):
        FollowupSettings(score_weights={"redo_rate": 0.0})
    with pytest.raises(ValidationError):
        FollowupSettings(report_timezone="Mars/Olympus")
