"""Routing and clocks: the rules in force, who serves a place, creating assignments and arming their timers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import domain, metrics
from services.dispatch.domain import Clock, Rules
from services.dispatch.models import (
    Assignment,
    Case,
    CaseEvent,
    RuleSet,
    Unit,
    UnitCoverage,
    WeatherFlag,
    timers,
)
from shared import timers as durable
from shared.contracts.common import Category, Location, Priority, Tier, UnitType
from shared.contracts.dispatch import (
    CaseAssigned,
    EscalationLevel,
)
from shared.outbox import OutboxWriter

OPEN_STATUSES = ("dispatched", "signed_in", "on_site")
# Which assignment statuses still run each clock.
CLOCK_OPEN = {
    Clock.SIGN_IN: ("dispatched",),
    Clock.ON_SITE: ("dispatched", "signed_in"),
    Clock.RESOLVE: OPEN_STATUSES,
}
LEVEL_ORDER = {None: 0, EscalationLevel.REMINDER: 1, EscalationLevel.NOTICE: 2, EscalationLevel.SUPERVISION: 3}


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def timeline(session: AsyncSession, case_id: str, kind: str, actor: str, at: datetime, **detail: Any) -> None:
    session.add(CaseEvent(case_id=case_id, kind=kind, actor=actor, at=at, detail=detail))


def timer_kind(clock: Clock, level: EscalationLevel) -> str:
    return f"{clock.value}:{level.value}"


def kinds(*clocks: Clock) -> list[str]:
    return [timer_kind(c, lvl) for c in clocks for lvl in domain.CHAIN]


# -- rules and weather ----------------------------------------------------------------------------------

_RULES_CACHE: dict[int, Rules] = {}


async def current_rules(session: AsyncSession) -> tuple[int, Rules]:
    """The rule set in force (highest version). Parsed once per version per process."""
    version = await session.scalar(select(func.max(RuleSet.version)))
    if version is None:
        raise RuntimeError("no dispatch rules loaded")
    if version not in _RULES_CACHE:
        doc = await session.scalar(select(RuleSet.document).where(RuleSet.version == version))
        _RULES_CACHE[version] = Rules.model_validate(doc)
    return version, _RULES_CACHE[version]


async def ensure_rules(session: AsyncSession, *, default: Rules) -> int:
    """At start: load the shipped rules when the database has none yet."""
    version: int | None = await session.scalar(select(func.max(RuleSet.version)))
    if version is not None:
        return version
    return await put_rules(session, rules=default, note="rules.yaml", by="startup")


async def put_rules(session: AsyncSession, *, rules: Rules, note: str, by: str) -> int:
    row = RuleSet(document=rules.model_dump(mode="json"), note=note, created_by=by)
    session.add(row)
    await session.flush()
    return row.version


async def rule_history(session: AsyncSession) -> list[RuleSet]:
    return list((await session.scalars(select(RuleSet).order_by(RuleSet.version.desc()))).all())


async def set_cold_snap(
    session: AsyncSession, *, district_id: str, active: bool, until: datetime | None, by: str, at: datetime
) -> WeatherFlag:
    flag = await session.get(WeatherFlag, district_id)
    if flag is None:
        flag = WeatherFlag(district_id=district_id)
        session.add(flag)
    flag.cold_snap, flag.until, flag.set_by, flag.set_at = active, until, by, at
    return flag


async def cold_snap_active(session: AsyncSession, district_id: str, at: datetime) -> bool:
    flag = await session.get(WeatherFlag, district_id)
    return bool(flag and flag.cold_snap and (flag.until is None or flag.until > at))


# -- registry of units ---------------------------------------------------------------------------------


async def load_units(session: AsyncSession, *, units: list[dict[str, Any]]) -> int:
    """Upsert units and replace their coverage. Idempotent: loading the same file twice changes nothing."""
    for item in units:
        unit = await session.get(Unit, item["id"])
        if unit is None:
            unit = Unit(id=item["id"])
            session.add(unit)
        unit.type = UnitType(item["type"]).value
        unit.name = item["name"]
        unit.district_id = item["district_id"]
        await session.flush()
        for cov in (await session.scalars(select(UnitCoverage).where(UnitCoverage.unit_id == unit.id))).all():
            await session.delete(cov)
        await session.flush()
        for scope_kind, scope_ids in item.get("covers", {}).items():
            for scope_id in scope_ids:
                session.add(
                    UnitCoverage(unit_id=unit.id, unit_type=unit.type, scope_kind=scope_kind, scope_id=scope_id)
                )
    return len(units)


@dataclass(frozen=True, slots=True)
class Assignee:
    id: str
    type: UnitType


async def find_assignee(session: AsyncSession, unit_type: UnitType, location: Location) -> Assignee | None:
    key = domain.coverage_key(unit_type, location)
    if key is None:
        return None
    if unit_type is UnitType.GRID:
        return Assignee(key[1], unit_type)
    unit_id = await session.scalar(
        select(UnitCoverage.unit_id).where(
            UnitCoverage.unit_type == unit_type.value,
            UnitCoverage.scope_kind == key[0],
            UnitCoverage.scope_id == key[1],
        )
    )
    return Assignee(unit_id, unit_type) if unit_id else None


async def route(
    session: AsyncSession,
    rules: Rules,
    case: Case,
    *,
    types: tuple[UnitType, ...] | None = None,
    exclude: set[str] | frozenset[str] = frozenset(),
) -> list[Assignee]:
    """The assignees to convene; what nobody serves goes to the street task force, then the district bureau."""
    location = Location.model_validate(case.location)
    wanted = types or domain.unit_types_for(rules, Category(case.category), Tier(case.tier))
    found: list[Assignee] = []
    for unit_type in wanted:
        a = await find_assignee(session, unit_type, location)
        if a is not None and a.id not in exclude and a not in found:
            found.append(a)
    for fallback in (UnitType.STREET_TASK_FORCE, UnitType.HOUSING_BUREAU):
        if found:
            break
        a = await find_assignee(session, fallback, location)
        if a is not None and a.id not in exclude:
            found.append(a)
    return found


async def assign(
    session: AsyncSession, writer: OutboxWriter, rules: Rules, case: Case, assignees: list[Assignee], at: datetime
) -> list[Assignment]:
    """Create one assignment per assignee with its own clocks, arm the timers, announce each (派单)."""
    sla = domain.sla_for(
        rules,
        Category(case.category),
        Priority(case.priority),
        priority_resident=case.priority_resident,
        cold_snap=await cold_snap_active(session, case.district_id, at),
    )
    due = sla.deadlines(at)
    created = []
    for who in assignees:
        a = Assignment(
            id=new_id("A"),
            case_id=case.id,
            unit_id=who.id,
            unit_type=who.type.value,
            round=case.round,
            status="dispatched",
            dispatched_at=at,
            sign_in_due=due[Clock.SIGN_IN],
            on_site_due=due[Clock.ON_SITE],
            resolve_due=due[Clock.RESOLVE],
            photo_refs=[],
        )
        session.add(a)
        created.append(a)
        for clock in Clock:
            await arm(session, a.id, clock, EscalationLevel.REMINDER, due[clock], sla.length(clock))
        timeline(
            session, case.id, "dispatched", "dispatch", at, unit_id=who.id, unit_type=who.type.value, round=case.round
        )
        metrics.ASSIGNMENTS.labels(case.district_id, who.type.value).inc()
        await writer.emit(
            session,
            CaseAssigned(
                case_id=case.id,
                assignment_id=a.id,
                round=case.round,
                unit_id=who.id,
                unit_type=who.type,
                sign_in_due=due[Clock.SIGN_IN],
                on_site_due=due[Clock.ON_SITE],
                resolve_due=due[Clock.RESOLVE],
            ),
            key=case.id,
            at=at,
        )
    if created:
        case.status = "assigned"
    elif case.status not in ("assigned",):
        case.status = "unrouted"
    return created


async def arm(
    session: AsyncSession,
    assignment_id: str,
    clock: Clock,
    level: EscalationLevel,
    due_at: datetime,
    length: timedelta,
) -> None:
    await durable.schedule(
        session,
        timers,
        kind=timer_kind(clock, level),
        ref=assignment_id,
        due_at=due_at,
        payload={"deadline": due_at.isoformat(), "length_s": length.total_seconds()},
    )


async def round_assignments(session: AsyncSession, case: Case) -> list[Assignment]:
    q = select(Assignment).where(Assignment.case_id == case.id, Assignment.round == case.round)
    return list((await session.scalars(q.order_by(Assignment.dispatched_at))).all())
