"""Console sign-in: accounts with argon2 password hashes, ``POST /v1/login`` for a signed token (throttled,
services.dispatch.throttle), ``PUT /admin/accounts`` to load them, and ``GET /.well-known/jwks.json``, the public
keys every service checks tokens with.

An account's ``token_version`` travels in its login tokens (claim ``ver``); loading the account deactivated, with
another password or acting as someone else bumps it, which ends every token issued before in all three services:
dispatch reads the version here, intake and follow-up hear it as ``AccountTokensRevoked``."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, SecretStr, field_validator
from sqlalchemy import event, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch import metrics, passwords, throttle
from services.dispatch.deps import Context, Now, Session, Writer
from services.dispatch.models import Account, Unit
from shared.auth import Principal, Role, TokenVersions, VersionLookup
from shared.contracts.dispatch import AccountTokensRevoked
from shared.db import lost_a_race
from shared.errors import ApiError, responses
from shared.http.security import AdminOnly
from shared.text import CleanText

log = logging.getLogger(__name__)
router = APIRouter()
T = TypeVar("T")
RACE_ATTEMPTS = 4

# One working day: a dispatcher signs in at the start of a shift, not once a year like a demo token.
LOGIN_TTL_SECONDS = 12 * 3600

# Texts people read. The failure is the same whether the name or the password is wrong (no user enumeration).
LOGIN_FAILED = "用户名或密码错误"
LOGIN_LOCKED = "登录失败次数过多，请稍后再试"
LOGIN_BUSY = "登录请求过多，请稍后再试"
UNKNOWN_UNIT = "未登记的责任单位，请先加载单位登记簿"
SCOPE_REQUIRED = "该角色须指定管辖范围（网格、街道或区）"


def version_lookup(sessions: Any) -> VersionLookup:
    """Dispatch's check of a login token's account: its current version, or None if it is unknown or inactive.
    ``sessions``: a callable giving the runtime's session factory once the service has started."""

    async def current(account: str) -> int | None:
        factory: async_sessionmaker[AsyncSession] = sessions()
        async with factory() as session:
            row = (
                await session.execute(select(Account.active, Account.token_version).where(Account.username == account))
            ).first()
        return row[1] if row is not None and row[0] else None

    return current


# -- shapes ------------------------------------------------------------------------------------------------


class LoginIn(BaseModel):
    username: CleanText = Field(min_length=1, max_length=64)
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

    username: CleanText = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: SecretStr = Field(min_length=8, max_length=256)
    role: Role
    sub: CleanText = Field(min_length=1, max_length=64, description="Unit id for a unit; the person's id otherwise.")
    scope: CleanText = Field(
        default="",
        max_length=64,
        description="Grid (grid worker), street (task force) or district (district); a unit's defaults to the "
        "district of its registry entry.",
    )
    display_name: CleanText = Field(default="", max_length=200, description="Default: the unit's registry name.")
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


@router.get("/.well-known/jwks.json", tags=["console"])
async def jwks(context: Context) -> dict[str, Any]:
    """The public keys tokens are signed with (RFC 7517): what intake and follow-up fetch (``*_AUTH_JWKS_URL``).
    Holds no secret."""
    return context.issuer.jwks()


async def _transaction(sessions: async_sessionmaker[AsyncSession], work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """``work`` in a short transaction of its own, done again when PostgreSQL picks it as a deadlock's or a
    serialization failure's victim: a lost race on sign-in is retried, never a 500."""
    for attempt in range(1, RACE_ATTEMPTS + 1):
        try:
            async with sessions() as session, session.begin():
                return await work(session)
        except DBAPIError as exc:
            if attempt == RACE_ATTEMPTS or not lost_a_race(exc):
                raise
            log.warning("sign-in lost a lock race; trying again", extra={"attempt": attempt})
            await asyncio.sleep(random.uniform(0.005, 0.05) * attempt)
    raise AssertionError("unreachable")


@router.post("/v1/login", response_model=LoginOut, tags=["console"], responses=responses(401, 422, 429))
async def login(body: LoginIn, request: Request, clock: Now, context: Context) -> LoginOut:
    """Sign in with a console account: the answer carries a signed token every API accepts. A wrong name and a
    wrong password fail alike (401, one Chinese message). Repeated failures of an account, or from one address, lock
    sign-in for a growing while (429 ``login_locked`` with ``Retry-After``), whatever the password; so do too many
    sign-ins waiting for a password check at once (429 ``login_busy``)."""
    settings = context.settings
    sessions = context.runtime.sessions
    assert sessions is not None, "the service is not started"
    policy = throttle.Policy(
        account_after=settings.login_lockout_after,
        address_after=settings.login_address_lockout_after,
        base_seconds=settings.login_lockout_base_seconds,
        max_seconds=settings.login_lockout_max_seconds,
        window_seconds=settings.login_failure_window_seconds,
    )
    keys = throttle.keys(body.username, request.client.host if request.client else "unknown")
    gate = context.login_gate
    try:
        async with gate.admit():
            now = clock.now()

            async def count(session: AsyncSession) -> tuple[throttle.Attempt | throttle.Locked, Account | None]:
                counted = await throttle.attempt(session, keys, policy, now)
                found = await session.get(Account, body.username) if isinstance(counted, throttle.Attempt) else None
                return counted, found

            # Counted before the password is checked, and committed: parallel guesses cannot pass the count.
            counted, account = await _transaction(sessions, count)
            if isinstance(counted, throttle.Locked):
                metrics.LOGINS.labels("locked").inc()
                metrics.LOGIN_REFUSED_LOCKED.labels(throttle.kind(counted.key)).inc()
                raise ApiError(429, "login_locked", LOGIN_LOCKED, headers={"Retry-After": str(counted.seconds)})
            stored = account.password_hash if account is not None and account.active else None
            ok, upgraded = await gate.run(passwords.check, body.password.get_secret_value(), stored)
    except passwords.Busy:
        metrics.LOGINS.labels("busy").inc()
        raise ApiError(429, "login_busy", LOGIN_BUSY, headers={"Retry-After": "1"}) from None
    if not ok or account is None:
        failed_at = clock.now()
        for key in await _transaction(sessions, lambda s: throttle.failed(s, counted, policy, failed_at)):
            metrics.LOGIN_LOCKOUTS.labels(throttle.kind(key)).inc()
        await _forget_stale(sessions, policy, failed_at)
        metrics.LOGINS.labels("failed").inc()
        raise ApiError(401, "login_failed", LOGIN_FAILED)

    async def settle(session: AsyncSession) -> None:
        await throttle.succeeded(session, counted)
        if upgraded is not None:  # an scrypt hash (or weaker argon2 parameters) replaced now the password is known
            row = await session.get(Account, body.username, with_for_update=True)
            if row is not None and row.password_hash == account.password_hash:
                row.password_hash = upgraded

    await _transaction(sessions, settle)
    metrics.LOGINS.labels("ok").inc()
    principal = Principal(role=Role(account.role), sub=account.sub, scope=account.scope)
    at = int(time.time())
    token = context.issuer.issue(
        principal, ttl_seconds=LOGIN_TTL_SECONDS, account=account.username, token_version=account.token_version, now=at
    )
    return LoginOut(
        token=token,
        role=principal.role,
        sub=principal.sub,
        scope=principal.scope,
        display_name=account.display_name,
        expires_at=datetime.fromtimestamp(at + LOGIN_TTL_SECONDS, UTC),
    )


async def _forget_stale(sessions: async_sessionmaker[AsyncSession], policy: throttle.Policy, now: datetime) -> None:
    """Old attempts' rows go with the failures that keep coming, in a statement of their own that skips what a
    sign-in holds; best effort (a failure here must not turn a 401 into a 500)."""
    try:
        async with sessions() as session, session.begin():
            await throttle.forget_stale(session, policy, now)
    except DBAPIError:
        log.warning("stale sign-in counts not deleted; the next failure tries again", exc_info=True)


def _prepare(body: AccountsIn, existing: dict[str, Account]) -> tuple[list[str], list[str | None]]:
    """Per account: its hash (the stored one when the password is unchanged, so reloading the same accounts ends no
    session), and why its tokens are revoked (None: they are not)."""
    hashes, reasons = [], []
    for a in body.accounts:
        old = existing.get(a.username)
        password = a.password.get_secret_value()
        same, upgraded = passwords.verify(password, old.password_hash) if old is not None else (False, None)
        hashes.append(
            (upgraded or old.password_hash) if same and old is not None else passwords.hash_password(password)
        )
        reason = None
        if old is not None:
            if old.active and not a.active:
                reason = "deactivated"
            elif not same:
                reason = "password"
        reasons.append(reason)
    return hashes, reasons


@router.put("/admin/accounts", tags=["admin"], dependencies=[AdminOnly], responses=responses(401, 422))
async def put_accounts(
    body: AccountsIn, session: Session, writer: Writer, clock: Now, context: Context
) -> dict[str, int]:
    """Load or update console accounts (passwords hashed with argon2, each with its own salt). Idempotent;
    ``active: false`` locks an account out. Deactivating an account, changing its password, role, subject or
    scope ends the tokens it signed in for, in every service within the revocation cache window."""
    units = {u.id: u for u in (await session.scalars(select(Unit))).all()}
    rows: list[dict[str, Any]] = []
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
    names = [a.username for a in body.accounts]
    existing = {
        a.username: a
        for a in (await session.scalars(select(Account).where(Account.username.in_(names)).with_for_update())).all()
    }
    hashes, reasons = await asyncio.to_thread(_prepare, body, existing)
    # The last entry of a name wins (one statement cannot update a row twice).
    values: dict[str, dict[str, Any]] = {}
    revoked: dict[str, str] = {}
    for row, h, reason in zip(rows, hashes, reasons, strict=True):
        username: str = row["username"]
        old = existing.get(username)
        if old is not None and (old.role, old.sub, old.scope) != (row["role"], row["sub"], row["scope"]):
            reason = reason or "identity"
        version = (old.token_version if old is not None else 1) + (1 if reason else 0)
        values[username] = {**row, "password_hash": h, "token_version": version}
        if reason:
            revoked[username] = reason
        else:
            revoked.pop(username, None)
    if values:
        stmt = insert(Account).values(list(values.values()))
        columns = ("password_hash", "role", "sub", "scope", "display_name", "active", "token_version")
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[Account.username],
                set_={**{c: stmt.excluded[c] for c in columns}, "updated_at": func.now()},
            )
        )
    at = clock.now()
    for account, reason in revoked.items():
        version = values[account]["token_version"]
        revocation = AccountTokensRevoked(account=account, token_version=version, revoked_at=at)
        await writer.emit(session, revocation, key=f"account:{account}", at=at)
        metrics.TOKENS_REVOKED.labels(reason).inc()
    auth = context.auth
    if revoked and auth is not None and auth.versions is not None:
        _forget_after_commit(session, auth.versions, list(revoked))
    return {"accounts": len(values)}


def _forget_after_commit(session: AsyncSession, versions: TokenVersions, accounts: list[str]) -> None:
    """This replica forgets the accounts' cached token versions once the new ones are committed (the others within
    their cache window). Forgotten before, a request in between would cache the old version again, and the revoked
    tokens would pass here for another whole window."""

    def forget(_: Any) -> None:
        for account in accounts:
            versions.forget(account)

    event.listen(session.sync_session, "after_commit", forget, once=True)
