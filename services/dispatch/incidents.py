"""An incident's size: the reports intake grouped into one problem (a burst pipe reported by four households is one
case) join the case their lead report opened, and the case counts the distinct households they name.

Intake announces the lead report as ``ComplaintReported`` (``opening.open_case``) and every later one as
``ComplaintGrouped``. Their Kafka key is each report's household, so a grouped report can arrive before its lead has
opened the case. It is not made to wait (``shared.consumer.NotYet`` would hold up its partition and, with enough of
them, the very partition bringing the lead): it is kept as an ``EarlyReport`` and joins the case as the case opens.
A lock on the lead report's id (a transaction-scoped advisory lock) orders the two, so an early report is either
seen by the opening or finds the case itself. Should the lead's event be dead-lettered, its early reports stay kept
until the dead letter is replayed: the case then opens with them.

Counting: a household reported twice counts once; a report that names no household (a building's or a
substation's: a room-temperature sensor of the building, a building-wide outage) is kept among the case's reports
but adds no household, since it does not say how many flats it stands for.

The rules' ``household_priority`` raises the case's priority as the count grows (default ≥ 5 households urgent,
≥ 20 emergency) and never lowers it. A raised priority does what a priority change does elsewhere in dispatch (a
redo round's uplift): it is the case's priority from then on, so every assignment made after it (a re-route after
退单, a re-tier, the next round) gets the tighter clocks; the deadlines of assignments already open stay as they
were given — a deadline handed to a unit moves only by an approved 延期. Reports that arrived early are counted
before the case is routed, so its first assignments already run on the raised priority. Each joined report and
each raise is a timeline row the units and the task force see at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, distinct, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import domain
from services.dispatch.domain import Rules
from services.dispatch.effects import Changed, apply
from services.dispatch.models import Case, CaseReport, EarlyReport
from services.dispatch.rules import current_rules
from services.dispatch.timeline import Happened
from shared.contracts.common import Priority
from shared.contracts.intake import ComplaintGrouped
from shared.outbox import OutboxWriter


async def hold_lead(session: AsyncSession, lead_report_id: str) -> None:
    """Serialise the opening of a lead report's case with the reports grouped under it, until the commit."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"incident:{lead_report_id}"))))


async def households_of(session: AsyncSession, case_id: str) -> int:
    """Distinct households named by the case's reports."""
    counted = await session.scalar(
        select(func.count(distinct(CaseReport.household_id))).where(CaseReport.case_id == case_id)
    )
    return int(counted or 0)


async def report_ids(session: AsyncSession, case_ids: list[str]) -> dict[str, list[str]]:
    """Each case's report ids (the lead's first, then in the order they joined)."""
    rows = await session.execute(
        select(CaseReport.case_id, CaseReport.report_id)
        .where(CaseReport.case_id.in_(case_ids))
        .order_by(CaseReport.case_id, CaseReport.seq)
    )
    out: dict[str, list[str]] = {case_id: [] for case_id in case_ids}
    for case_id, report_id in rows:
        out[case_id].append(report_id)
    return out


async def join(session: AsyncSession, writer: OutboxWriter, *, grouped: ComplaintGrouped, at: datetime) -> Case | None:
    """Add a grouped report to its incident's case, recount its households and raise its priority by the rules; or,
    while no case holds the lead report yet, keep it for the opening. Returns the case it joined, or None (kept, or
    already one of the case's reports: a resent event changes nothing)."""
    await hold_lead(session, grouped.lead_report_id)
    if await session.scalar(select(CaseReport.case_id).where(CaseReport.report_id == grouped.report_id)):
        return None
    case_id = await session.scalar(select(CaseReport.case_id).where(CaseReport.report_id == grouped.lead_report_id))
    if case_id is None:
        await session.execute(
            insert(EarlyReport)
            .values(
                report_id=grouped.report_id,
                lead_report_id=grouped.lead_report_id,
                household_id=grouped.location.household_id,
                channel=grouped.channel.value,
                reporter_kind=grouped.reporter_kind,
                reported_at=grouped.reported_at,
            )
            .on_conflict_do_nothing(index_elements=[EarlyReport.report_id])
        )
        return None
    case = await session.get(Case, case_id, with_for_update=True)  # one recount at a time per case
    assert case is not None, "a case report's case is deleted with it"
    joined = Joined(
        grouped.report_id,
        grouped.location.household_id,
        grouped.channel.value,
        grouped.reporter_kind,
        grouped.reported_at,
    )
    _, rules = await current_rules(session)
    await apply(session, writer, *await absorb(session, rules, case, [joined], at=at))
    return case


@dataclass(frozen=True, slots=True)
class Joined:
    """A report joining a case: the grouped event's, or an early report's kept row."""

    report_id: str
    household_id: str | None
    channel: str
    reporter_kind: str
    reported_at: datetime


async def absorb(
    session: AsyncSession, rules: Rules, case: Case, reports: list[Joined], *, at: datetime
) -> list[Changed]:
    """Add reports to the case, recount its households, raise its priority by the rules. Returns the timeline's
    changes for ``effects.apply``."""
    for r in reports:
        session.add(CaseReport(case_id=case.id, report_id=r.report_id, household_id=r.household_id))
    await session.flush()
    case.affected_households = await households_of(session, case.id)
    return joined(rules, case, reports, at=at)


def opening_households(lead_household_id: str | None, early: list[Joined]) -> int:
    """The households of a case as it opens: its lead's and its early reports', each once (what ``households_of``
    counts once their rows are in, known here without asking)."""
    return len({h for h in (lead_household_id, *(r.household_id for r in early)) if h})


def joined(rules: Rules, case: Case, reports: list[Joined], *, at: datetime) -> list[Changed]:
    """The timeline's changes of reports that joined a case already counted (``case.affected_households``), and the
    raise of its priority by the rules."""
    changes = [
        Changed(
            case_id=case.id,
            happened=Happened.GROUPED,
            actor=r.reporter_kind,
            at=r.reported_at,
            detail={"report_id": r.report_id, "channel": r.channel, "affected_households": case.affected_households},
        )
        for r in reports
    ]
    previous = Priority(case.priority)
    raised = domain.priority_for_households(rules, previous, case.affected_households)
    if raised is not previous:
        case.priority = raised.value
        changes.append(
            Changed(
                case_id=case.id,
                happened=Happened.PRIORITY_RAISED,
                actor="dispatch",
                at=at,
                detail={
                    "priority": raised.value,
                    "previous": previous.value,
                    "affected_households": case.affected_households,
                },
            )
        )
    return changes


async def take_early(session: AsyncSession, lead_report_id: str) -> list[Joined]:
    """The reports grouped under a lead report that arrived before it, removed from the waiting list."""
    rows = (
        await session.scalars(
            delete(EarlyReport).where(EarlyReport.lead_report_id == lead_report_id).returning(EarlyReport)
        )
    ).all()
    return [
        Joined(r.report_id, r.household_id, r.channel, r.reporter_kind, r.reported_at)
        for r in sorted(rows, key=lambda r: (r.reported_at, r.report_id))
    ]
