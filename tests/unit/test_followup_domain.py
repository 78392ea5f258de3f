import pytest
from pydantic import ValidationError

from services.followup.domain import verdict
from services.followup.schemas import VisitIn
from shared.contracts.common import Satisfaction
from shared.contracts.followup import ReopenReason


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


@pytest.mark.parametrize("temp", [60.0, -40.0, 35.5])
def test_implausible_indoor_temperature_is_an_error(temp: float) -> None:
    with pytest.raises(ValidationError, match="室温读数不合理"):
        VisitIn(room_temps_c=[20.0, temp], satisfaction=Satisfaction.SATISFIED)


def test_a_visit_needs_a_reading() -> None:
    with pytest.raises(ValidationError):
        VisitIn(room_temps_c=[], satisfaction=Satisfaction.SATISFIED)
