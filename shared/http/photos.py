"""The HTTP side of photo evidence (shared.evidence): where a route finds its service's ``Evidence``, and the route
that grants an upload."""

from __future__ import annotations

from fastapi import APIRouter, Request

from shared.auth import Role, require
from shared.errors import responses
from shared.evidence import PHOTO_REFUSALS, Evidence, UploadIn, UploadOut
from shared.http.context import context_of
from shared.http.deps import Transaction
from shared.http.security import CurrentPrincipal


def evidence_of(request: Request) -> Evidence:
    evidence = context_of(request).evidence
    assert evidence is not None, "this service keeps no photos"
    return evidence


def photo_router(*roles: Role, tag: str = "photos") -> APIRouter:
    """``POST /v1/photos/uploads`` for the parties of ``roles`` (those whose actions carry photos here)."""
    router = APIRouter()

    @router.post(
        "/v1/photos/uploads",
        response_model=UploadOut,
        status_code=201,
        tags=[tag],
        responses={**responses(401, 403, 422, 429), 503: PHOTO_REFUSALS[503]},
    )
    async def grant_upload(
        body: UploadIn, principal: CurrentPrincipal, session: Transaction, request: Request
    ) -> UploadOut:
        """A short-lived presigned upload for one photo (see ``UploadOut``); then name its ``key`` in the action."""
        require(principal, *roles)
        return await evidence_of(request).grant(session, principal, body.content_type)

    return router
