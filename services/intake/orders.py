"""12345's operations on an order it sent (撤单, 补充诉求, 催单): signed like orders, once per operation id.

Each is recorded on the order's report (its timeline, and for a withdrawal its status) and announced to dispatch
(``ReportWithdrawn`` / ``ReportSupplemented`` / ``ReportHurried``), which acts on the case. The event is keyed by
the case when intake knows it, else like the incident's first report (``ComplaintReported``), so dispatch hears
the operation after the complaint it is about.

Withdrawn is final for a report: its case's later facts no longer move it nor reach its platform
(feedback.set_case_status). When every report of the case (or of the incident, before a case) is withdrawn, the
incident stops taking reports and dispatch withdraws the case. An order already closed, or withdrawn, takes no
operation (409): 12345 sends a new order for a new problem.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import domain, feedback, metrics, texts
from services.intake.models import HotlineOperation, Household, Report, ReportEvent, ReportGroup
from services.intake.schemas import HotlineHurryIn, HotlineOperationIn, HotlineSupplementIn, HotlineWithdrawIn
from services.intake.states import ReportStatus, TimelineEntry
from shared.contracts.common import Channel, Priority
from shared.contracts.intake import ReportHurried, ReportSupplemented, ReportWithdrawn
from shared.effects import Effect, apply, count
from shared.errors import Conflict, NotFound
from shared.outbox import OutboxWriter
from shared.states import Move, Refusal, Transitions, among


class OperationKind(StrEnum):
    WITHDRAW = "withdraw"  # 撤单
    SUPPLEMENT = "supplement"  # 补充诉求
    HURRY = "hurry"  # 催单


S = ReportStatus
# Where a report still takes an operation: its case is not closed, nor the order withdrawn.
_IN_HAND = among(S.ACCEPTED, S.DISPATCHED, S.SIGNED_IN, S.RESOLVED, S.REOPENED)
_CLOSED = Refusal("order_closed", texts.ORDER_CLOSED)
_WITHDRAWN = {S.WITHDRAWN: Refusal("order_withdrawn", texts.ORDER_WITHDRAWN)}
ORDER: Transitions[ReportStatus] = Transitions(
    "hotline_order",
    ReportStatus,
    {
        OperationKind.WITHDRAW: Move(_IN_HAND, S.WITHDRAWN, _CLOSED, _WITHDRAWN),
        OperationKind.SUPPLEMENT: Move(_IN_HAND, None, _CLOSED, _WITHDRAWN),
        OperationKind.HURRY: Move(_IN_HAND, None, _CLOSED, _WITHDRAWN),
    },
)

_PRIORITY_RANK = {Priority.NORMAL: 0, Priority.URGENT: 1, Priority.EMERGENCY: 2}


@dataclass(frozen=True, slots=True)
class Done:
    """An operation's outcome: the order's report as it stands, and whether this send was the first."""

    report: Report
    kind: OperationKind
    at: datetime
    created: bool


async def operate(
    session: AsyncSession,
    writer: OutboxWriter,
    *,
    integration_id: str,
    order_no: str,
    body: HotlineOperationIn,
    at: datetime,
    calls_back: Set[str],
) -> Done:
    """Apply one operation once. A resend of the same operation (same id, kind and order) answers how the order
    stands now; the same id used for something else is refused."""
    kind = _kind_of(body)
    external_id = f"12345:{integration_id}:{order_no}"
    group_id = await session.scalar(select(Report.group_id).where(Report.external_id == external_id))
    # Locks in the order every writer of a case's reports takes them: the incident, then its reports (feedback
    # telling a case's reports of a sign-in takes the same two); the other order deadlocked with it.
    if group_id is not None:
        await session.execute(select(ReportGroup.id).where(ReportGroup.id == group_id).with_for_update())
    report = await session.scalar(select(Report).where(Report.external_id == external_id).with_for_update())
    if report is None:
        raise NotFound("order", texts.ORDER_NOT_FOUND)
    first = await session.scalar(
        insert(HotlineOperation)
        .values(
            integration_id=integration_id,
            operation_id=body.operation_id,
            order_no=order_no,
            report_id=report.id,
            kind=kind,
            at=at,
        )
        .on_conflict_do_nothing()
        .returning(HotlineOperation.at)
    )
    if first is None:
        seen = await session.get(HotlineOperation, (integration_id, body.operation_id))
        assert seen is not None  # the conflicting row committed before this insert gave up
        if seen.kind != kind or seen.order_no != order_no:
            raise Conflict("operation_conflict", texts.OPERATION_CONFLICT, "operation_id")
        await session.refresh(report)
        return Done(report, kind, seen.at, created=False)
    ORDER.check(kind, report.status)
    lead = await _lead(session, report)
    text = _redacted(body, await session.get(Household, report.household_id) if report.household_id else None)
    event: ReportWithdrawn | ReportSupplemented | ReportHurried
    if isinstance(body, HotlineWithdrawIn):
        event = await _withdraw(session, report, lead.id, reason=text or "", body=body, at=at, calls_back=calls_back)
    elif isinstance(body, HotlineSupplementIn):
        event = _supplement(session, report, lead.id, content=text or "", body=body, at=at)
    else:
        assert isinstance(body, HotlineHurryIn)  # _kind_of refused anything else
        event = _hurry(session, report, lead.id, content=text, body=body, at=at)
    report.updated_at = max(at, report.updated_at)
    await apply(
        session,
        writer,
        Effect(
            at=at,
            event=event,
            key=report.case_id or lead.household_id or lead.building_id,
            correlation_id=report.case_id or lead.id,
            metrics=(count(metrics.HOTLINE_OPERATIONS.labels(kind.value).inc),),
        ),
    )
    return Done(report, kind, at, created=True)


def _kind_of(body: HotlineOperationIn) -> OperationKind:
    if isinstance(body, HotlineWithdrawIn):
        return OperationKind.WITHDRAW
    if isinstance(body, HotlineSupplementIn):
        return OperationKind.SUPPLEMENT
    if isinstance(body, HotlineHurryIn):
        return OperationKind.HURRY
    raise TypeError(type(body).__name__)


async def _lead(session: AsyncSession, report: Report) -> Report:
    """The report whose ComplaintReported opened (or will open) the case: the incident's first."""
    if report.group_id is None:
        return report
    group = await session.get(ReportGroup, report.group_id)
    if group is None or group.lead_report_id == report.id:
        return report
    return await session.get(Report, group.lead_report_id) or report


def _redacted(body: HotlineOperationIn, household: Household | None) -> str | None:
    """The operation's text with the caller's and the household's names and numbers taken out."""
    raw = (
        body.reason
        if isinstance(body, HotlineWithdrawIn)
        else body.content
        if isinstance(body, HotlineSupplementIn | HotlineHurryIn)
        else None
    )
    if not raw:
        return None
    names = [n for n in (body.caller_name, household and household.resident_name) if n]
    numbers = [n for n in (body.caller_phone, household and household.phone) if n]
    return domain.redact(raw, names=names, numbers=numbers)[:2000]


def _note(entry: ReportStatus | TimelineEntry, text: str | None) -> str:
    told = domain.STATUS_NOTES[entry]
    return (f"{told}：{text}" if text else told)[:300]


def _rank(priority: str) -> int:
    return _PRIORITY_RANK[Priority(priority)]


async def _withdraw(
    session: AsyncSession,
    report: Report,
    lead_report_id: str,
    *,
    reason: str,
    body: HotlineWithdrawIn,
    at: datetime,
    calls_back: Set[str],
) -> ReportWithdrawn:
    # The incident is locked (operate took it first, as a joining report claims it): none joins while the last one
    # leaves.
    report.status = ORDER.move(OperationKind.WITHDRAW, report.status)
    report.status_at = max(at, report.status_at or at)
    note = _note(ReportStatus.WITHDRAWN, reason)
    session.add(ReportEvent(report_id=report.id, status=ReportStatus.WITHDRAWN, note=note, at=at))
    if report.integration_id in calls_back:
        await feedback.queue_callback(session, report=report, status=ReportStatus.WITHDRAWN, note=note, at=at)
    await session.flush()
    siblings = Report.case_id == report.case_id if report.case_id else Report.group_id == report.group_id
    others = await session.scalar(
        select(func.count()).select_from(Report).where(siblings, Report.status != ReportStatus.WITHDRAWN)
    )
    last = not others
    if last and report.group_id is not None:
        await session.execute(
            update(ReportGroup)
            .where(ReportGroup.id == report.group_id)
            .values(accepting=False, status=ReportStatus.WITHDRAWN, status_at=at, closed_at=at)
        )
    return ReportWithdrawn(
        report_id=report.id,
        case_id=report.case_id,
        lead_report_id=lead_report_id,
        channel=Channel(report.channel),
        operation_id=body.operation_id,
        reason=reason,
        last_of_case=last,
        withdrawn_at=at,
    )


def _supplement(
    session: AsyncSession,
    report: Report,
    lead_report_id: str,
    *,
    content: str,
    body: HotlineSupplementIn,
    at: datetime,
) -> ReportSupplemented:
    raised = body.priority if body.priority and _rank(body.priority) > _rank(report.priority) else None
    if raised is not None:
        report.priority = raised.value
    if body.priority_resident:
        report.priority_resident = True
    entry = TimelineEntry.SUPPLEMENTED
    session.add(ReportEvent(report_id=report.id, status=entry, note=_note(entry, content), at=at))
    return ReportSupplemented(
        report_id=report.id,
        case_id=report.case_id,
        lead_report_id=lead_report_id,
        channel=Channel(report.channel),
        operation_id=body.operation_id,
        content=content,
        priority=raised,
        priority_resident=body.priority_resident,
        supplemented_at=at,
    )


def _hurry(
    session: AsyncSession,
    report: Report,
    lead_report_id: str,
    *,
    content: str | None,
    body: HotlineHurryIn,
    at: datetime,
) -> ReportHurried:
    entry = TimelineEntry.HURRIED
    session.add(ReportEvent(report_id=report.id, status=entry, note=_note(entry, content), at=at))
    return ReportHurried(
        report_id=report.id,
        case_id=report.case_id,
        lead_report_id=lead_report_id,
        channel=Channel(report.channel),
        operation_id=body.operation_id,
        content=content,
        hurried_at=at,
    )
