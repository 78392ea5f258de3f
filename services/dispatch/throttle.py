"""Sign-in throttling, in dispatch's database so that every replica counts the same failures.

Each failed sign-in counts against the account named and against the client address. Once a key has had its
threshold of failures, every further failure locks it for ``base × 2^(failures − threshold)`` seconds, capped; a
sign-in while either key is locked is answered 429 with ``Retry-After`` without looking at the password, so the
right password during a lockout is refused too. Failures older than the window are forgotten, and a successful
sign-in clears the account's count (not the address's: one good account must not reset an address guessing at
others). An unknown name is counted like a known one: a lockout tells nothing of which names exist.

A lockout can be provoked on purpose against someone else's account (the price of per-account counting); it lasts
at most ``login_lockout_max_seconds``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.models import LoginFailures


@dataclass(frozen=True)
class Policy:
    account_after: int = 5
    address_after: int = 20
    base_seconds: float = 1.0
    max_seconds: float = 900.0
    window_seconds: float = 3600.0

    def threshold(self, key: str) -> int:
        return self.account_after if key.startswith("account:") else self.address_after

    def lockout(self, key: str, failures: int) -> float | None:
        """Seconds of lockout after the ``failures``-th failure, or None below the threshold."""
        over = failures - self.threshold(key)
        if over < 0:
            return None
        return min(self.base_seconds * 2.0 ** min(over, 40), self.max_seconds)


def keys(username: str, address: str) -> list[str]:
    return [f"account:{username}", f"address:{address}"]


def kind(key: str) -> str:
    return key.partition(":")[0]


async def locked(session: AsyncSession, keys: list[str], now: datetime) -> tuple[str, int] | None:
    """The key locked longest of ``keys``, and the whole seconds until it is free; None when none is locked."""
    rows = (
        await session.execute(
            select(LoginFailures.key, LoginFailures.locked_until).where(
                LoginFailures.key.in_(keys), LoginFailures.locked_until > now
            )
        )
    ).all()
    locks = [(key, until) for key, until in rows if until is not None]
    if not locks:
        return None
    key, until = max(locks, key=lambda lock: lock[1])
    return key, max(1, math.ceil((until - now).total_seconds()))


async def failed(session: AsyncSession, key: str, policy: Policy, now: datetime) -> float | None:
    """Count a failure against ``key`` (one statement, safe against concurrent replicas); the lockout it begins."""
    forgotten = now - timedelta(seconds=policy.window_seconds)
    stmt = insert(LoginFailures).values(key=key, failures=1, last_failure_at=now, locked_until=None)
    count = await session.scalar(
        stmt.on_conflict_do_update(
            index_elements=[LoginFailures.key],
            set_={
                "failures": case((LoginFailures.last_failure_at < forgotten, 1), else_=LoginFailures.failures + 1),
                "last_failure_at": now,
            },
        ).returning(LoginFailures.failures)
    )
    # Forgotten failures go with the failures that keep coming (names guessed at leave one row each).
    await session.execute(
        delete(LoginFailures).where(
            LoginFailures.last_failure_at < forgotten,
            or_(LoginFailures.locked_until.is_(None), LoginFailures.locked_until < now),
        )
    )
    seconds = policy.lockout(key, int(count or 1))
    if seconds is not None:
        await session.execute(
            update(LoginFailures).where(LoginFailures.key == key).values(locked_until=now + timedelta(seconds=seconds))
        )
    return seconds


async def succeeded(session: AsyncSession, username: str) -> None:
    await session.execute(delete(LoginFailures).where(LoginFailures.key == f"account:{username}"))
