"""Follow-up HTTP API for assessment and reports: unit scorecards (考核) and the 12345 hotline's assessment
(响应率 / 解决率 / 满意率) for any period, the daily report (日报告) and the season report of a community or street,
as JSON, CSV or Chinese text. Everything outside the caller's street or district is a 404."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response

from services.followup import assessment, domain, queries, render, reports, scorecard, texts
from services.followup.config import FollowupSettings
from services.followup.deps import OVERSEERS, Session, followup_context
from services.followup.schemas import (
    AssessmentLineOut,
    AssessmentOut,
    DailyReportOut,
    DayOut,
    FiguresOut,
    NotableOut,
    ScorecardOut,
    ScoreLineOut,
    SeasonReportOut,
)
from shared.auth import Principal, Role, require
from shared.errors import ApiError, responses
from shared.http.security import CurrentPrincipal
from shared.inputs import IsoDate

router = APIRouter()

MAX_DAYS = 400


class Format(StrEnum):
    JSON = "json"
    CSV = "csv"
    TEXT = "text"


ALTERNATIVES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}, "text/plain": {}}, "description": "JSON; CSV or Chinese text with ?format="}
}


def _csv(body: str, name: str) -> Response:
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _text(body: str) -> Response:
    return Response(body, media_type="text/plain; charset=utf-8")


def _period(start: date | None, end: date | None, today: date, *, default_days: int) -> tuple[date, date]:
    end = end or today
    start = start or end - timedelta(days=default_days - 1)
    if start > end:
        raise ApiError(422, "range_invalid", texts.RANGE_INVALID, "start")
    if (end - start).days >= MAX_DAYS:
        raise ApiError(422, "range_too_long", texts.RANGE_TOO_LONG, "start")
    return start, end


class _Line(Protocol):
    @property
    def key(self) -> str: ...


L = TypeVar("L", bound=_Line)


def _instants(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """From the start of the local day ``first`` to the end of ``last``."""
    return domain.day_window(first, zone)[0], domain.day_window(last, zone)[1]


def _own_only(principal: Principal, lines: list[L], *, by_unit: bool) -> list[L]:
    """What a unit sees of a ranking: its own line, when the lines are units; others see every line."""
    if principal.role is not Role.UNIT:
        return lines
    return [line for line in lines if by_unit and line.key == principal.sub]


@router.get(
    "/v1/scorecards",
    response_model=ScorecardOut,
    responses={**ALTERNATIVES, **responses(401, 403, 422)},
    tags=["assessment"],
)
async def scorecards(
    principal: CurrentPrincipal,
    session: Session,
    request: Request,
    start: Annotated[IsoDate | None, Query(description="First day (local), default: 6 days before end.")] = None,
    end: Annotated[IsoDate | None, Query(description="Last day (local, inclusive), default: today.")] = None,
    group: scorecard.Group = scorecard.Group.UNIT,
    rank_by: Annotated[str, Query(pattern="^(" + "|".join(scorecard.RANKABLE) + ")$")] = "score",
    format: Format = Format.JSON,
) -> ScorecardOut | Response:
    """Unit scorecard (考核) for any period, per unit, unit type or district, ranked best first. The task force
    sees the units working in its street, a district in its district; a unit sees only its own line (and its
    rank among all units). Formulas: ``formulas`` of the answer."""
    require(principal, Role.UNIT, *OVERSEERS)
    ctx = followup_context(request)
    settings, now = ctx.settings, ctx.clock.now()
    first, last = _period(start, end, domain.local_day(now, settings.zone), default_days=7)
    since, until = _instants(first, last, settings.zone)
    scope_name, scope = queries.case_scope(principal)
    facts = await queries.scorecard_facts(session, start=since, end=until, scope=scope)
    lines = scorecard.compute(*facts, group=group, as_of=now, weights=settings.score_weights, rank_by=rank_by)
    total = len(lines)
    lines = _own_only(principal, lines, by_unit=group is scorecard.Group.UNIT)
    if format is Format.CSV:
        return _csv(render.scorecard_csv(lines), f"scorecard-{group.value}-{first}-{last}")
    return ScorecardOut(
        start=first,
        end=last,
        as_of=now,
        group=group.value,
        rank_by=rank_by,
        scope=scope_name,
        of=total,
        lines=[ScoreLineOut.model_validate(line.as_dict()) for line in lines],
        formulas=scorecard.FORMULAS,
    )


class TableFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


@router.get(
    "/v1/assessment",
    response_model=AssessmentOut,
    responses={
        200: {"content": {"text/csv": {}}, "description": "JSON; CSV with ?format=csv"},
        **responses(401, 403, 422),
    },
    tags=["assessment"],
)
async def assessment_lines(
    principal: CurrentPrincipal,
    session: Session,
    request: Request,
    start: Annotated[IsoDate | None, Query(description="First day (local), default: 6 days before end.")] = None,
    end: Annotated[IsoDate | None, Query(description="Last day (local, inclusive), default: today.")] = None,
    by: assessment.By = assessment.By.UNIT,
    rank_by: Annotated[str, Query(pattern="^(" + "|".join(assessment.RANKABLE) + ")$")] = "composite",
    format: TableFormat = TableFormat.JSON,
) -> AssessmentOut | Response:
    """The 12345 hotline's assessment (考核) per unit or unit type for any period: 响应率, 解决率, 满意率 and
    their weighted composite (FOLLOWUP_ASSESSMENT_WEIGHTS), with 按时签收率, 按时办结率 and 重复诉求率. The
    cohort and the scoping are the scorecard's (withdrawn cases count against no unit); a unit sees only its own
    line. Formulas: ``formulas`` of the answer."""
    require(principal, Role.UNIT, *OVERSEERS)
    ctx = followup_context(request)
    settings, now = ctx.settings, ctx.clock.now()
    first, last = _period(start, end, domain.local_day(now, settings.zone), default_days=7)
    since, until = _instants(first, last, settings.zone)
    scope_name, scope = queries.case_scope(principal)
    cohort, rounds, visits, _ = await queries.scorecard_facts(session, start=since, end=until, scope=scope)
    hurries = await queries.hurries_of(session, sorted({a.case_id for a in cohort}))
    lines = assessment.compute(
        cohort, rounds, visits, hurries, by=by, as_of=now, weights=settings.assessment_weights, rank_by=rank_by
    )
    total = len(lines)
    lines = _own_only(principal, lines, by_unit=by is assessment.By.UNIT)
    if format is TableFormat.CSV:
        return _csv(render.assessment_csv(lines), f"assessment-{by.value}-{first}-{last}")
    return AssessmentOut(
        start=first,
        end=last,
        as_of=now,
        by=by.value,
        rank_by=rank_by,
        scope=scope_name,
        of=total,
        weights=settings.assessment_weights,
        lines=[AssessmentLineOut.model_validate(line.as_dict()) for line in lines],
        formulas=texts.ASSESSMENT_FORMULAS,
    )


# -- 日报告 and the season report ----------------------------------------------------------------------------------


def _figures(f: reports.Figures) -> FiguresOut:
    return FiguresOut.model_validate(f.as_dict())


def _area_name(settings: FollowupSettings, area: queries.Area) -> str:
    return settings.area_names.get(area.id, area.id)


AreaQuery = Annotated[str | None, Query(max_length=64, description="A community id (or give street_id).")]
StreetQuery = Annotated[str | None, Query(max_length=64, description="A street id (or give community_id).")]
# A report of an area the caller does not oversee is a 404, like one that does not exist.
REPORT_RESPONSES = {**ALTERNATIVES, **responses(401, 403, 404, 422)}


@router.get("/v1/reports/daily", response_model=DailyReportOut, responses=REPORT_RESPONSES, tags=["reports"])
async def daily_report(
    principal: CurrentPrincipal,
    session: Session,
    request: Request,
    date_: Annotated[IsoDate | None, Query(alias="date", description="Local day, default: today.")] = None,
    community_id: AreaQuery = None,
    street_id: StreetQuery = None,
    format: Format = Format.JSON,
) -> DailyReportOut | Response:
    """日报告 of a community or a street: households visited, residents reached, problems found, solved, open,
    overdue, escalated, and the day's notable cases. Definitions: the module docstring of ``reports``."""
    require(principal, Role.GRID_WORKER, *OVERSEERS)
    ctx = followup_context(request)
    settings, now = ctx.settings, ctx.clock.now()
    today = domain.local_day(now, settings.zone)
    day = date_ or today
    if day > today:
        raise ApiError(422, "date_in_future", texts.DATE_IN_FUTURE, "date")
    area = await queries.resolve_area(session, principal=principal, community_id=community_id, street_id=street_id)
    since, until = domain.day_window(day, settings.zone)
    facts = await queries.load_area(session, area, since=since, until=until)
    report = reports.daily(facts, day, zone=settings.zone, as_of=now, notable_limit=settings.notable_limit)
    name = _area_name(settings, area)
    if format is Format.CSV:
        return _csv(render.days_csv(area.id, [report]), f"daily-{area.id}-{day}")
    text = render.daily_text(name, report)
    if format is Format.TEXT:
        return _text(text)
    return DailyReportOut(
        level=area.level,
        area_id=area.id,
        area_name=name,
        date=day,
        as_of=min(now, until),
        figures=_figures(report.figures),
        notable=[
            NotableOut(
                case_id=n.case_id,
                category=n.category,
                building_id=n.building_id,
                household_id=n.household_id,
                reasons=list(n.reasons),
            )
            for n in report.notable
        ],
        text=text,
    )


@router.get("/v1/reports/season", response_model=SeasonReportOut, responses=REPORT_RESPONSES, tags=["reports"])
async def season_report(
    principal: CurrentPrincipal,
    session: Session,
    request: Request,
    start: Annotated[IsoDate, Query(description="First day of the range (local), e.g. the season's first day.")],
    end: Annotated[IsoDate | None, Query(description="Last day (inclusive), default: today.")] = None,
    community_id: AreaQuery = None,
    street_id: StreetQuery = None,
    format: Format = Format.JSON,
) -> SeasonReportOut | Response:
    """The season (or any range) with its day-by-day trend: flows add up, stocks are those of the last day."""
    require(principal, Role.GRID_WORKER, *OVERSEERS)
    ctx = followup_context(request)
    settings, now = ctx.settings, ctx.clock.now()
    today = domain.local_day(now, settings.zone)
    first, last = _period(start, end, today, default_days=1)
    if last > today:
        raise ApiError(422, "date_in_future", texts.DATE_IN_FUTURE, "end")
    area = await queries.resolve_area(session, principal=principal, community_id=community_id, street_id=street_id)
    since, until = _instants(first, last, settings.zone)
    facts = await queries.load_area(session, area, since=since, until=until)
    report = reports.season(facts, first, last, zone=settings.zone, as_of=now)
    name = _area_name(settings, area)
    if format is Format.CSV:
        return _csv(render.days_csv(area.id, report.days, report.totals), f"season-{area.id}-{first}-{last}")
    text = render.season_text(name, report)
    if format is Format.TEXT:
        return _text(text)
    return SeasonReportOut(
        level=area.level,
        area_id=area.id,
        area_name=name,
        start=first,
        end=last,
        as_of=min(now, until),
        totals=_figures(report.totals),
        days=[DayOut(date=r.day, figures=_figures(r.figures)) for r in report.days],
        text=text,
    )
