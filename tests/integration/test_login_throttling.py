"""Sign-in throttling on the real database: failures of an account or from an address (an IPv6 one by its /64) lock
sign-in for a growing while (429 with Retry-After, the right password refused too), counted in the metrics, and
parallel guesses cannot slip past the count; password checks are bounded per process; the count's cleanup never
waits on a sign-in and a sign-in that loses a deadlock is retried; an argon2 hash replaces an old scrypt one at the
next sign-in."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert

from services.dispatch import passwords
from services.dispatch.models import Account, LoginFailures
from shared.settings import DEV_ADMIN_TOKEN
from tests.integration.conftest import Loop

ADMIN = {"X-Admin-Token": DEV_ADMIN_TOKEN}


@asynccontextmanager
async def client_from(loop: Loop, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """dispatch as seen from one client address (each test its own, so their failures do not add up)."""
    transport = httpx.ASGITransport(app=loop.dispatch.app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def account(loop: Loop, username: str, password: str) -> None:
    body = {"accounts": [{"username": username, "password": password, "role": "unit", "sub": "U-HEAT-1"}]}
    r = await loop.dispatch.http.put("/admin/accounts", json=body, headers=ADMIN)
    assert r.status_code == 200, r.text


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def login(http: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await http.post("/v1/login", json={"username": username, "password": password})


async def test_failures_of_an_account_lock_it_for_longer_each_time(loop: Loop) -> None:
    await account(loop, "throttle-a", "right-password-a")
    throttled, lockouts = (
        counted("dispatch_login_throttled_total", kind="account"),
        counted("dispatch_login_lockouts_total", kind="account"),
    )
    async with client_from(loop, "10.20.0.1") as http:
        for _ in range(5):
            assert (await login(http, "throttle-a", "wrong")).status_code == 401
        locked = await login(http, "throttle-a", "right-password-a")  # the right password, during the lockout
        assert locked.status_code == 429
        assert locked.headers["Retry-After"] == "1"
        assert locked.json() == {
            "detail": {"code": "login_locked", "message": "登录失败次数过多，请稍后再试", "field": None}
        }
        await asyncio.sleep(1.1)
        assert (await login(http, "throttle-a", "wrong")).status_code == 401  # the 6th failure: 2 s now
        again = await login(http, "throttle-a", "right-password-a")
        assert again.status_code == 429 and again.headers["Retry-After"] == "2"
    async with client_from(loop, "10.20.0.2") as elsewhere:  # the account is locked from every address
        assert (await login(elsewhere, "throttle-a", "right-password-a")).status_code == 429
        await asyncio.sleep(2.1)
        assert (await login(elsewhere, "throttle-a", "right-password-a")).status_code == 200
        # A success clears the account's count: the next failure does not lock it.
        assert (await login(elsewhere, "throttle-a", "wrong")).status_code == 401
        assert (await login(elsewhere, "throttle-a", "right-password-a")).status_code == 200
    assert counted("dispatch_login_throttled_total", kind="account") == throttled + 3
    assert counted("dispatch_login_lockouts_total", kind="account") == lockouts + 2


async def test_failures_from_one_address_lock_that_address(loop: Loop) -> None:
    await account(loop, "throttle-b", "right-password-b")
    before = counted("dispatch_login_throttled_total", kind="address")
    async with client_from(loop, "10.30.0.1") as guesser, client_from(loop, "10.30.0.2") as colleague:
        for i in range(20):  # twenty names, one guess each: no account reaches its own threshold
            assert (await login(guesser, f"guess-{i}", "wrong")).status_code == 401
        r = await login(guesser, "throttle-b", "right-password-b")
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert (await login(colleague, "throttle-b", "right-password-b")).status_code == 200  # another address
    assert counted("dispatch_login_throttled_total", kind="address") == before + 1


async def test_an_old_scrypt_hash_is_upgraded_to_argon2_at_sign_in(loop: Loop) -> None:
    await account(loop, "legacy-c", "old-scheme-password")
    sessions = loop.dispatch.runtime.sessions
    async with sessions() as session, session.begin():
        legacy = passwords.ScryptHasher().hash("old-scheme-password")
        await session.execute(update(Account).where(Account.username == "legacy-c").values(password_hash=legacy))
    async with client_from(loop, "10.40.0.1") as http:
        assert (await login(http, "legacy-c", "wrong")).status_code == 401
        async with sessions() as session:
            assert (await session.get(Account, "legacy-c")).password_hash == legacy  # type: ignore[union-attr]
        assert (await login(http, "legacy-c", "old-scheme-password")).status_code == 200
        async with sessions() as session:
            stored = (await session.get(Account, "legacy-c")).password_hash  # type: ignore[union-attr]
        assert stored.startswith("$argon2id$")
        assert (await login(http, "legacy-c", "old-scheme-password")).status_code == 200


def checked() -> float:
    """Password checks done: every sign-in that got as far as the hash ends ok or failed."""
    return counted("dispatch_logins_total", outcome="ok") + counted("dispatch_logins_total", outcome="failed")


async def test_parallel_guesses_check_at_most_the_threshold(loop: Loop) -> None:
    await account(loop, "throttle-par", "right-password-par")
    before = checked()
    async with client_from(loop, "10.50.0.1") as http:
        answers = await asyncio.gather(*(login(http, "throttle-par", f"guess-{i}") for i in range(20)))
    statuses = sorted(r.status_code for r in answers)
    assert checked() - before == 5, statuses  # the account's threshold: the other 15 never reach the hash
    assert statuses == [401] * 5 + [429] * 15
    assert all("Retry-After" in r.headers for r in answers if r.status_code == 429)


async def test_password_checks_are_bounded_and_the_rest_refused_at_once(
    loop: Loop, monkeypatch: pytest.MonkeyPatch
) -> None:
    running, most = 0, 0
    guard = threading.Lock()
    real = passwords.check

    def slow_check(password: str, stored: str | None) -> tuple[bool, str | None]:
        nonlocal running, most
        with guard:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.3)
            return real(password, stored)
        finally:
            with guard:
                running -= 1

    monkeypatch.setattr(passwords, "check", slow_check)
    monkeypatch.setattr(
        loop.dispatch.app.state.context, "login_gate", passwords.HashGate(concurrency=1, queue=2), raising=False
    )
    busy = counted("dispatch_logins_total", outcome="busy")

    async def one(i: int) -> httpx.Response:
        async with client_from(loop, f"10.51.0.{i}") as http:  # no address, no account reaches a threshold
            return await login(http, f"nobody-{i}", "wrong")

    answers = await asyncio.gather(*(one(i) for i in range(10)))
    assert most == 1  # never two 64 MiB hashes at once with a concurrency of 1
    refused = [r for r in answers if r.status_code == 429]
    assert len(refused) == 7 and all(r.status_code == 401 for r in answers if r not in refused)
    for r in refused:
        assert r.headers["Retry-After"] == "1" and r.json()["detail"]["code"] == "login_busy"
    assert counted("dispatch_logins_total", outcome="busy") == busy + 7


async def test_an_ipv6_client_is_counted_by_its_64(loop: Loop) -> None:
    await account(loop, "throttle-v6", "right-password-v6")
    for i in range(20):  # twenty addresses of one /64, one guess each
        async with client_from(loop, f"2001:db8:60:1::{i + 1:x}") as http:
            assert (await login(http, f"v6-guess-{i}", "wrong")).status_code == 401
    async with client_from(loop, "2001:db8:60:1:ffff::9") as same, client_from(loop, "2001:db8:60:2::1") as other:
        r = await login(same, "throttle-v6", "right-password-v6")
        assert r.status_code == 429 and r.json()["detail"]["code"] == "login_locked"
        assert (await login(other, "throttle-v6", "right-password-v6")).status_code == 200  # another /64


async def test_the_cleanup_of_old_counts_never_waits_on_a_sign_in(loop: Loop) -> None:
    """Old rows are deleted with SKIP LOCKED, apart from the count: a row another transaction holds (the very thing
    that let two failures deadlock) is skipped, not waited for."""
    sessions = loop.dispatch.runtime.sessions
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    async with sessions() as session, session.begin():
        for key in ("account:stale-held", "account:stale-free"):
            await session.execute(
                insert(LoginFailures)
                .values(key=key, failures=3, last_failure_at=long_ago, locked_until=None)
                .on_conflict_do_update(index_elements=[LoginFailures.key], set_={"last_failure_at": long_ago})
            )
    async with sessions() as held, held.begin(), client_from(loop, "10.52.0.1") as http:
        await held.execute(select(LoginFailures).where(LoginFailures.key == "account:stale-held").with_for_update())
        r = await asyncio.wait_for(login(http, "throttle-stale", "wrong"), timeout=5)
        assert r.status_code == 401
    async with sessions() as session:
        left = set(await session.scalars(select(LoginFailures.key).where(LoginFailures.key.like("account:stale-%"))))
    assert left == {"account:stale-held"}  # the free one went; the held one waits for a later failure


async def test_a_sign_in_that_loses_a_deadlock_is_retried_not_a_500(loop: Loop) -> None:
    """Another transaction holds the address's row and then asks for the account's, which the sign-in holds while
    it waits for the address: PostgreSQL aborts the sign-in's transaction (40P01, it waited first), which is done
    again once the other commits."""
    sessions = loop.dispatch.runtime.sessions
    now = datetime.now(UTC)
    keys = ("account:throttle-dl", "address:10.53.0.1")
    async with sessions() as session, session.begin():
        for key in keys:
            await session.execute(
                insert(LoginFailures)
                .values(key=key, failures=0, last_failure_at=now, locked_until=None)
                .on_conflict_do_nothing(index_elements=[LoginFailures.key])
            )

    async def waiting_on_locks() -> int:
        async with sessions() as session:
            return int(
                await session.scalar(
                    select(func.count())
                    .select_from(text("pg_stat_activity"))
                    .where(text("datname = current_database() AND wait_event_type = 'Lock'"))
                )
                or 0
            )

    async with client_from(loop, "10.53.0.1") as http:
        async with sessions() as other, other.begin():
            await other.execute(select(LoginFailures).where(LoginFailures.key == keys[1]).with_for_update())
            signing_in = asyncio.create_task(login(http, "throttle-dl", "wrong"))
            started = time.monotonic()
            while await waiting_on_locks() == 0:
                assert time.monotonic() - started < 10, "the sign-in never waited for the address's row"
                await asyncio.sleep(0.02)
            await other.execute(select(LoginFailures).where(LoginFailures.key == keys[0]).with_for_update())
        r = await asyncio.wait_for(signing_in, timeout=10)
    assert r.status_code == 401, r.text
