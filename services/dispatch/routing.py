"""Routing and clocks: the rules in force, who serves a place, creating assignments and arming their timers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import domain, messages, metrics
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
from shared.errors import ApiError
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

# (database, version) → parsed rules: versions are numbered per database, and a process may serve two (tests run
# several dispatch apps in one process).
_RULES_CACHE: dict[tuple[str, int], Rules] = {}


async def current_rules(session: AsyncSession) -> tuple[int, Rules]:
    """The rule set in force (highest version). Parsed once per version per database per process."""
    version = await session.scalar(select(func.max(RuleSet.version)))
    if version is None:
        raise RuntimeError("no dispatch rules loaded")
    bind = session.get_bind()
    url = bind.engine.url if isinstance(bind, Connection) else bind.url
    key = (url.render_as_string(hide_password=True), version)
    if key not in _RULES_CACHE:
        doc = await session.scalar(select(RuleSet.document).where(RuleSet.version == version))
        _RULES_CACHE[key] = Rules.model_validate(doc)
    return version, _RULES_CACHE[key]


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
    """Upsert units and replace their coverage, in a few statements however many units come (a district's
    thousands of property managers). Idempotent: loading the same file twice changes nothing. A place served by two
    units of one type is refused (422): routing must find exactly one."""
    latest = {item["id"]: item for item in units}  # a unit listed twice: its last entry counts
    covered: dict[tuple[str, str, str], str] = {}  # (unit type, scope kind, scope id) → unit id
    for item in latest.values():
        for scope_kind, scope_ids in item.get("covers", {}).items():
            for scope_id in scope_ids:
                key = (UnitType(item["type"]).value, scope_kind, scope_id)
                if covered.setdefault(key, item["id"]) != item["id"]:
                    raise _coverage_conflict(key, covered[key], item["id"])
    others = select(UnitCoverage).where(UnitCoverage.unit_id.not_in(list(latest)))
    for cov in (await session.scalars(others)).all():
        key = (cov.unit_type, cov.scope_kind, cov.scope_id)
        if key in covered:
            raise _coverage_conflict(key, cov.unit_id, covered[key])
    rows = [
        {"id": i, "type": UnitType(u["type"]).value, "name": u["name"], "district_id": u["district_id"]}
        for i, u in latest.items()
    ]
    for chunk in _chunks(rows):
        upsert = insert(Unit).values(chunk)
        await session.execute(
            upsert.on_conflict_do_update(
                index_elements=[Unit.id],
                set_={column: upsert.excluded[column] for column in ("type", "name", "district_id")},
            )
        )
    for ids in _chunks(list(latest)):
        await session.execute(delete(UnitCoverage).where(UnitCoverage.unit_id.in_(ids)))
    coverage = [{"unit_type": t, "scope_kind": k, "scope_id": s, "unit_id": u} for (t, k, s), u in covered.items()]
    for chunk in _chunks(coverage):
        await session.execute(insert(UnitCoverage).values(chunk))
    return len(units)


async def list_units(session: AsyncSession) -> list[Unit]:
    """The registry's units (id, type, name, district), by id: what a page needs to show a unit by its name."""
    return list((await session.scalars(select(Unit).order_by(Unit.id))).all())


def _chunks(items: list[Any], size: int = 5000) -> list[list[Any]]:
    # A statement takes at most 32,767 parameters: 5,000 rows of four columns stay below it.
    return [items[i : i + size] for i in range(0, len(items), size)]


def _coverage_conflict(key: tuple[str, str, str], one: str, other: str) -> ApiError:
    unit_type, scope_kind, scope_id = key
    return ApiError(
        422,
        "coverage_conflict",
        messages.COVERAGE_CONFLICT.format(kind=scope_kind, id=scope_id, type=unit_type, one=one, other=other),
        "units",
    )


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
