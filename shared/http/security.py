"""Who is calling: the request dependencies that check a bearer token (``CurrentPrincipal``) or the admin token
(``AdminOnly``), with the service context's ``Auth`` (shared.auth holds the tokens themselves)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from shared.auth import Principal, unauthenticated
from shared.http.context import context_of


async def authenticate(request: Request, token: str) -> Principal | None:
    """The principal of a token, checked for signature, expiry and revocation; None when any fails."""
    auth = context_of(request).auth
    principal = await auth.verifier.verify(token) if token else None
    if principal is None:
        return None
    if auth.versions is not None and not await auth.versions.allows(principal):
        return None
    return principal


async def bearer(request: Request) -> Principal:
    """FastAPI dependency: the caller's principal, or 401."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    principal = await authenticate(request, token.strip()) if scheme.lower() == "bearer" else None
    if principal is None:
        raise unauthenticated()
    return principal


CurrentPrincipal = Annotated[Principal, Depends(bearer)]


async def admin(request: Request) -> None:
    """FastAPI dependency for admin endpoints: header ``X-Admin-Token`` must match the service's admin token."""
    given = request.headers.get("x-admin-token", "")
    expected = context_of(request).runtime.settings.admin_token.get_secret_value()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail={"code": "unauthenticated", "message": "管理令牌无效", "field": "X-Admin-Token"},
        )


AdminOnly = Depends(admin)
