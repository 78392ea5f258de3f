"""访民问暖 入户走访: the household-visit ledger. Each finding becomes a report; each visit is announced
(HouseholdVisited) for the daily report: visits, residents reached, problems found."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import domain, metrics, registry, service, texts
from services.intake.complaint import Complaint
from services.intake.models import HouseholdVisit
from services.intake.schemas import VisitIn, VisitSummaryOut
from shared.auth import Principal, Role
from shared.contracts.common import Channel
from shared.contracts.intake import HouseholdVisited
from shared.effects import Effect, apply, count
from shared.errors import Forbidden
from shared.evidence import Evidence
from shared.ids import new_id

LOCAL = ZoneInfo("Asia/Shanghai")  # the daily report's day is the local one


async def log_visit(
    session: AsyncSession,
    intake: service.Intake,
    *,
    body: VisitIn,
    grid_worker_id: str,
    grid_id: str,
    at: datetime,
    evidence: Evidence | None = None,
) -> tuple[HouseholdVisit, bool]:
    """Record a visit and turn its findings into reports. Returns (visit, created). The findings' photos must be
    this worker's uploads (shared.evidence)."""
    building, household = await registry.place(session, body.household_id, None)
    if building.grid_id != grid_id:
        raise Forbidden("not_your_grid", texts.NOT_YOUR_GRID, "household_id")
    assert household is not None
    visited_at = body.visited_at or at
    names = [household.resident_name] if household.resident_name else []
    numbers = [household.phone] if household.phone else []
    visit_id = new_id("V")
    # The visit row first: a resent idempotency key waits here for the first send and gets its visit back.
    visit = await session.scalar(
        insert(HouseholdVisit)
        .values(
            id=visit_id,
            household_id=household.id,
            building_id=building.id,
            grid_id=building.grid_id,
            grid_worker_id=grid_worker_id,
            visited_at=visited_at,
            measured_temp_c=body.measured_temp_c,
            residents_reached=body.residents_reached,
            problem_found=bool(body.findings),
            # What the worker typed may name the resident or give a number: kept redacted, like a report's text.
            findings=[
                f.model_dump(mode="json") | {"description": domain.redact(f.description, names=names, numbers=numbers)}
                for f in body.findings
            ],
            report_ids=[],
            idempotency_key=body.idempotency_key,
        )
        .on_conflict_do_nothing(index_elements=[HouseholdVisit.grid_worker_id, HouseholdVisit.idempotency_key])
        .returning(HouseholdVisit)
    )
    if visit is None:
        existing = await session.scalar(
            select(HouseholdVisit).where(
                HouseholdVisit.grid_worker_id == grid_worker_id, HouseholdVisit.idempotency_key == body.idempotency_key
            )
        )
        assert existing is not None
        return existing, False
    photos = [k for f in body.findings for k in f.photo_refs]
    if photos:
        if evidence is None:
            raise ValueError("photos need the service's evidence store")
        await evidence.accept(
            session,
            photos,
            principal=Principal(role=Role.GRID_WORKER, sub=grid_worker_id, scope=grid_id),
            subject=f"ledger:{visit.id}",
            case_id=None,
            window=(min(visited_at, at) - service.PHOTO_SLACK, at),
            field="findings.photo_refs",
        )
    report_ids: list[str] = []
    for finding in body.findings:
        report, _ = await service.accept(
            session,
            intake,
            Complaint(
                channel=Channel.VISIT_LEDGER,
                building=building,
                household=household,
                category=finding.category or domain.classify(finding.description),
                description=finding.description or texts.VISIT_FINDING_DEFAULT,
                measured_temp_c=body.measured_temp_c,
                photo_refs=tuple(finding.photo_refs),
                reporter_kind="grid_worker",
                reporter_id=grid_worker_id,
                at=at,
            ),
        )
        report_ids.append(report.id)
    visit.report_ids = report_ids
    await apply(
        session,
        intake.writer,
        Effect(
            at=at,
            event=HouseholdVisited(
                visit_id=visit.id,
                grid_worker_id=grid_worker_id,
                location=await registry.location_of(session, building, household),
                visited_at=visited_at,
                residents_reached=body.residents_reached,
                measured_temp_c=body.measured_temp_c,
                problem_found=bool(body.findings),
                report_id=report_ids[0] if report_ids else None,
                report_ids=report_ids,
                findings=len(body.findings),
            ),
            key=household.id,
            correlation_id=visit.id,
            metrics=(count(metrics.VISITS.labels("yes" if body.findings else "no").inc),),
        ),
    )
    return visit, True


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, LOCAL)
    return start, start + timedelta(days=1)


async def list_for_grid(session: AsyncSession, *, grid_id: str, day: date) -> list[HouseholdVisit]:
    start, end = day_bounds(day)
    rows = await session.scalars(
        select(HouseholdVisit)
        .where(HouseholdVisit.grid_id == grid_id, HouseholdVisit.visited_at >= start, HouseholdVisit.visited_at < end)
        .order_by(HouseholdVisit.visited_at)
    )
    return list(rows.all())


async def summary(session: AsyncSession, *, grid_id: str, day: date) -> VisitSummaryOut:
    start, end = day_bounds(day)
    row = (
        await session.execute(
            select(
                func.count(),
                func.count(func.distinct(HouseholdVisit.household_id)),
                func.coalesce(func.sum(HouseholdVisit.residents_reached), 0),
                func.coalesce(func.sum(func.jsonb_array_length(HouseholdVisit.findings)), 0),
                func.count().filter(HouseholdVisit.measured_temp_c < domain.STANDARD_ROOM_C),
            ).where(
                HouseholdVisit.grid_id == grid_id, HouseholdVisit.visited_at >= start, HouseholdVisit.visited_at < end
            )
        )
    ).one()
    return VisitSummaryOut(
        grid_id=grid_id,
        day=day.isoformat(),
        visits=row[0],
        households=row[1],
        residents_reached=int(row[2]),
        problems_found=int(row[3]),
        below_standard=row[4],
    )
