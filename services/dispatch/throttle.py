"""Sign-in throttling, in dispatch's database so that every replica counts the same attempts.

Each sign-in is counted against the account named and against the client address (an IPv6 address by its /64, what
one household or host is given) *before* its password is checked: one short transaction inserts the keys' rows if
need be, locks them (always in the same order, so two sign-ins cannot deadlock), refuses the attempt if either key
is locked, and otherwise counts it. The attempt that reaches a key's threshold locks the key at once, for
``base × 2^(attempts − threshold)`` seconds, capped, so parallel guesses cannot slip past the count while the slow
hashes run: at most the threshold's number of passwords are ever checked before a lockout. A sign-in while either key
is locked is answered 429 with ``Retry-After`` without looking at the password, so the right password during a
lockout is refused too. When the check fails the lockout runs from the failure; when it succeeds the attempt is
settled: the account's count is cleared, and the address's attempt (and the lock it began) taken back (one good
account must not reset an address guessing at others, and must not count against it either). Attempts older than
the window are forgotten; their rows are deleted in a separate statement that skips rows another sign-in holds
(``FOR UPDATE SKIP LOCKED``), so the cleanup never waits on, nor deadlocks with, a sign-in. An unknown name is
counted like a known one: a lockout tells nothing of which names exist. A sign-in that ends without an answer
(the client gone mid-check) stays counted as a failure.

A lockout can be provoked on purpose against someone else's account (the price of per-account counting); it lasts
at most ``login_lockout_max_seconds``."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, or_, select, update
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
        """Seconds of lockout begun by the ``failures``-th attempt, or None below the threshold."""
        over = failures - self.threshold(key)
        if over < 0:
            return None
        return min(self.base_seconds * 2.0 ** min(over, 40), self.max_seconds)


def client_key(address: str) -> str:
    """The address a client is counted as: an IPv6 address by its /64 (one subscriber gets a whole /64 and may
    rotate through it at will), an IPv4 address (or one mapped into IPv6) as itself."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def keys(username: str, address: str) -> list[str]:
    return [f"account:{username}", f"address:{client_key(address)}"]


def kind(key: str) -> str:
    return key.partition(":")[0]


@dataclass(frozen=True)
class Locked:
    """The attempt was refused: ``key`` is locked for ``seconds`` more (whole seconds, at least 1)."""

    key: str
    seconds: int


@dataclass(frozen=True)
class Attempt:
    """An attempt counted: each key's count with it, and the locks it began (its key reached the threshold)."""

    counts: dict[str, int]
    locks: dict[str, datetime] = field(default_factory=dict)


async def attempt(session: AsyncSession, keys: list[str], policy: Policy, now: datetime) -> Attempt | Locked:
    """Count a sign-in against ``keys`` before its password is checked, or refuse it if a key is locked. Run it in
    a transaction of its own and commit before checking: the row locks it takes serialise concurrent sign-ins of a
    key across replicas, and every key is locked in sorted order, so two of them cannot deadlock."""
    ordered = sorted(set(keys))
    for key in ordered:
        await session.execute(
            insert(LoginFailures)
            .values(key=key, failures=0, last_failure_at=now, locked_until=None)
            .on_conflict_do_nothing(index_elements=[LoginFailures.key])
        )
    rows = (
        await session.execute(
            select(LoginFailures.key, LoginFailures.failures, LoginFailures.last_failure_at, LoginFailures.locked_until)
            .where(LoginFailures.key.in_(ordered))
            .order_by(LoginFailures.key)
            .with_for_update()
        )
    ).all()
    locks = [(key, until) for key, _, _, until in rows if until is not None and until > now]
    if locks:
        key, until = max(locks, key=lambda lock: lock[1])
        return Locked(key, max(1, math.ceil((until - now).total_seconds())))
    forgotten = now - timedelta(seconds=policy.window_seconds)
    counted = Attempt(counts={})
    for key, failures, last, _ in rows:
        count = 1 if last < forgotten else failures + 1
        seconds = policy.lockout(key, count)
        lock = now + timedelta(seconds=seconds) if seconds is not None else None
        await session.execute(
            update(LoginFailures)
            .where(LoginFailures.key == key)
            .values(failures=count, last_failure_at=now, locked_until=lock)
        )
        counted.counts[key] = count
        if lock is not None:
            counted.locks[key] = lock
    return counted


async def failed(session: AsyncSession, counted: Attempt, policy: Policy, now: datetime) -> list[str]:
    """The attempt's password was wrong: the lockouts it began run from now. The keys it locked."""
    locked = []
    for key in sorted(counted.locks):
        seconds = policy.lockout(key, counted.counts[key])
        assert seconds is not None
        await session.execute(
            update(LoginFailures)
            .where(LoginFailures.key == key)
            .values(locked_until=func.greatest(LoginFailures.locked_until, now + timedelta(seconds=seconds)))
        )
        locked.append(key)
    return locked


async def succeeded(session: AsyncSession, counted: Attempt) -> None:
    """The attempt's password was right: the account's count is cleared; the address's attempt is taken back, and
    the lock it began lifted (unless a later attempt has locked it since)."""
    for key in sorted(counted.counts):
        if kind(key) == "account":
            await session.execute(delete(LoginFailures).where(LoginFailures.key == key))
            continue
        began = counted.locks.get(key)
        await session.execute(
            update(LoginFailures)
            .where(LoginFailures.key == key)
            .values(
                failures=func.greatest(LoginFailures.failures - 1, 0),
                locked_until=case((LoginFailures.locked_until == began, None), else_=LoginFailures.locked_until)
                if began is not None
                else LoginFailures.locked_until,
            )
        )


async def forget_stale(session: AsyncSession, policy: Policy, now: datetime, *, limit: int = 500) -> int:
    """Delete up to ``limit`` rows of attempts older than the window and not locked (names guessed at leave one row
    each). Rows a sign-in holds are skipped, never waited for: run it in a short transaction of its own."""
    forgotten = now - timedelta(seconds=policy.window_seconds)
    stale = (
        select(LoginFailures.key)
        .where(
            LoginFailures.last_failure_at < forgotten,
            or_(LoginFailures.locked_until.is_(None), LoginFailures.locked_until < now),
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(delete(LoginFailures).where(LoginFailures.key.in_(stale)))
    return int(getattr(result, "rowcount", 0) or 0)
