"""Stateless signed tokens, verifiable by every service with the shared secret and no shared database.

A token says who acts (role + subject) and over what (scope ids). Format: ``v1.<payload>.<signature>``,
both base64url; the signature is HMAC-SHA256 over ``v1.<payload>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, ValidationError


class Role(StrEnum):
    GRID_WORKER = "grid_worker"  # 网格员
    UNIT = "unit"  # 责任单位 dispatcher
    TASK_FORCE = "task_force"  # 街道工作专班
    DISTRICT = "district"  # 区住建局 / 12345 督办
    ADMIN = "admin"


class Principal(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: Role
    sub: str = ""  # grid worker id, unit id, ...
    scope: str = ""  # grid id for a grid worker, street id for a task force, district id for a district
    exp: int = 0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(principal: Principal, secret: str, *, ttl_seconds: int = 365 * 24 * 3600) -> str:
    body = principal.model_copy(update={"exp": int(time.time()) + ttl_seconds}).model_dump(mode="json")
    head = "v1." + _b64(json.dumps(body, separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), head.encode(), hashlib.sha256).digest()
    return f"{head}.{_b64(sig)}"


def verify(token: str, secret: str) -> Principal | None:
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != "v1":
        return None
    head = f"{parts[0]}.{parts[1]}"
    expected = hmac.new(secret.encode(), head.encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(expected, _unb64(parts[2])):
            return None
        principal = Principal.model_validate_json(_unb64(parts[1]))
    except (ValueError, ValidationError):
        return None
    return principal if principal.exp > time.time() else None


def bearer(request: Request) -> Principal:
    """FastAPI dependency: the caller's principal, or 401. Expects ``request.app.state.auth_secret``."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    principal = verify(token.strip(), request.app.state.auth_secret) if scheme.lower() == "bearer" else None
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail={"code": "unauthenticated", "message": "未登录或令牌无效", "field": "Authorization"},
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(bearer)]


def require(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail={"code": "forbidden", "message": "无权执行此操作", "field": "Authorization"},
        )


def admin(request: Request) -> None:
    """FastAPI dependency for admin endpoints: header ``X-Admin-Token`` must match the service's admin token."""
    given = request.headers.get("x-admin-token", "")
    expected: str = request.app.state.runtime.settings.admin_token.get_secret_value()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail={"code": "unauthenticated", "message": "管理令牌无效", "field": "X-Admin-Token"},
        )


AdminOnly = Depends(admin)
