"""Follow-up's verdicts on a case: 发回重办 (a failed return visit or spot-check starts a new round with the same
assignees at a raised priority) and 办结 (the case is closed). Both arrive on the follow-up topic; one for
a round that is no longer current changes nothing. Each takes the session of one transaction; the caller commits."""

from __future__ import annotations

import functools
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch import domain, metrics, texts
from services.dispatch.effects import Changed, apply
from services.dispatch.escalation import supervise
from services.dispatch.models import Case
from services.dispatch.routing import Assignee, assign, round_assignments, route
from services.dispatch.rules import current_rules
from services.dispatch.states import CASE, AssignmentStatus
from services.dispatch.timeline import Happened
from shared.contracts.common import Priority, UnitType
from shared.contracts.dispatch import CaseRoundStarted
from shared.contracts.followup import CaseClosed, CaseReopened, ReopenReason
from shared.errors import NotFound
from shared.outbox import OutboxWriter


async def start_round(
    session: AsyncSession, writer: OutboxWriter, *, reopened: CaseReopened, at: datetime
) -> Case | None:
    """发回重办: the same assignees get a new round with raised priority and a redo counter. A spot-check
    failure reopens a closed case the same way."""
    case = await session.get(Case, reopened.case_id, with_for_update=True)
    if case is None:
        raise NotFound("case", texts.CASE_NOT_FOUND)
    action = "reopen_after_spot_check" if reopened.reason is ReopenReason.SPOT_CHECK_FAILED else "reopen_after_visit"
    if case.round != reopened.round or not CASE.allows(action, case.status):
        return None  # a verdict for a round that is no longer current: nothing to do
    _, rules = await current_rules(session)
    previous = [a for a in await round_assignments(session, case) if a.status == AssignmentStatus.RESOLVED]
    assignees = list(dict.fromkeys(Assignee(a.unit_id, UnitType(a.unit_type)) for a in previous))
    case.round += 1
    case.redo_count += 1
    case.priority = domain.raise_priority(Priority(case.priority)).value
    case.resolved_at = case.closed_at = None
    await apply(
        session,
        writer,
        Changed(
            case_id=case.id,
            happened=Happened.REOPENED,
            actor="followup",
            at=reopened.reopened_at,
            detail={"reason": reopened.reason.value, "min_temp_c": reopened.min_temp_c, "round": case.round},
            event=CaseRoundStarted(
                case_id=case.id,
                round=case.round,
                redo_count=case.redo_count,
                priority=Priority(case.priority),
                reason=reopened.reason.value,
            ),
            event_at=at,
            metrics=(metrics.REOPENED.labels(case.district_id, reopened.reason.value).inc,),
        ),
    )
    await assign(session, writer, rules, case, assignees or await route(session, rules, case), at)
    if case.redo_count >= rules.redo_limit and not case.supervised:
        await supervise(session, writer, rules, case, cause="redo", at=at)
    return case


async def close(session: AsyncSession, writer: OutboxWriter, *, closed: CaseClosed) -> Case | None:
    case = await session.get(Case, closed.case_id, with_for_update=True)
    if case is None:
        raise NotFound("case", texts.CASE_NOT_FOUND)
    if case.round != closed.round or not CASE.allows("close", case.status):
        return None
    case.status, case.closed_at = CASE.move("close", case.status), closed.closed_at
    await apply(
        session,
        writer,
        Changed(
            case_id=case.id,
            happened=Happened.CLOSED,
            actor="followup",
            at=closed.closed_at,
            detail={"min_temp_c": closed.min_temp_c},
            metrics=(
                metrics.CLOSED.labels(case.district_id, case.category).inc,
                functools.partial(
                    metrics.TIME_TO_CLOSE.labels(case.category).observe,
                    (closed.closed_at - case.opened_at).total_seconds(),
                ),
            ),
        ),
    )
    return case
