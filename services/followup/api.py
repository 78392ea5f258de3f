"""Follow-up HTTP API: return visits (grid workers), weekly spot-checks (street task force), unit scorecards
and the daily and season reports. Everything outside the caller's grid, street or district is a 404."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.followup import domain, queries, render, reports, scorecard, service, spotchecks, texts
from services.followup.config import FollowupSettings
from services.followup.deps import now_of as _now
from services.followup.deps import settings_of as _settings
from services.followup.deps import writer_of as _writer
from services.followup.models import IdempotentReply, Round, SpotCheckDraw, Visit
from services.followup.schemas import (
    DailyReportOut,
    DayOut,
    DrawOut,
    FiguresOut,
    NotableOut,
    ScorecardOut,
    ScoreLineOut,
    SeasonReportOut,
    SpotCheckIn,
    SpotCheckOut,
    VisitIn,
    VisitOut,
)
from services.followup.states import SpotCheckStatus, VisitStatus
from shared.auth import Role, require
from shared.errors import ApiError, NotFound, responses
from shared.evidence import PHOTO_REFUSALS, PhotoOut
from shared.http.deps import Transaction
from shared.http.photos import evidence_of as _evidence
from shared.http.security import CurrentPrincipal
from shared.idempotency import IdempotencyKey, once
from shared.inputs import IsoDate

router = APIRouter()

MAX_DAYS = 400
OVERSEERS = (Role.TASK_FORCE, Role.DISTRICT, Role.ADMIN)


Session = Transaction


def _one_of(*choices: str) -> str:
    """The pattern of a query parameter taking one of ``choices`` (statuses, in their enum's order)."""
    return f"^({'|'.join(choices)})$"


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


# -- return visits ---------------------------------------------------------------------------------------------


def _visit_out(
    visit: Visit, round_: Round | None, photos: dict[str, PhotoOut] | None = None, *, photo_required: bool = True
) -> VisitOut:
    out = VisitOut.model_validate(visit)
    shown = [photos[k] for k in visit.photo_refs or [] if k in photos] if photos else []
    update = {"round_outcome": round_.outcome if round_ else None, "photos": shown, "photo_required": photo_required}
    return out.model_copy(update=update)


async def _photos(session: AsyncSession, request: Request, *subjects: Any) -> dict[str, PhotoOut]:
    """The photos of these visits or checks, by key, in one query (short-lived links)."""
    keys = [k for x in subjects for k in (x.photo_refs or [])]
    return {p.key: p for p in await _evidence(request).shown(session, keys)} if keys else {}


@router.get("/v1/visits", response_model=list[VisitOut], tags=["return visits"], responses=responses(401, 403, 422))
async def list_visits(
    principal: CurrentPrincipal,
    session: Session,
    request: Request,
    status: Annotated[
        str, Query(pattern=_one_of(*VisitStatus, "all"), description="all: any status")
    ] = VisitStatus.PENDING,
    overdue: Annotated[bool | None, Query(description="Only overdue (true) or only on time (false).")] = None,
    community_id: Annotated[str | None, Query(max_length=64)] = None,
    case_id: Annotated[str | None, Query(max_length=64)] = None,
) -> list[VisitOut]:
    """The return visits the caller oversees, earliest deadline first: a grid worker those of its grid, the task
    force its street's, a district its district's. Overdue visits (escalated to the community) carry
    ``overdue_at``."""
    require(principal, Role.GRID_WORKER, *OVERSEERS)
    visits = await service.list_visits(
        session,
        principal=principal,
        status=None if status == "all" else status,
        overdue=overdue,
        community_id=community_id,
        case_id=case_id,
    )
    rounds = await service.rounds_of(session, visits)
    photos = await _photos(session, request, *visits)
    required = _settings(request).photo_required_on_visit
    return [_visit_out(v, rounds.get((v.case_id, v.round)), photos, photo_required=required) for v in visits]


@router.get(
    "/v1/visits/{visit_id}", response_model=VisitOut, tags=["return visits"], responses=responses(401, 403, 404, 422)
)
async def get_visit(visit_id: str, principal: CurrentPrincipal, session: Session, request: Request) -> VisitOut:
    require(principal, Role.GRID_WORKER, *OVERSEERS)
    visit = await service.get(session, visit_id=visit_id, principal=principal)
    return _visit_out(
        visit,
        await service.round_of(session, visit),
        await _photos(session, request, visit),
        photo_required=_settings(request).photo_required_on_visit,
    )


@router.post(
    "/v1/visits/{visit_id}/record",
    response_model=VisitOut,
    tags=["return visits"],
    responses={**responses(401, 403, 404, 409, 422), **PHOTO_REFUSALS},
)
async def record_visit(
    visit_id: str,
    body: VisitIn,
    principal: CurrentPrincipal,
    session: Session,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """回访: measured rooms, photos of the thermometer and the resident's verdict — or ``reached: false`` when nobody
    could be reached. Closes the case or sends it back to dispatch once the round's visits are in. Photos: 404 for
    one this worker did not upload here, 413/422 too large or not an image, 503 with Retry-After while the photo
    store is down (nothing is recorded then). Resent with the same ``Idempotency-Key``: the first answer."""
    require(principal, Role.GRID_WORKER)

    async def act() -> VisitOut:
        visit, round_ = await service.record(
            session,
            _writer(request),
            visit_id=visit_id,
            principal=principal,
            body=body,
            settings=_settings(request),
            at=_now(request),
            evidence=_evidence(request),
        )
        return _visit_out(
            visit,
            round_,
            await _photos(session, request, visit),
            photo_required=_settings(request).photo_required_on_visit,
        )

    return await once(session, IdempotentReply, request, key=idempotency_key, principal=principal, action=act)


# -- 每周随机抽核 -----------------------------------------------------------------------------------------------


async def _draw_out(session: AsyncSession, drawn: SpotCheckDraw) -> DrawOut:
    checks = await spotchecks.checks_of(session, drawn)
    out = DrawOut.model_validate(drawn)
    return out.model_copy(update={"checks": [SpotCheckOut.model_validate(c) for c in checks]})


@router.post(
    "/v1/spot-checks/draw",
    response_model=list[DrawOut],
    tags=["spot-checks"],
    responses=responses(401, 403, 404, 422),
)
async def draw_spot_checks(
    principal: CurrentPrincipal,
    session: Session,
    request: Request,
    week: Annotated[
        str | None, Query(max_length=8, description="ISO week, e.g. 2026-W47; default: the last full week.")
    ] = None,
    street_id: Annotated[
        str | None, Query(max_length=64, description="Default: the task force's street; admin: every street.")
    ] = None,
) -> list[DrawOut]:
    """Draw the weekly sample of closed cases to check. The sample is
    ``random.Random(f"{seed}:{street}:{week}").sample(population, k)``; drawing again returns the same draw."""
    require(principal, Role.TASK_FORCE, Role.ADMIN)
    settings, now = _settings(request), _now(request)
    week = week or domain.previous_week(now, settings.zone)
    if principal.role is Role.TASK_FORCE:
        if street_id and street_id != principal.scope:
            raise NotFound("street", texts.AREA_NOT_FOUND)
        street_id = principal.scope
    writer = _writer(request)
    if street_id:
        draws = [
            await spotchecks.draw(
                session, writer, street_id=street_id, week=week, settings=settings, by=principal.sub, at=now
            )
        ]
    else:
        draws = await spotchecks.draw_all(session, writer, week=week, settings=settings, by=principal.sub, at=now)
    return [await _draw_out(session, d) for d in draws]


@router.get(
    "/v1/spot-checks", response_model=list[SpotCheckOut], tags=["spot-checks"], responses=responses(401, 403, 422)
)
async def list_spot_checks(
    principal: CurrentPrincipal,
    session: Session,
    week: Annotated[str | None, Query(max_length=8)] = None,
    status: Annotated[str | None, Query(pattern=_one_of(*SpotCheckStatus))] = None,
    street_id: Annotated[str | None, Query(max_length=64)] = None,
) -> list[SpotCheckOut]:
    """The check tasks of the caller's street (task force) or district."""
    require(principal, *OVERSEERS)
    checks = await spotchecks.list_checks(session, principal=principal, week=week, status=status, street_id=street_id)
    return [SpotCheckOut.model_validate(c) for c in checks]


@router.get(
    "/v1/spot-checks/{check_id}",
    response_model=SpotCheckOut,
    tags=["spot-checks"],
    responses=responses(401, 403, 404, 422),
)
async def get_spot_check(check_id: str, principal: CurrentPrincipal, session: Session) -> SpotCheckOut:
    require(principal, *OVERSEERS)
    return SpotCheckOut.model_validate(await spotchecks.get(session, check_id=check_id, principal=principal))


@router.post(
    "/v1/spot-checks/{check_id}/record",
    response_model=SpotCheckOut,
    tags=["spot-checks"],
    responses=responses(401, 403, 404, 409, 422),
)
async def record_spot_check(
    check_id: str, body: SpotCheckIn, principal: CurrentPrincipal, session: Session, request: Request
) -> SpotCheckOut:
    """The task force's finding; a failure reopens the case (CaseReopened, spot_check_failed)."""
    require(principal, Role.TASK_FORCE, Role.ADMIN)
    check = await spotchecks.record(
        session,
        _writer(request),
        check_id=check_id,
        principal=principal,
        body=body,
        at=_now(request),
        evidence=_evidence(request),
    )
    return SpotCheckOut.model_validate(check)


# -- 考核 ---------------------------------------------------------------------------------------------------------


def _period(start: date | None, end: date | None, today: date, *, default_days: int) -> tuple[date, date]:
    end = end or today
    start = start or end - timedelta(days=default_days - 1)
    if start > end:
        raise ApiError(422, "range_invalid", texts.RANGE_INVALID, "start")
    if (end - start).days >= MAX_DAYS:
        raise ApiError(422, "range_too_long", texts.RANGE_TOO_LONG, "start")
    return start, end


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
    settings, now = _settings(request), _now(request)
    first, last = _period(start, end, domain.local_day(now, settings.zone), default_days=7)
    since = domain.day_window(first, settings.zone)[0]
    until = domain.day_window(last, settings.zone)[1]
    scope_name, scope = queries.case_scope(principal)
    facts = await queries.scorecard_facts(session, start=since, end=until, scope=scope)
    lines = scorecard.compute(*facts, group=group, as_of=now, weights=settings.score_weights, rank_by=rank_by)
    total = len(lines)
    if principal.role is Role.UNIT:
        lines = [line for line in lines if group is scorecard.Group.UNIT and line.key == principal.sub]
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
    settings, now = _settings(request), _now(request)
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
    settings, now = _settings(request), _now(request)
    today = domain.local_day(now, settings.zone)
    first, last = _period(start, end, today, default_days=1)
    if last > today:
        raise ApiError(422, "date_in_future", texts.DATE_IN_FUTURE, "end")
    area = await queries.resolve_area(session, principal=principal, community_id=community_id, street_id=street_id)
    since, until = domain.day_window(first, settings.zone)[0], domain.day_window(last, settings.zone)[1]
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
