"""Console sign-in: accounts with salted scrypt hashes, ``POST /v1/login`` for the existing signed token, and
``PUT /admin/accounts`` to load them."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, SecretStr, field_validator
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from services.dispatch.api import Session
from services.dispatch.models import Account, Unit
from shared.auth import AdminOnly, Principal, Role, issue
from shared.errors import ApiError, responses

router = APIRouter()

# One working day: a dispatcher signs in at the start of a shift, not once a year like a demo token.
LOGIN_TTL_SECONDS = 12 * 3600

# Texts people read. The failure is the same whether the name or the password is wrong (no user enumeration).
LOGIN_FAILED = "用户名或密码错误"
UNKNOWN_UNIT = "未登记的责任单位，请先加载单位登记簿"
SCOPE_REQUIRED = "该角色须指定管辖范围（网格、街道或区）"

# scrypt cost: 16 MiB and tens of milliseconds per hash, run off the event loop.
_N, _R, _P, _DKLEN = 2**14, 8, 1, 32
_MAXMEM = 64 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$digest`` with a fresh 16-byte salt; the parameters travel with the hash so they can
    be raised later without invalidating stored accounts."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN, maxmem=_MAXMEM)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        candidate = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=_MAXMEM,
        )
    except ValueError:
        return False
    return hmac.compare_digest(candidate, expected)


@functools.cache
def _decoy_hash() -> str:
    # Checked against when the name is unknown, so an unknown name costs as much time as a wrong password.
    return hash_password(secrets.token_hex(16))


def _check(password: str, stored: str | None) -> bool:
    matches = verify_password(password, stored or _decoy_hash())
    return matches and stored is not None


# -- shapes ------------------------------------------------------------------------------------------------


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: SecretStr = Field(min_length=1, max_length=256)


class LoginOut(BaseModel):
    token: str = Field(description="Send as ``Authorization: Bearer …``; the console keeps it in sessionStorage.")
    role: Role
    sub: str
    scope: str
    display_name: str
    expires_at: datetime


SIGN_IN_ROLES = (Role.UNIT, Role.TASK_FORCE, Role.GRID_WORKER, Role.DISTRICT)


class AccountIn(BaseModel):
    """A person who signs in to the console, and whom they act as (admin acts with ``X-Admin-Token`` only)."""

    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: SecretStr = Field(min_length=8, max_length=256)
    role: Role
    sub: str = Field(min_length=1, max_length=64, description="Unit id for a unit; the person's id otherwise.")
    scope: str = Field(
        default="",
        max_length=64,
        description="Grid (grid worker), street (task force) or district (district); a unit's defaults to the "
        "district of its registry entry.",
    )
    display_name: str = Field(default="", max_length=200, description="Default: the unit's registry name.")
    active: bool = Field(default=True, strict=True)

    @field_validator("role")
    @classmethod
    def _people_only(cls, role: Role) -> Role:
        if role not in SIGN_IN_ROLES:
            raise ValueError("admin is not a console account")
        return role


class AccountsIn(BaseModel):
    accounts: list[AccountIn] = Field(max_length=1000)


# -- endpoints ---------------------------------------------------------------------------------------------


@router.post("/v1/login", response_model=LoginOut, tags=["console"], responses=responses(401, 422))
async def login(body: LoginIn, session: Session, request: Request) -> LoginOut:
    """Sign in with a console account: the answer carries the same signed token every API accepts. A wrong name
    and a wrong password fail alike (401, one Chinese message)."""
    account = await session.get(Account, body.username)
    stored = account.password_hash if account is not None and account.active else None
    if not await asyncio.to_thread(_check, body.password.get_secret_value(), stored) or account is None:
        raise ApiError(401, "login_failed", LOGIN_FAILED)
    principal = Principal(role=Role(account.role), sub=account.sub, scope=account.scope)
    token = issue(principal, request.app.state.auth_secret, ttl_seconds=LOGIN_TTL_SECONDS)
    return LoginOut(
        token=token,
        role=principal.role,
        sub=principal.sub,
        scope=principal.scope,
        display_name=account.display_name,
        expires_at=datetime.fromtimestamp(int(time.time()) + LOGIN_TTL_SECONDS, UTC),
    )


@router.put("/admin/accounts", tags=["admin"], dependencies=[AdminOnly], responses=responses(401, 422))
async def put_accounts(body: AccountsIn, session: Session) -> dict[str, int]:
    """Load or update console accounts (each password hashed with its own salt). Idempotent; ``active: false``
    locks an account out."""
    units = {u.id: u for u in (await session.scalars(select(Unit))).all()}
    rows = []
    for i, a in enumerate(body.accounts):
        scope, name = a.scope, a.display_name
        if a.role is Role.UNIT:
            unit = units.get(a.sub)
            if unit is None:
                raise ApiError(422, "unknown_unit", UNKNOWN_UNIT, f"accounts.{i}.sub")
            scope, name = scope or unit.district_id, name or unit.name
        elif not scope:
            raise ApiError(422, "scope_required", SCOPE_REQUIRED, f"accounts.{i}.scope")
        rows.append(
            {
                "username": a.username,
                "role": a.role.value,
                "sub": a.sub,
                "scope": scope,
                "display_name": name or a.sub,
                "active": a.active,
            }
        )
    hashes = await asyncio.to_thread(lambda: [hash_password(a.password.get_secret_value()) for a in body.accounts])
    # The last entry of a name wins (one statement cannot update a row twice).
    values = {row["username"]: {**row, "password_hash": h} for row, h in zip(rows, hashes, strict=True)}
    if values:
        stmt = insert(Account).values(list(values.values()))
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[Account.username],
                set_={
                    **{
                        c: stmt.excluded[c] for c in ("password_hash", "role", "sub", "scope", "display_name", "active")
                    },
                    "updated_at": func.now(),
                },
            )
        )
    return {"accounts": len(values)}
