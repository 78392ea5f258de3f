"""Dispatch HTTP API for the registry and the rules: cold snaps (district, admin), the units (read by every
signed-in caller, loaded by the admin), the versioned dispatch rules and the working-day calendar (admin)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import ValidationError

from services.dispatch import calendar_years, registry, rules, texts, workdays
from services.dispatch.deps import Now, Session
from services.dispatch.domain import Rules
from services.dispatch.models import CalendarYear
from services.dispatch.schemas import CalendarYearIn, CalendarYearOut, ColdSnapIn, RuleSetOut, UnitOut, UnitsIn
from shared.auth import Role, require
from shared.errors import ApiError, responses
from shared.http.security import AdminOnly, CurrentPrincipal
from shared.privacy import STORED
from shared.scope import oversees

router = APIRouter()

# The years a calendar can be asked about or amended: the package's first year to well past any open case.
Year = Annotated[int, Path(ge=2004, le=2100, description="A calendar year, e.g. 2027.")]


@router.put("/v1/districts/{district_id}/cold-snap", tags=["task force"], responses=responses(401, 403, 422))
async def cold_snap(
    district_id: str, body: ColdSnapIn, principal: CurrentPrincipal, session: Session, clock: Now
) -> dict[str, Any]:
    """Declare or lift a cold snap (寒潮) for a district: new clocks there are tightened."""
    require(principal, Role.DISTRICT, Role.ADMIN)
    if not oversees(principal, district_id=district_id):
        raise ApiError(403, "forbidden", texts.NOT_YOUR_DISTRICT, "district_id")
    flag = await rules.set_cold_snap(
        session,
        district_id=district_id,
        active=body.active,
        until=body.until,
        by=principal.sub or principal.scope,
        at=clock.now(),
    )
    return {"district_id": flag.district_id, "cold_snap": flag.cold_snap, "until": flag.until}


@router.get("/v1/units", response_model=list[UnitOut], tags=["units"], responses=responses(401))
async def list_units(principal: CurrentPrincipal, session: Session) -> list[UnitOut]:
    """The registry's responsible units with their names, for every signed-in caller: the API answers name a unit
    by its id (assignments, timeline, extensions, scorecards); the console shows it by name."""
    return [UnitOut.model_validate(u) for u in await registry.list_units(session)]


@router.put("/admin/units", tags=["admin"], dependencies=[AdminOnly], responses=responses(401, 422))
async def put_units(body: UnitsIn, session: Session) -> dict[str, int]:
    """Load or update the registry of units and what each serves. Idempotent."""
    return {"units": await registry.load_units(session, units=[u.model_dump() for u in body.units])}


@router.get(
    "/admin/rules",
    response_model=list[RuleSetOut],
    tags=["admin"],
    dependencies=[AdminOnly],
    responses=responses(401),
)
async def get_rules(session: Session) -> list[RuleSetOut]:
    """Every version of the dispatch rules, the one in force first (``active``)."""
    history = await rules.rule_history(session)
    return [RuleSetOut.model_validate(r).model_copy(update={"active": i == 0}) for i, r in enumerate(history)]


@router.post(
    "/admin/rules/{version}/activate",
    response_model=RuleSetOut,
    tags=["admin"],
    dependencies=[AdminOnly],
    responses=responses(401, 404, 422),
)
async def activate_rules(version: int, session: Session) -> RuleSetOut:
    """Put an earlier version of the rules back in force (a rollback), at once on every replica; no new version is
    written. Cases opened from then on, and assignments made from then on, use it; clocks already running keep
    their deadlines. An unknown version answers 404."""
    row = await rules.activate(session, version=version)
    return RuleSetOut.model_validate(row).model_copy(update={"active": True})


@router.put("/admin/rules", tags=["admin"], dependencies=[AdminOnly], responses=responses(401, 422))
async def put_rules(
    body: dict[str, Any], session: Session, note: Annotated[str, Query(max_length=300), STORED] = ""
) -> dict[str, int]:
    """A new version of the rules (tiers, routes, clocks, escalation, limits), in force at once on every
    replica; no restart. The note is stored redacted (shared.privacy), like every free text."""
    try:
        parsed = Rules.model_validate(body)
    except ValidationError as exc:
        raise ApiError(
            422,
            "invalid_rules",
            f"{texts.RULES_INVALID}: {exc.errors()[0]['msg']}",
            ".".join(str(p) for p in exc.errors()[0]["loc"]),
        ) from exc
    return {"version": await rules.put_rules(session, rules=parsed, note=note, by="admin")}


@router.get(
    "/admin/calendar/{year}",
    response_model=CalendarYearOut,
    tags=["admin"],
    dependencies=[AdminOnly],
    responses=responses(401, 422),
)
async def get_calendar_year(year: Year, session: Session) -> CalendarYearOut:
    """A year's working-day calendar as deadlines are computed on it: an admin's amendment, else the chinese-calendar
    package's, else weekends only (``source`` says which; ``weekends_only`` is a year to amend)."""
    row = await calendar_years.amendment(session, year)
    if row is not None:
        return _amended(row)
    days = workdays.WorkCalendar().year(year)
    return CalendarYearOut(
        year=year,
        source=days.source,
        holidays=sorted(days.holidays),
        make_up_workdays=sorted(days.make_up_workdays),
    )


def _amended(row: CalendarYear) -> CalendarYearOut:
    return CalendarYearOut(
        year=row.year,
        source=workdays.DaysSource.AMENDED,
        holidays=[date.fromisoformat(d) for d in row.holidays],
        make_up_workdays=[date.fromisoformat(d) for d in row.make_up_workdays],
        note=row.note,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


@router.put(
    "/admin/calendar/{year}",
    response_model=CalendarYearOut,
    tags=["admin"],
    dependencies=[AdminOnly],
    responses=responses(401, 422),
)
async def put_calendar_year(year: Year, body: CalendarYearIn, session: Session, clock: Now) -> CalendarYearOut:
    """Amend a year's working days (the State Council's notice for the next year, each November): the holidays and
    the 调休 make-up working days replace the chinese-calendar package's for that year, for every deadline computed
    from now on, on every replica; deadlines already set stay. Sending the year again replaces the amendment."""
    days = workdays.amended_year(year, holidays=body.holidays, make_up_workdays=body.make_up_workdays)
    row = await calendar_years.amend_year(session, days, note=body.note, by="admin", at=clock.now())
    return _amended(row)
