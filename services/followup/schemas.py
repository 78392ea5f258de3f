"""HTTP shapes of the follow-up API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from services.followup import texts
from services.followup.domain import PLAUSIBLE_INDOOR_C
from shared.contracts.common import Satisfaction
from shared.evidence import MAX_PHOTOS, PhotoKey, PhotoOut
from shared.privacy import STORED


def _plausible(temps: list[float]) -> list[float]:
    low, high = PLAUSIBLE_INDOOR_C
    if any(not (low <= t <= high) for t in temps):
        raise PydanticCustomError("temperature_implausible", texts.TEMP_IMPLAUSIBLE)
    return temps


class VisitIn(BaseModel):
    """What the grid worker brings back from the return visit (回访: 测温、拍照、问满意度)."""

    reached: bool = Field(default=True, strict=True, description="Whether the resident was reached (见到居民).")
    room_temps_c: list[float] = Field(
        default_factory=list,
        max_length=10,
        strict=True,
        validate_default=True,
        description="One reading per room, °C. Required when the resident was reached.",
    )
    satisfaction: Satisfaction | None = Field(
        default=None,
        validate_default=True,
        description="满意 satisfied / 基本满意 mostly / 不满意 dissatisfied. Required when reached, absent otherwise.",
    )
    notes: Annotated[str, Field(max_length=2000), STORED] | None = Field(
        default=None, description="What the worker noted (回访记录), stored redacted."
    )
    photo_refs: list[PhotoKey] = Field(
        default_factory=list,
        max_length=MAX_PHOTOS,
        description="Photos (the thermometer in the room) uploaded with follow-up's ``POST /v1/photos/uploads``; at "
        "least one when the resident was reached, unless the district turned the rule off.",
    )

    @field_validator("room_temps_c")
    @classmethod
    def _temps(cls, temps: list[float], info: ValidationInfo) -> list[float]:
        _plausible(temps)
        if info.data.get("reached", True) and not temps:
            raise PydanticCustomError("temperature_required", texts.TEMPS_REQUIRED)
        return temps

    @field_validator("satisfaction")
    @classmethod
    def _answer(cls, answer: Satisfaction | None, info: ValidationInfo) -> Satisfaction | None:
        reached = info.data.get("reached", True)
        if reached and answer is None:
            raise PydanticCustomError("satisfaction_required", texts.SATISFACTION_REQUIRED)
        if not reached and answer is not None:
            raise PydanticCustomError("satisfaction_unexpected", texts.NO_SATISFACTION_WHEN_UNREACHED)
        return answer


class VisitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    round: int
    category: str
    household_id: str | None = Field(description="None for a building-level visit.")
    building_id: str
    place_name: str | None = Field(default=None, description="小区 · 楼栋 · 单元 · 室, where known.")
    grid_id: str
    community_id: str
    street_id: str
    resolved_at: datetime
    due_at: datetime
    standard_c: float = Field(description="The indoor standard of the district, °C.")
    status: str = Field(description="pending, closed, reopened, or cancelled (another visit of the round failed).")
    overdue_at: datetime | None = Field(description="When the visit went overdue and was escalated to the community.")
    attempts: int = Field(description="Attempts at which the resident was not reached.")
    unreached: bool = Field(description="Decided on the temperature alone: the resident was not reached.")
    room_temps_c: list[float] | None
    min_temp_c: float | None
    satisfaction: str | None
    reopen_reason: str | None
    notes: str | None
    photo_refs: list[str]
    visited_by: str | None
    visited_at: datetime | None
    round_outcome: str | None = Field(
        default=None, description="The round's verdict so far: pending, closed or reopened (a building sample)."
    )
    photos: list[PhotoOut] = Field(default_factory=list, description="The photos of the visit (short-lived links).")
    photo_required: bool = Field(
        default=True, description="Whether recording it with the resident reached needs a photo (the district's rule)."
    )


class SpotCheckIn(BaseModel):
    """What the street task force finds when it checks a closed case (抽核)."""

    room_temps_c: list[float] = Field(min_length=1, max_length=10, strict=True, description="One reading per room, °C.")
    satisfaction: Satisfaction | None = Field(default=None, description="The resident's answer, if reached.")
    record_mismatch: bool = Field(
        default=False,
        strict=True,
        description="The return-visit record does not match what was found (回访记录不实): fails.",
    )
    notes: Annotated[str, Field(max_length=2000), STORED] | None = Field(
        default=None, description="What the task force noted, stored redacted."
    )
    photo_refs: list[PhotoKey] = Field(default_factory=list, max_length=MAX_PHOTOS)

    @field_validator("room_temps_c")
    @classmethod
    def _temps(cls, temps: list[float]) -> list[float]:
        return _plausible(temps)


class SpotCheckOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    street_id: str
    community_id: str
    week: str
    case_id: str
    round: int
    household_id: str | None
    building_id: str
    unit_ids: list[str]
    closed_at: datetime
    standard_c: float
    drawn_at: datetime
    status: str = Field(description="pending, passed or failed")
    room_temps_c: list[float] | None
    min_temp_c: float | None
    satisfaction: str | None
    record_mismatch: bool
    notes: str | None
    photo_refs: list[str]
    checked_by: str | None
    checked_at: datetime | None


class DrawOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    street_id: str
    week: str
    seed: str
    share: float
    population: list[list[Any]] = Field(description="The closed rounds of the week, [case_id, round], sorted.")
    sample: list[list[Any]] = Field(description="random.Random(f'{seed}:{street_id}:{week}').sample(population, k)")
    drawn_by: str
    drawn_at: datetime
    checks: list[SpotCheckOut] = Field(default_factory=list)


class ScoreLineOut(BaseModel):
    rank: int | None
    key: str = Field(description="The unit id, the unit type, or the district id.")
    unit_type: str | None
    assignments: int
    returns: int
    escalations: int
    sign_in_counted: int
    signed_in_on_time: int
    on_time_sign_in_rate: float | None
    resolve_counted: int
    resolved_on_time: int
    on_time_resolve_rate: float | None
    rounds: int
    rounds_reopened: int
    redo_rate: float | None
    spot_checks: int
    spot_check_failures: int
    visits_answered: int
    visits_satisfied: int
    satisfaction_rate: float | None
    visits_measured: int
    visits_compliant: int
    temperature_compliance: float | None
    photos: int = Field(description="办结 photos the unit attached.")
    photos_flagged: int = Field(description="Of them, not shown to be taken during the job (时间存疑).")
    mean_temp_c: float | None
    score: float | None


class ScorecardOut(BaseModel):
    start: date
    end: date = Field(description="Last day of the period (inclusive).")
    as_of: datetime
    group: str
    rank_by: str
    scope: str = Field(description="all, or the street / district the caller oversees, or the caller's unit.")
    of: int = Field(description="How many lines the ranking has (a unit sees only its own line).")
    lines: list[ScoreLineOut]
    formulas: dict[str, str]


class AssessmentLineOut(BaseModel):
    rank: int | None
    key: str = Field(description="The unit id, or the unit type.")
    unit_type: str | None
    assignments: int
    cases: int = Field(description="Distinct cases of the line's assignments.")
    sign_in_due: int = Field(description="Assignments due to sign in (signed in, or past the deadline unsigned).")
    signed_in: int
    signed_in_on_time: int
    response_rate: float | None = Field(description="响应率 = signed_in / sign_in_due.")
    on_time_sign_in_rate: float | None = Field(description="按时签收率 = signed_in_on_time / sign_in_due.")
    cases_decided: int = Field(description="Cases whose latest round the line took part in has a verdict.")
    cases_closed: int
    resolution_rate: float | None = Field(description="解决率 = cases_closed / cases_decided.")
    visits_answered: int
    visits_satisfied: int = Field(description="满意 + 基本满意.")
    satisfaction_rate: float | None = Field(description="满意率 = visits_satisfied / visits_answered.")
    resolve_due: int = Field(description="Assignments due to resolve (resolved, or past the deadline unresolved).")
    resolved_on_time: int
    on_time_resolve_rate: float | None = Field(description="按时办结率 = resolved_on_time / resolve_due.")
    cases_hurried: int = Field(description="Cases a 催单 named the line's unit in.")
    repeat_complaint_rate: float | None = Field(description="重复诉求率 = cases_hurried / cases.")
    composite: float | None = Field(description="Weighted composite of 响应率, 解决率, 满意率 (0–100).")


class AssessmentOut(BaseModel):
    start: date
    end: date = Field(description="Last day of the period (inclusive).")
    as_of: datetime
    by: str
    rank_by: str
    scope: str = Field(description="all, or the street / district the caller oversees, or the caller's unit.")
    of: int = Field(description="How many lines the ranking has (a unit sees only its own line).")
    weights: dict[str, float] = Field(description="The composite's weights in force.")
    lines: list[AssessmentLineOut]
    formulas: dict[str, str]


class FiguresOut(BaseModel):
    ledger_visits: int
    households_visited: int
    residents_reached: int
    problems_found: int
    found_on_visits: int
    settled_on_site: int
    solved: int
    reopened: int
    withdrawn: int = Field(description="Reports whose case was withdrawn (撤单) while they were open.")
    open: int
    overdue: int
    escalated: int
    cases_closed: int
    return_visits: int
    visits_overdue: int
    visits_answered: int
    visits_satisfied: int
    satisfaction_rate: float | None
    mean_temp_c: float | None


class NotableOut(BaseModel):
    case_id: str
    category: str
    building_id: str
    household_id: str | None
    reasons: list[str]


class DailyReportOut(BaseModel):
    level: str = Field(description="community or street")
    area_id: str
    area_name: str
    date: date
    as_of: datetime
    figures: FiguresOut
    notable: list[NotableOut]
    text: str = Field(description="The report in Chinese, as it is read out or pasted into a chat.")


class DayOut(BaseModel):
    date: date
    figures: FiguresOut


class SeasonReportOut(BaseModel):
    level: str
    area_id: str
    area_name: str
    start: date
    end: date
    as_of: datetime
    totals: FiguresOut
    days: list[DayOut]
    text: str
