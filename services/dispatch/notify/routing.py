"""Who hears of what: an event of the cases or verdicts topic becomes a ``Notice`` (a kind, its owners, the words
that fill its template, whether it is urgent, and when to send it).

- a new assignment → the unit (a minor case's grid: the grid); an emergency or a priority resident is marked;
- 催办 → the unit; 通报 → the unit, the community and the street's task force; 督办 → the same and the district;
- a 12345 催单 or 补充诉求 → the units holding the case's open clock;
- a return visit → the grid and the community, a few hours before it is due (its own lane: it waits for its hour
  without holding anything back), and again when it is overdue;
- a spot-check drawn → the street's task force.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.models import Case, Unit, UnitCoverage
from services.dispatch.notify.kinds import NotifyKind, OwnerKind
from services.dispatch.workdays import CHINA
from shared.contracts.common import Priority, UnitType
from shared.contracts.dispatch import CaseAssigned, CaseEscalated, CaseHurried, CaseSupplemented, EscalationLevel
from shared.contracts.followup import SpotCheckScheduled, VisitOverdue, VisitScheduled
from shared.contracts.names import CATEGORY_ZH

Owner = tuple[str, str]  # (OwnerKind, id)

CLOCK_ZH = {"sign_in": "签收", "on_site": "到场", "resolve": "办结", "bounces": "多次退单"}
LEVEL_KIND = {
    EscalationLevel.REMINDER: NotifyKind.REMINDER,
    EscalationLevel.NOTICE: NotifyKind.NOTICE,
    EscalationLevel.SUPERVISION: NotifyKind.SUPERVISION,
}


@dataclass(frozen=True)
class Notice:
    kind: NotifyKind
    owners: tuple[Owner, ...]
    values: dict[str, str]
    case_id: str | None
    urgent: bool = False
    data: dict[str, Any] = field(default_factory=dict)  # what a unit's own system receives by webhook
    lane: str = ""
    send_at: datetime | None = None  # None: as soon as it can go


def local(at: datetime | None) -> str:
    return at.astimezone(CHINA).strftime("%m-%d %H:%M") if at else "—"


def _unit(unit_id: str) -> Owner:
    return (OwnerKind.UNIT, unit_id)


def _area(area_id: str) -> Owner:
    return (OwnerKind.AREA, area_id)


async def _case(session: AsyncSession, case_id: str) -> Case | None:
    return await session.get(Case, case_id)


def _case_values(case: Case | None, case_id: str) -> tuple[dict[str, str], bool]:
    """The words of a case every template may use, and whether it is urgent (an emergency, a priority resident)."""
    if case is None:
        return {"case_id": case_id, "category": "—", "place": "—", "round": "1", "mark": "", "sms_mark": ""}, False
    urgent = case.priority == Priority.EMERGENCY or bool(case.priority_resident)
    # The channels tag an urgent title themselves (紧急, each in its own way); an SMS says it in words.
    marks = "【重点户】" if case.priority_resident else ""
    emergency = "【紧急】" if case.priority == Priority.EMERGENCY else ""
    location = case.location or {}
    return {
        "case_id": case.id,
        "category": CATEGORY_ZH.get(case.category, case.category),
        "place": str(location.get("place_name") or location.get("building_id") or "—"),
        "round": str(case.round),
        "mark": marks,
        "sms_mark": emergency,
    }, urgent


async def _task_forces(session: AsyncSession, street_id: str) -> list[Owner]:
    """The street's task force units (who covers the street as a task force), and the street itself."""
    units = await session.scalars(
        select(UnitCoverage.unit_id).where(
            UnitCoverage.unit_type == UnitType.STREET_TASK_FORCE,
            UnitCoverage.scope_kind == "street",
            UnitCoverage.scope_id == street_id,
        )
    )
    return [*(_unit(u) for u in units), _area(street_id)]


async def _unit_name(session: AsyncSession, unit_id: str | None) -> str:
    if not unit_id:
        return "责任单位"
    unit = await session.get(Unit, unit_id)
    return unit.name if unit is not None else unit_id


def _assignee(unit_type: str | None, unit_id: str | None) -> list[Owner]:
    if not unit_id:
        return []
    return [_area(unit_id) if unit_type == UnitType.GRID else _unit(unit_id)]


async def assigned(session: AsyncSession, e: CaseAssigned) -> Notice:
    case = await _case(session, e.case_id)
    values, urgent = _case_values(case, e.case_id)
    values |= {
        "round": str(e.round),
        "sign_in_due": local(e.sign_in_due),
        "on_site_due": local(e.on_site_due),
        "resolve_due": local(e.resolve_due),
    }
    return Notice(
        NotifyKind.ASSIGNED,
        tuple(_assignee(e.unit_type, e.unit_id)),
        values,
        e.case_id,
        urgent,
        data={"assignment_id": e.assignment_id, "unit_id": e.unit_id, "event": e.model_dump(mode="json")},
    )


async def escalated(session: AsyncSession, e: CaseEscalated) -> Notice:
    case = await _case(session, e.case_id)
    values, urgent = _case_values(case, e.case_id)
    values |= {
        "clock": CLOCK_ZH.get(e.clock, e.clock),
        "due": local(e.due_at),
        "unit": await _unit_name(session, e.unit_id),
    }
    owners = _assignee(e.unit_type, e.unit_id)
    if e.level in (EscalationLevel.NOTICE, EscalationLevel.SUPERVISION):
        community = (case.location or {}).get("community_id") if case is not None else None
        if community:
            owners.append(_area(str(community)))
        owners += await _task_forces(session, e.street_id)
    if e.level is EscalationLevel.SUPERVISION:
        owners.append(_area(e.district_id))
    data = {"assignment_id": e.assignment_id, "unit_id": e.unit_id, "event": e.model_dump(mode="json")}
    return Notice(LEVEL_KIND[e.level], tuple(dict.fromkeys(owners)), values, e.case_id, urgent, data=data)


async def hurried(session: AsyncSession, e: CaseHurried) -> Notice:
    values, urgent = _case_values(await _case(session, e.case_id), e.case_id)
    values |= {
        "hurries": str(e.hurries),
        "supervised": "已提级区级督办" if e.supervised else "请尽快办理并更新进度",
    }
    owners = tuple(_unit(u) for u in e.unit_ids)
    return Notice(
        NotifyKind.HOTLINE_HURRY, owners, values, e.case_id, urgent, data={"event": e.model_dump(mode="json")}
    )


async def supplemented(session: AsyncSession, e: CaseSupplemented) -> Notice:
    values, urgent = _case_values(await _case(session, e.case_id), e.case_id)
    values |= {"content": e.content}
    owners = tuple(_unit(u) for u in e.unit_ids)
    data = {"event": e.model_dump(mode="json")}
    return Notice(NotifyKind.HOTLINE_SUPPLEMENT, owners, values, e.case_id, urgent, data=data)


async def visit_scheduled(session: AsyncSession, e: VisitScheduled, *, hours_before: float) -> Notice:
    case = await _case(session, e.case_id)
    community = (case.location or {}).get("community_id") if case is not None else None
    owners = [_area(e.grid_id), *([_area(str(community))] if community else [])]
    values = {"case_id": e.case_id, "grid": e.grid_id, "due": local(e.due_at)}
    return Notice(
        NotifyKind.VISIT_DUE,
        tuple(owners),
        values,
        e.case_id,
        data={"event": e.model_dump(mode="json")},
        lane=e.visit_id,
        send_at=e.due_at - timedelta(hours=hours_before),
    )


def visit_overdue(e: VisitOverdue) -> Notice:
    values = {"case_id": e.case_id, "grid": e.grid_id, "due": local(e.due_at), "attempts": str(e.attempts)}
    owners = (_area(e.grid_id), _area(e.community_id))
    return Notice(NotifyKind.VISIT_OVERDUE, owners, values, e.case_id, data={"event": e.model_dump(mode="json")})


async def spot_check(session: AsyncSession, e: SpotCheckScheduled) -> Notice:
    values = {"case_id": e.case_id, "street": e.street_id, "week": e.week, "round": str(e.round)}
    owners = tuple(await _task_forces(session, e.street_id))
    return Notice(NotifyKind.SPOT_CHECK, owners, values, e.case_id, data={"event": e.model_dump(mode="json")})
