"""Admin: the registry load and an incident's reports. The 12345 callback queue is in ``api.hotline``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.intake import registry, service
from services.intake.api.common import Session
from services.intake.schemas import (
    RegistryIn,
)
from shared.errors import responses
from shared.http.security import AdminOnly

router = APIRouter()


@router.put("/admin/registry", tags=["admin"], dependencies=[AdminOnly], responses=responses(401, 422))
async def put_registry(body: RegistryIn, session: Session) -> dict[str, int]:
    """Load or update the geography, heat network, buildings, households and sensors. Idempotent."""
    return await registry.load_registry(session, registry=body)


@router.get("/admin/incidents/{group_id}", tags=["admin"], dependencies=[AdminOnly], responses=responses(401, 404, 422))
async def get_incident(group_id: str, session: Session) -> dict[str, Any]:
    """An incident (a group of reports handled as one case) and its linked reports."""
    group, report_ids = await service.group_of(session, group_id=group_id)
    return {
        "id": group.id,
        "scope": group.scope,
        "scope_id": group.scope_id,
        "category": group.category,
        "lead_report_id": group.lead_report_id,
        "case_id": group.case_id,
        "status": group.status,
        "accepting": group.accepting,
        "report_ids": report_ids,
    }
