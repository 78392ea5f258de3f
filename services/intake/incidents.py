"""The incident a report joins and the statement that writes the report.

The hot path of ``service._accept`` in two statements: claim (find or open) the incident, then write the report, its
timeline and the incident's counter at once. Written as SQL so each is one round trip and compiled once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import domain
from services.intake.states import ReportStatus
from shared.contracts.common import Category, Location
from shared.ids import new_id

_CLAIM_GROUP = text(
    f"""
    WITH found AS (
        SELECT g.id, g.key, g.scope, g.lead_report_id, g.case_id, g.status, g.status_at, g.last_report_at,
               lead.agency, lead.expected_at, lead.handling
          FROM report_groups AS g LEFT JOIN reports AS lead ON lead.id = g.lead_report_id
         WHERE g.key = ANY(CAST(:keys AS VARCHAR[])) AND g.accepting
         ORDER BY g.key
           FOR UPDATE OF g
    ), created AS (
        INSERT INTO report_groups (id, key, scope, scope_id, category, lead_report_id, status, accepting,
                                   report_count, opened_at, last_report_at)
        SELECT :id, :key, :scope, :scope_id, :category, :lead, '{ReportStatus.ACCEPTED}', true, 1, :at, :at
         WHERE NOT EXISTS (SELECT 1 FROM found)
        ON CONFLICT (key) WHERE accepting DO NOTHING
        RETURNING id, key, scope, lead_report_id, case_id, status, status_at, last_report_at,
                  CAST(NULL AS VARCHAR) AS agency, CAST(NULL AS TIMESTAMPTZ) AS expected_at,
                  CAST(NULL AS JSONB) AS handling
    )
    SELECT true AS created, * FROM created
    UNION ALL
    SELECT false AS created, * FROM found
    """
)
_RETIRE_GROUP = text("UPDATE report_groups SET accepting = false WHERE id = :id")
WRITE_REPORT = text(
    """
    WITH rep AS (
        INSERT INTO reports (id, channel, external_id, category, priority, priority_resident, household_id,
                             building_id, location, description, measured_temp_c, photo_refs, reporter_kind,
                             reporter_id, reported_at, status, status_at, case_id, updated_at, group_id, integration_id,
                             order_no, agency, expected_at, handling)
        VALUES (:id, :channel, :external_id, :category, :priority, :priority_resident, :household_id,
                :building_id, CAST(:location AS JSONB), :description, :measured_temp_c,
                CAST(:photo_refs AS JSONB), :reporter_kind, :reporter_id, :at, :status, :status_at, :case_id, :at,
                :group_id, :integration_id, :order_no, :agency, :expected_at,
                CAST(:handling AS JSONB))
        ON CONFLICT (external_id) DO NOTHING
        RETURNING id
    ), timeline AS (
        INSERT INTO report_events (report_id, status, note, at)
        SELECT rep.id, e.status, e.note, :at
          FROM rep,
               unnest(CAST(:statuses AS VARCHAR[]), CAST(:notes AS VARCHAR[])) WITH ORDINALITY AS e(status, note, n)
         ORDER BY e.n
        RETURNING 1
    ), counted AS (
        UPDATE report_groups SET report_count = report_count + 1, last_report_at = GREATEST(last_report_at, :at)
         WHERE id = :group_id AND CAST(:joined AS BOOLEAN) AND EXISTS (SELECT 1 FROM rep)
        RETURNING 1
    )
    SELECT id FROM rep
    """
)


@dataclass(frozen=True, slots=True)
class Claimed:
    """The incident a report belongs to, as the claim found or opened it."""

    id: str
    scope: str
    lead_report_id: str
    case_id: str | None
    status: str
    status_at: datetime | None
    agency: str | None
    handling: dict[str, str] | None
    expected_at: datetime | None


async def group_for(
    session: AsyncSession,
    *,
    category: Category,
    location: Location,
    report_id: str,
    at: datetime,
    window: timedelta,
) -> tuple[Claimed, bool]:
    """The open incident this report joins, or the one it opens. Returns (group, joined).

    One statement locks the candidate groups (in key order, so two claims never wait on each other in a cycle) and
    opens the report's own group when none is open. A group whose window has passed is retired and the claim
    runs again; so does a claim that lost the race to open the group (it then finds and joins the winner's)."""
    candidates, own = domain.group_keys(
        category,
        household_id=location.household_id,
        building_id=location.building_id,
        substation_id=location.substation_id,
    )
    params = {
        "keys": [k.key for k in candidates],
        "id": new_id("G"),
        "key": own.key,
        "scope": own.scope,
        "scope_id": own.scope_id,
        "category": category.value,
        "lead": report_id,
        "at": at,
    }
    for _ in range(len(candidates) + 2):
        rows = (await session.execute(_CLAIM_GROUP, params)).all()
        for row in rows:
            if row.created:
                return _claimed(row), False
        # Nothing found and nothing opened: a concurrent claim opened it (we waited for its commit); run again.
        by_key = {found.key: found for found in rows}
        for candidate in candidates:
            match = by_key.get(candidate.key)
            if match is None:
                continue
            if domain.joinable(candidate, last_report_at=match.last_report_at, now=at, window=window):
                return _claimed(match), True
            await session.execute(_RETIRE_GROUP, {"id": match.id})  # quiet too long: a new incident begins
    raise RuntimeError(f"could not claim an incident for {own.key}")


def _claimed(row: Any) -> Claimed:
    return Claimed(
        id=row.id,
        scope=row.scope,
        lead_report_id=row.lead_report_id,
        case_id=row.case_id,
        status=row.status,
        status_at=row.status_at,
        agency=row.agency,
        handling=row.handling,
        expected_at=row.expected_at,
    )
