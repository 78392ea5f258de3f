"""Dispatch use cases. Each takes the session of one transaction; the caller commits.

Who acts on an assignment (``Actor``): a unit on its own assignments; a grid worker on the minor cases of
its grid; the street task force on the complex cases of its street.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import domain, messages, metrics
from services.dispatch.domain import Clock, Rules
from services.dispatch.models import (
    Assignment,
    Case,
    CaseEvent,
    CaseReport,
    Extension,
    RuleSet,
    Unit,
    UnitCoverage,
    WeatherFlag,
    timers,
)
from shared import timers as durable
from shared.auth import Principal, Role
from shared.contracts.common import Category, Location, Priority, Tier, UnitType
from shared.contracts.dispatch import (
    AssignmentArrived,
    AssignmentResolved,
    AssignmentReturned,
    AssignmentSignedIn,
    CaseAssigned,
    CaseEscalated,
    CaseOpened,
    CaseResolved,
    CaseRetiered,
    CaseRoundStarted,
    EscalationLevel,
    ExtensionDecided,
    ExtensionRequested,
)
from shared.contracts.followup import CaseClosed, CaseReopened, ReopenReason
from shared.contracts.intake import ComplaintReported
from shared.errors import ApiError, Conflict, NotFound
from shared.outbox import OutboxWriter

OPEN_STATUSES = ("dispatched", "signed_in", "on_site")
# Which assignment statuses still run each clock.
CLOCK_OPEN = {
    Clock.SIGN_IN: ("dispatched",),
    Clock.ON_SITE: ("dispatched", "signed_in"),
    Clock.RESOLVE: OPEN_STATUSES,
}
LEVEL_ORDER = {None: 0, EscalationLevel.REMINDER: 1, EscalationLevel.NOTICE: 2, EscalationLevel.SUPERVISION: 3}


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def _timeline(session: AsyncSession, case_id: str, kind: str, actor: str, at: datetime, **detail: Any) -> None:
    session.add(CaseEvent(case_id=case_id, kind=kind, actor=actor, at=at, detail=detail))


def timer_kind(clock: Clock, level: EscalationLevel) -> str:
    return f"{clock.value}:{level.value}"


def _kinds(*clocks: Clock) -> list[str]:
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


async def _cold_snap(session: AsyncSession, district_id: str, at: datetime) -> bool:
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


async def _assignee(session: AsyncSession, unit_type: UnitType, location: Location) -> Assignee | None:
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


async def _route(
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
        a = await _assignee(session, unit_type, location)
        if a is not None and a.id not in exclude and a not in found:
            found.append(a)
    for fallback in (UnitType.STREET_TASK_FORCE, UnitType.HOUSING_BUREAU):
        if found:
            break
        a = await _assignee(session, fallback, location)
        if a is not None and a.id not in exclude:
            found.append(a)
    return found


async def _assign(
    session: AsyncSession, writer: OutboxWriter, rules: Rules, case: Case, assignees: list[Assignee], at: datetime
) -> list[Assignment]:
    """Create one assignment per assignee with its own clocks, arm the timers, announce each (派单)."""
    sla = domain.sla_for(
        rules,
        Category(case.category),
        Priority(case.priority),
        priority_resident=case.priority_resident,
        cold_snap=await _cold_snap(session, case.district_id, at),
    )
    due = sla.deadlines(at)
    created = []
    for who in assignees:
        a = Assignment(
            id=_new_id("A"),
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
            await _arm(session, a.id, clock, EscalationLevel.REMINDER, due[clock], sla.length(clock))
        _timeline(
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


async def _arm(
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


# -- the whistle ---------------------------------------------------------------------------------------


async def open_case(session: AsyncSession, writer: OutboxWriter, *, complaint: ComplaintReported, at: datetime) -> Case:
    """Open a case for a complaint and convene whoever the rules say serves its place (吹哨)."""
    existing = await session.scalar(select(CaseReport).where(CaseReport.report_id == complaint.report_id))
    if existing is not None:
        found = await session.get(Case, existing.case_id)
        assert found is not None
        return found
    _, rules = await current_rules(session)
    loc = complaint.location
    tier = domain.tier_for(rules, complaint.category)
    case = Case(
        id=_new_id("C"),
        status="opened",
        tier=tier.value,
        category=complaint.category.value,
        priority=complaint.priority.value,
        priority_resident=complaint.priority_resident,
        location=loc.model_dump(mode="json"),
        district_id=loc.district_id,
        street_id=loc.street_id,
        household_id=loc.household_id,
        round=1,
        redo_count=0,
        bounce_count=0,
        supervised=False,
        opened_at=at,
    )
    session.add(case)
    session.add(CaseReport(case_id=case.id, report_id=complaint.report_id))
    await session.flush()
    _timeline(
        session,
        case.id,
        "reported",
        complaint.reporter_kind,
        complaint.reported_at,
        report_id=complaint.report_id,
        channel=complaint.channel.value,
    )
    _timeline(session, case.id, "opened", "dispatch", at, tier=tier.value, priority=case.priority)
    metrics.CASES_OPENED.labels(loc.district_id, complaint.category.value, tier.value).inc()
    await writer.emit(
        session,
        CaseOpened(
            case_id=case.id,
            report_ids=[complaint.report_id],
            category=complaint.category,
            priority=complaint.priority,
            tier=tier,
            priority_resident=complaint.priority_resident,
            location=loc,
            opened_at=at,
        ),
        key=case.id,
        at=at,
    )
    await _assign(session, writer, rules, case, await _route(session, rules, case), at)
    return case


# -- who may act on what ----------------------------------------------------------------------------------


def _assignee_filter(principal: Principal) -> Any:
    if principal.role is Role.UNIT:
        return Assignment.unit_id == principal.sub
    if principal.role is Role.GRID_WORKER:
        return and_(Assignment.unit_type == UnitType.GRID.value, Assignment.unit_id == principal.scope)
    if principal.role is Role.TASK_FORCE:
        return and_(Assignment.unit_type == UnitType.STREET_TASK_FORCE.value, Case.street_id == principal.scope)
    return None


def _assignments_of(principal: Principal) -> Select[Assignment]:
    where = _assignee_filter(principal)
    if where is None:
        raise ApiError(403, "forbidden", messages.NOT_AN_ASSIGNEE, "Authorization")
    return select(Assignment).join(Case, Case.id == Assignment.case_id).where(where)


async def get_for_actor(session: AsyncSession, *, assignment_id: str, principal: Principal) -> Assignment:
    """An assignment the caller may act on. Anyone else's is reported as missing, not as forbidden."""
    a = await session.scalar(
        _assignments_of(principal).where(Assignment.id == assignment_id).with_for_update(of=Assignment)
    )
    if a is None:
        raise NotFound("assignment", messages.ASSIGNMENT_NOT_FOUND)
    return a


async def list_for_actor(
    session: AsyncSession, *, principal: Principal, include_done: bool = False
) -> list[tuple[Assignment, Case]]:
    where = _assignee_filter(principal)
    if where is None:
        raise ApiError(403, "forbidden", messages.NOT_AN_ASSIGNEE, "Authorization")
    q = select(Assignment, Case).join(Case, Case.id == Assignment.case_id).where(where)
    if not include_done:
        q = q.where(Assignment.status.in_(OPEN_STATUSES))
    rows = (await session.execute(q.order_by(Assignment.sign_in_due))).all()
    return [(a, c) for a, c in rows]


def _actor(principal: Principal) -> str:
    return principal.sub or principal.scope


async def sign_in(
    session: AsyncSession, writer: OutboxWriter, *, assignment_id: str, principal: Principal, at: datetime
) -> Assignment:
    """签收 / 报到."""
    a = await get_for_actor(session, assignment_id=assignment_id, principal=principal)
    if a.status != "dispatched":
        raise Conflict("already_signed_in", messages.ALREADY_SIGNED_IN)
    a.status, a.signed_in_at = "signed_in", at
    on_time = at <= a.sign_in_due
    await durable.cancel(session, timers, ref=a.id, kinds=_kinds(Clock.SIGN_IN))
    _timeline(session, a.case_id, "signed_in", _actor(principal), at, assignment_id=a.id, on_time=on_time)
    metrics.SIGNED_IN.labels(a.unit_type, str(on_time).lower()).inc()
    metrics.TIME_TO_SIGN_IN.labels(a.unit_type).observe((at - a.dispatched_at).total_seconds())
    await writer.emit(
        session,
        AssignmentSignedIn(case_id=a.case_id, assignment_id=a.id, unit_id=a.unit_id, signed_in_at=at, on_time=on_time),
        key=a.case_id,
        at=at,
    )
    return a


async def arrive(
    session: AsyncSession, writer: OutboxWriter, *, assignment_id: str, principal: Principal, at: datetime
) -> Assignment:
    """到场."""
    a = await get_for_actor(session, assignment_id=assignment_id, principal=principal)
    if a.status == "dispatched":
        raise Conflict("not_signed_in", messages.SIGN_IN_FIRST)
    if a.status != "signed_in":
        raise Conflict("already_on_site", messages.ALREADY_ON_SITE)
    a.status, a.arrived_at = "on_site", at
    on_time = at <= a.on_site_due
    await durable.cancel(session, timers, ref=a.id, kinds=_kinds(Clock.ON_SITE))
    _timeline(session, a.case_id, "arrived", _actor(principal), at, assignment_id=a.id, on_time=on_time)
    metrics.TIME_TO_ON_SITE.labels(a.unit_type).observe((at - a.dispatched_at).total_seconds())
    await writer.emit(
        session,
        AssignmentArrived(case_id=a.case_id, assignment_id=a.id, unit_id=a.unit_id, arrived_at=at, on_time=on_time),
        key=a.case_id,
        at=at,
    )
    return a


async def add_progress(
    session: AsyncSession, *, assignment_id: str, principal: Principal, note: str, at: datetime
) -> Assignment:
    """A progress note (办理中) on the case timeline."""
    a = await get_for_actor(session, assignment_id=assignment_id, principal=principal)
    if a.status not in OPEN_STATUSES:
        raise Conflict("assignment_closed", messages.ASSIGNMENT_CLOSED)
    _timeline(session, a.case_id, "progress", _actor(principal), at, assignment_id=a.id, note=note)
    return a


async def resolve(
    session: AsyncSession,
    writer: OutboxWriter,
    *,
    assignment_id: str,
    principal: Principal,
    at: datetime,
    action_taken: str,
    measured_temp_c: float | None,
    photo_refs: list[str],
) -> Assignment:
    """办结 (the assignee's part). When every part of the round is done the case awaits its return visit."""
    a = await get_for_actor(session, assignment_id=assignment_id, principal=principal)
    if a.status == "dispatched":
        raise Conflict("not_signed_in", messages.SIGN_IN_FIRST)
    if a.status not in OPEN_STATUSES:
        raise Conflict("already_resolved", messages.ALREADY_RESOLVED)
    a.status, a.resolved_at = "resolved", at
    a.action_taken, a.measured_temp_c, a.photo_refs = action_taken, measured_temp_c, photo_refs
    on_time = at <= a.resolve_due
    await durable.cancel(session, timers, ref=a.id, kinds=_kinds(*Clock))
    _timeline(session, a.case_id, "unit_resolved", _actor(principal), at, assignment_id=a.id, on_time=on_time)
    metrics.RESOLVED.labels(a.unit_type, str(on_time).lower()).inc()
    metrics.TIME_TO_RESOLVE.labels(a.unit_type).observe((at - a.dispatched_at).total_seconds())
    await writer.emit(
        session,
        AssignmentResolved(
            case_id=a.case_id,
            assignment_id=a.id,
            unit_id=a.unit_id,
            resolved_at=at,
            on_time=on_time,
            action_taken=action_taken,
            measured_temp_c=measured_temp_c,
        ),
        key=a.case_id,
        at=at,
    )
    await _resolve_case_if_done(session, writer, a.case_id, at)
    return a


async def _round(session: AsyncSession, case: Case) -> list[Assignment]:
    q = select(Assignment).where(Assignment.case_id == case.id, Assignment.round == case.round)
    return list((await session.scalars(q.order_by(Assignment.dispatched_at))).all())


async def _resolve_case_if_done(session: AsyncSession, writer: OutboxWriter, case_id: str, at: datetime) -> None:
    case = await session.get(Case, case_id, with_for_update=True)
    assert case is not None
    live = [x for x in await _round(session, case) if x.status not in ("returned", "withdrawn")]
    if not live or any(x.status != "resolved" for x in live):
        return
    case.status, case.resolved_at = "resolved", at
    report_ids = list((await session.scalars(select(CaseReport.report_id).where(CaseReport.case_id == case_id))).all())
    _timeline(session, case_id, "resolved", "dispatch", at, round=case.round)
    await writer.emit(
        session,
        CaseResolved(
            case_id=case.id,
            round=case.round,
            category=Category(case.category),
            priority=Priority(case.priority),
            location=Location.model_validate(case.location),
            report_ids=report_ids,
            unit_ids=[x.unit_id for x in live],
            resolved_at=at,
        ),
        key=case.id,
        at=at,
    )


# -- 退单 and supervision -----------------------------------------------------------------------------------


async def return_assignment(
    session: AsyncSession,
    writer: OutboxWriter,
    *,
    assignment_id: str,
    principal: Principal,
    reason: domain.ReturnReason,
    note: str | None,
    at: datetime,
) -> Assignment:
    """退单: the assignee hands the assignment back with a reason; the case is routed again without it."""
    a = await get_for_actor(session, assignment_id=assignment_id, principal=principal)
    if a.status not in OPEN_STATUSES:
        raise Conflict("assignment_closed", messages.ASSIGNMENT_CLOSED)
    case = await session.get(Case, a.case_id, with_for_update=True)
    assert case is not None
    _, rules = await current_rules(session)
    a.status, a.returned_at, a.return_reason, a.return_note = "returned", at, reason.value, note
    await durable.cancel(session, timers, ref=a.id, kinds=_kinds(*Clock))
    case.bounce_count += 1
    _timeline(
        session,
        case.id,
        "returned",
        _actor(principal),
        at,
        assignment_id=a.id,
        reason=reason.value,
        note=note,
        bounce_count=case.bounce_count,
    )
    metrics.RETURNS.labels(case.district_id, a.unit_type, reason.value).inc()
    await writer.emit(
        session,
        AssignmentReturned(
            case_id=case.id,
            assignment_id=a.id,
            unit_id=a.unit_id,
            unit_type=UnitType(a.unit_type),
            reason_code=reason.value,
            note=note,
            bounce_count=case.bounce_count,
            returned_at=at,
        ),
        key=case.id,
        at=at,
    )
    refused = set(
        (
            await session.scalars(
                select(Assignment.unit_id).where(Assignment.case_id == case.id, Assignment.status == "returned")
            )
        ).all()
    )
    if case.bounce_count >= rules.bounce_limit and not case.supervised:
        await _supervise(session, writer, rules, case, cause="bounces", at=at)
        return a
    others = [x for x in await _round(session, case) if x.status in OPEN_STATUSES]
    replacement = await _route(session, rules, case, types=(UnitType(a.unit_type),), exclude=refused)
    if not replacement and not others:
        replacement = await _route(session, rules, case, types=(UnitType.STREET_TASK_FORCE,), exclude=refused)
    await _assign(session, writer, rules, case, replacement, at)
    if not replacement and not others:
        case.status = "unrouted"
    return a


async def _supervise(
    session: AsyncSession,
    writer: OutboxWriter,
    rules: Rules,
    case: Case,
    *,
    cause: str,
    at: datetime,
    exclude: set[str] | frozenset[str] = frozenset(),
) -> None:
    """督办: the district takes the case in hand; its housing bureau is convened if not already."""
    case.supervised = True
    case.escalation_level = EscalationLevel.SUPERVISION.value
    _timeline(session, case.id, "escalated", "dispatch", at, level=EscalationLevel.SUPERVISION.value, clock=cause)
    metrics.ESCALATIONS.labels(case.district_id, "case", EscalationLevel.SUPERVISION.value).inc()
    await writer.emit(
        session,
        CaseEscalated(
            case_id=case.id,
            assignment_id=None,
            unit_id=None,
            unit_type=None,
            level=EscalationLevel.SUPERVISION,
            clock=cause,
            due_at=None,
            escalated_at=at,
            district_id=case.district_id,
            street_id=case.street_id,
        ),
        key=case.id,
        at=at,
    )
    # Under 督办 the district's bureau takes the case even if it returned it before: only an assignee
    # already working on the round is not convened twice.
    current = {x.unit_id for x in await _round(session, case) if x.status in OPEN_STATUSES}
    bureau = await _route(session, rules, case, types=(UnitType.HOUSING_BUREAU,), exclude=current)
    await _assign(session, writer, rules, case, [b for b in bureau if b.type is UnitType.HOUSING_BUREAU], at)


async def on_clock_breaches(session: AsyncSession, writer: OutboxWriter, rows: list[Any], now: datetime) -> None:
    """Timers fired: one step of the escalation chain (催办→通报→督办) for one clock of each assignment.

    Works on a whole batch with a handful of statements, so tens of thousands of deadlines falling due in
    a minute are drained in time.
    """
    refs = [r.ref for r in rows]
    found = {
        a.id: a
        for a in (await session.scalars(select(Assignment).where(Assignment.id.in_(refs)).with_for_update())).all()
    }
    cases = {
        c.id: c
        for c in (
            await session.scalars(
                select(Case).where(Case.id.in_({a.case_id for a in found.values()})).with_for_update()
            )
        ).all()
    }
    _, rules = await current_rules(session)
    events, next_steps = [], []
    for row in rows:
        clock_name, level_name = row.kind.split(":")
        clock, level = Clock(clock_name), EscalationLevel(level_name)
        a = found.get(row.ref)
        if a is None or a.status not in CLOCK_OPEN[clock]:
            continue  # the clock stopped before the timer could be disarmed: nothing breached
        case = cases[a.case_id]
        deadline = datetime.fromisoformat(row.payload["deadline"])
        if LEVEL_ORDER[level] > LEVEL_ORDER[EscalationLevel(a.escalation_level) if a.escalation_level else None]:
            a.escalation_level = level.value
        if LEVEL_ORDER[level] > LEVEL_ORDER[EscalationLevel(case.escalation_level) if case.escalation_level else None]:
            case.escalation_level = level.value
        if level is EscalationLevel.SUPERVISION:
            case.supervised = True
        _timeline(
            session,
            case.id,
            "escalated",
            "dispatch",
            now,
            assignment_id=a.id,
            unit_id=a.unit_id,
            level=level.value,
            clock=clock.value,
            due_at=deadline.isoformat(),
        )
        metrics.ESCALATIONS.labels(case.district_id, a.unit_type, level.value).inc()
        events.append(
            (
                CaseEscalated(
                    case_id=case.id,
                    assignment_id=a.id,
                    unit_id=a.unit_id,
                    unit_type=UnitType(a.unit_type),
                    level=level,
                    clock=clock.value,
                    due_at=deadline,
                    escalated_at=now,
                    district_id=case.district_id,
                    street_id=case.street_id,
                ),
                case.id,
                now,
            )
        )
        step = domain.next_escalation(rules, level, deadline, timedelta(seconds=row.payload["length_s"]))
        if step is not None:
            next_steps.append(
                {"kind": timer_kind(clock, step[0]), "ref": a.id, "due_at": step[1], "payload": row.payload}
            )
    await writer.emit_many(session, events)
    await durable.schedule_many(session, timers, next_steps)


# -- 延期 ------------------------------------------------------------------------------------------------


async def request_extension(
    session: AsyncSession,
    writer: OutboxWriter,
    *,
    assignment_id: str,
    principal: Principal,
    reason: str,
    resolve_due: datetime,
    at: datetime,
) -> Extension:
    a = await get_for_actor(session, assignment_id=assignment_id, principal=principal)
    if a.status not in OPEN_STATUSES:
        raise Conflict("assignment_closed", messages.ASSIGNMENT_CLOSED)
    if resolve_due <= a.resolve_due:
        raise ApiError(422, "extension_not_later", messages.EXTENSION_NOT_LATER, "resolve_due")
    pending = await session.scalar(
        select(Extension).where(Extension.assignment_id == a.id, Extension.status == "pending")
    )
    if pending is not None:
        raise Conflict("extension_pending", messages.EXTENSION_PENDING)
    case = await session.get(Case, a.case_id)
    assert case is not None
    ext = Extension(
        id=_new_id("E"),
        assignment_id=a.id,
        case_id=a.case_id,
        unit_id=a.unit_id,
        street_id=case.street_id,
        reason=reason,
        requested_resolve_due=resolve_due,
        status="pending",
        requested_at=at,
    )
    session.add(ext)
    _timeline(
        session,
        a.case_id,
        "extension_requested",
        _actor(principal),
        at,
        assignment_id=a.id,
        extension_id=ext.id,
        reason=reason,
        resolve_due=resolve_due.isoformat(),
    )
    await writer.emit(
        session,
        ExtensionRequested(
            case_id=a.case_id,
            assignment_id=a.id,
            unit_id=a.unit_id,
            extension_id=ext.id,
            reason=reason,
            requested_resolve_due=resolve_due,
            requested_at=at,
        ),
        key=a.case_id,
        at=at,
    )
    return ext


def _may_supervise(principal: Principal, street_id: str, district_id: str) -> bool:
    return (
        principal.role is Role.ADMIN
        or (principal.role is Role.TASK_FORCE and principal.scope == street_id)
        or (principal.role is Role.DISTRICT and principal.scope == district_id)
    )


async def list_extensions(session: AsyncSession, *, principal: Principal, status: str | None) -> list[Extension]:
    q = select(Extension).join(Case, Case.id == Extension.case_id)
    if principal.role is Role.TASK_FORCE:
        q = q.where(Case.street_id == principal.scope)
    elif principal.role is Role.DISTRICT:
        q = q.where(Case.district_id == principal.scope)
    elif principal.role is not Role.ADMIN:
        raise ApiError(403, "forbidden", messages.TASK_FORCE_ONLY, "Authorization")
    if status:
        q = q.where(Extension.status == status)
    return list((await session.scalars(q.order_by(Extension.requested_at))).all())


async def decide_extension(
    session: AsyncSession,
    writer: OutboxWriter,
    *,
    extension_id: str,
    principal: Principal,
    approved: bool,
    note: str | None,
    at: datetime,
) -> Extension:
    """The street task force approves (deadline and timers move) or refuses (nothing moves)."""
    ext = await session.get(Extension, extension_id, with_for_update=True)
    if ext is None:
        raise NotFound("extension", messages.EXTENSION_NOT_FOUND)
    case = await session.get(Case, ext.case_id)
    assert case is not None
    if not _may_supervise(principal, case.street_id, case.district_id):
        raise NotFound("extension", messages.EXTENSION_NOT_FOUND)
    if ext.status != "pending":
        raise Conflict("extension_decided", messages.EXTENSION_DECIDED)
    a = await session.get(Assignment, ext.assignment_id, with_for_update=True)
    assert a is not None
    ext.status, ext.decided_by, ext.decided_at, ext.decision_note = (
        "approved" if approved else "refused",
        _actor(principal),
        at,
        note,
    )
    if approved and a.status in OPEN_STATUSES:
        length = ext.requested_resolve_due - a.dispatched_at
        a.resolve_due = ext.requested_resolve_due
        await durable.cancel(session, timers, ref=a.id, kinds=_kinds(Clock.RESOLVE))
        await _arm(session, a.id, Clock.RESOLVE, EscalationLevel.REMINDER, a.resolve_due, length)
    _timeline(
        session,
        ext.case_id,
        "extension_decided",
        _actor(principal),
        at,
        extension_id=ext.id,
        approved=approved,
        resolve_due=a.resolve_due.isoformat(),
    )
    metrics.EXTENSIONS.labels(case.district_id, a.unit_type, ext.status).inc()
    await writer.emit(
        session,
        ExtensionDecided(
            case_id=ext.case_id,
            assignment_id=a.id,
            unit_id=a.unit_id,
            extension_id=ext.id,
            approved=approved,
            decided_by=_actor(principal),
            resolve_due=a.resolve_due,
            decided_at=at,
        ),
        key=ext.case_id,
        at=at,
    )
    return ext


# -- re-tiering -------------------------------------------------------------------------------------------


async def retier(
    session: AsyncSession, writer: OutboxWriter, *, case_id: str, principal: Principal, tier: Tier, at: datetime
) -> Case:
    """The street task force moves a case to another tier; open assignments of the round are withdrawn and
    the case is routed afresh for the new tier."""
    case = await session.get(Case, case_id, with_for_update=True)
    if case is None or not _may_supervise(principal, case.street_id, case.district_id):
        raise NotFound("case", messages.CASE_NOT_FOUND)
    if case.status in ("resolved", "closed"):
        raise Conflict("case_not_open", messages.CASE_NOT_OPEN)
    previous = Tier(case.tier)
    if previous is tier:
        return case
    _, rules = await current_rules(session)
    for a in await _round(session, case):
        if a.status in OPEN_STATUSES:
            a.status = "withdrawn"
            await durable.cancel(session, timers, ref=a.id, kinds=_kinds(*Clock))
    case.tier = tier.value
    _timeline(session, case.id, "retiered", _actor(principal), at, tier=tier.value, previous=previous.value)
    await writer.emit(
        session,
        CaseRetiered(case_id=case.id, tier=tier, previous_tier=previous, by=_actor(principal), at=at),
        key=case.id,
        at=at,
    )
    await _assign(session, writer, rules, case, await _route(session, rules, case), at)
    return case


# -- feedback from the return visit and the spot-check -------------------------------------------------------


async def start_round(
    session: AsyncSession, writer: OutboxWriter, *, reopened: CaseReopened, at: datetime
) -> Case | None:
    """发回重办: the same assignees get a new round with raised priority and a redo counter. A spot-check
    failure reopens a closed case the same way."""
    case = await session.get(Case, reopened.case_id, with_for_update=True)
    if case is None:
        raise NotFound("case", messages.CASE_NOT_FOUND)
    expected = "closed" if reopened.reason is ReopenReason.SPOT_CHECK_FAILED else "resolved"
    if case.round != reopened.round or case.status != expected:
        return None  # a verdict for a round that is no longer current: nothing to do
    _, rules = await current_rules(session)
    previous = [a for a in await _round(session, case) if a.status == "resolved"]
    assignees = list(dict.fromkeys(Assignee(a.unit_id, UnitType(a.unit_type)) for a in previous))
    case.round += 1
    case.redo_count += 1
    case.priority = domain.raise_priority(Priority(case.priority)).value
    case.resolved_at = case.closed_at = None
    _timeline(
        session,
        case.id,
        "reopened",
        "followup",
        reopened.reopened_at,
        reason=reopened.reason.value,
        min_temp_c=reopened.min_temp_c,
        round=case.round,
    )
    metrics.REOPENED.labels(case.district_id, reopened.reason.value).inc()
    await writer.emit(
        session,
        CaseRoundStarted(
            case_id=case.id,
            round=case.round,
            redo_count=case.redo_count,
            priority=Priority(case.priority),
            reason=reopened.reason.value,
        ),
        key=case.id,
        at=at,
    )
    await _assign(session, writer, rules, case, assignees or await _route(session, rules, case), at)
    if case.redo_count >= rules.redo_limit and not case.supervised:
        await _supervise(session, writer, rules, case, cause="redo", at=at)
    return case


async def close(session: AsyncSession, *, closed: CaseClosed) -> Case | None:
    case = await session.get(Case, closed.case_id, with_for_update=True)
    if case is None:
        raise NotFound("case", messages.CASE_NOT_FOUND)
    if case.round != closed.round or case.status != "resolved":
        return None
    case.status, case.closed_at = "closed", closed.closed_at
    _timeline(session, case.id, "closed", "followup", closed.closed_at, min_temp_c=closed.min_temp_c)
    metrics.CLOSED.labels(case.district_id, case.category).inc()
    return case


# -- reading cases ---------------------------------------------------------------------------------------


def may_see_case(principal: Principal, case: Case, assignments: list[Assignment]) -> bool:
    if _may_supervise(principal, case.street_id, case.district_id):
        return True
    where = _assignee_filter(principal)
    if where is None:
        return False
    return any(
        (principal.role is Role.UNIT and a.unit_id == principal.sub)
        or (principal.role is Role.GRID_WORKER and a.unit_type == UnitType.GRID.value and a.unit_id == principal.scope)
        for a in assignments
    )


async def get_case(
    session: AsyncSession, *, case_id: str, principal: Principal
) -> tuple[Case, list[Assignment], list[CaseEvent], list[Extension]]:
    case = await session.get(Case, case_id)
    if case is None:
        raise NotFound("case", messages.CASE_NOT_FOUND)
    assignments = list(
        (
            await session.scalars(
                select(Assignment)
                .where(Assignment.case_id == case_id)
                .order_by(Assignment.round, Assignment.dispatched_at)
            )
        ).all()
    )
    if not may_see_case(principal, case, assignments):
        raise NotFound("case", messages.CASE_NOT_FOUND)
    if principal.role in (Role.UNIT, Role.GRID_WORKER):
        mine = principal.sub if principal.role is Role.UNIT else principal.scope
        assignments = [a for a in assignments if a.unit_id == mine]
    events = list(
        (
            await session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.at, CaseEvent.id)
            )
        ).all()
    )
    extensions = list(
        (
            await session.scalars(
                select(Extension).where(Extension.case_id == case_id).order_by(Extension.requested_at)
            )
        ).all()
    )
    return case, assignments, events, extensions


async def list_cases(
    session: AsyncSession, *, principal: Principal, status: str | None, tier: str | None, limit: int, now: datetime
) -> list[tuple[Case, bool]]:
    """Cases in the caller's street (task force) or district; overdue and escalated first. Returns
    (case, overdue) pairs."""
    q = select(Case)
    if principal.role is Role.TASK_FORCE:
        q = q.where(Case.street_id == principal.scope)
    elif principal.role is Role.DISTRICT:
        q = q.where(Case.district_id == principal.scope)
    elif principal.role is not Role.ADMIN:
        raise ApiError(403, "forbidden", messages.TASK_FORCE_ONLY, "Authorization")
    if status == "open":
        q = q.where(Case.status.in_(("opened", "assigned", "unrouted")))
    elif status:
        q = q.where(Case.status == status)
    if tier:
        q = q.where(Case.tier == tier)
    overdue = (
        select(Assignment.case_id)
        .where(
            Assignment.status.in_(OPEN_STATUSES),
            or_(
                and_(Assignment.status == "dispatched", Assignment.sign_in_due < now),
                and_(Assignment.status == "signed_in", Assignment.on_site_due < now),
                Assignment.resolve_due < now,
            ),
        )
        .distinct()
    )
    overdue_ids = set((await session.scalars(overdue)).all())
    cases = list((await session.scalars(q.order_by(Case.opened_at.desc()).limit(limit))).all())
    rank = {None: 0, "reminder": 1, "notice": 2, "supervision": 3}
    cases.sort(key=lambda c: (c.id not in overdue_ids, -rank.get(c.escalation_level, 0), c.opened_at))
    return [(c, c.id in overdue_ids) for c in cases]
