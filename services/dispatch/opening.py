"""Routing a case: open it for a complaint and convene whoever the rules say serves its place (吹哨), or, when
the street task force re-tiers it, withdraw the round's open assignments and route it afresh. Each use case
takes the session of one transaction; the caller commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import domain, incidents, metrics, texts
from services.dispatch.access import actor_name
from services.dispatch.clocks import kinds
from services.dispatch.domain import Clock
from services.dispatch.effects import Changed, apply
from services.dispatch.models import Case, CaseReport, timers
from services.dispatch.routing import assign, round_assignments, route
from services.dispatch.rules import current_rules
from services.dispatch.states import ASSIGNMENT, CASE, CaseStatus
from services.dispatch.timeline import Happened
from shared import timers as durable
from shared.auth import Principal
from shared.contracts.common import Priority, Tier
from shared.contracts.dispatch import CaseOpened, CaseRetiered
from shared.contracts.intake import ComplaintReported
from shared.errors import NotFound
from shared.ids import new_id
from shared.outbox import OutboxWriter
from shared.scope import oversees


async def open_case(session: AsyncSession, writer: OutboxWriter, *, complaint: ComplaintReported, at: datetime) -> Case:
    """Open a case for a complaint and convene whoever the rules say serves its place (吹哨). Reports of its incident
    that arrived first (``incidents``) join it before it is routed, so its first clocks run on the priority its size
    calls for."""
    await incidents.hold_lead(session, complaint.report_id)
    existing = await session.scalar(select(CaseReport).where(CaseReport.report_id == complaint.report_id))
    if existing is not None:
        found = await session.get(Case, existing.case_id)
        assert found is not None
        return found
    _, rules = await current_rules(session)
    loc = complaint.location
    tier = domain.tier_for(rules, complaint.category)
    early = await incidents.take_early(session, complaint.report_id)
    case = Case(
        id=new_id("C"),
        status=CaseStatus.OPENED,
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
        affected_households=incidents.opening_households(loc.household_id, early),
        bounce_count=0,
        supervised=False,
        opened_at=at,
    )
    # Routed before it joins the session, so the case's row is written once, with the status its routing gives it
    # (``assign``), and with its lead and early reports in the same flush, counted above: nothing read back, no UPDATE.
    assignees = await route(session, rules, case)
    session.add(case)
    session.add(CaseReport(case_id=case.id, report_id=complaint.report_id, household_id=loc.household_id))
    for r in early:
        session.add(CaseReport(case_id=case.id, report_id=r.report_id, household_id=r.household_id))
    joined = incidents.joined(rules, case, early, at=at)
    reported = Changed(
        case_id=case.id,
        happened=Happened.REPORTED,
        actor=complaint.reporter_kind,
        at=complaint.reported_at,
        detail={"report_id": complaint.report_id, "channel": complaint.channel.value},
    )
    opened = Changed(
        case_id=case.id,
        happened=Happened.OPENED,
        actor="dispatch",
        at=at,
        detail={"tier": tier.value, "priority": case.priority},
        event=CaseOpened(
            case_id=case.id,
            report_ids=[complaint.report_id, *(r.report_id for r in early)],
            category=complaint.category,
            priority=Priority(case.priority),
            tier=tier,
            priority_resident=complaint.priority_resident,
            location=loc,
            opened_at=at,
        ),
        metrics=(metrics.CASES_OPENED.labels(loc.district_id, complaint.category.value, tier.value).inc,),
    )
    first = (reported, *joined, opened)
    await assign(session, writer, rules, case, assignees, at, first=first)
    return case


async def retier(
    session: AsyncSession, writer: OutboxWriter, *, case_id: str, principal: Principal, tier: Tier, at: datetime
) -> Case:
    """The street task force moves a case to another tier; open assignments of the round are withdrawn and
    the case is routed afresh for the new tier."""
    case = await session.get(Case, case_id, with_for_update=True)
    if case is None or not oversees(principal, district_id=case.district_id, street_id=case.street_id):
        raise NotFound("case", texts.CASE_NOT_FOUND)
    CASE.check("retier", case.status)
    previous = Tier(case.tier)
    if previous is tier:
        return case
    _, rules = await current_rules(session)
    for a in await round_assignments(session, case):
        if ASSIGNMENT.allows("withdraw", a.status):
            a.status = ASSIGNMENT.move("withdraw", a.status)
            await durable.cancel(session, timers, ref=a.id, kinds=kinds(*Clock))
    case.tier = tier.value
    await apply(
        session,
        writer,
        Changed(
            case_id=case.id,
            happened=Happened.RETIERED,
            actor=actor_name(principal),
            at=at,
            detail={"tier": tier.value, "previous": previous.value},
            event=CaseRetiered(case_id=case.id, tier=tier, previous_tier=previous, by=actor_name(principal), at=at),
        ),
    )
    await assign(session, writer, rules, case, await route(session, rules, case), at)
    return case
