"""Sign-in throttling on the real database: failures of an account or from an address lock sign-in for a growing
while (429 with Retry-After, the right password refused too), counted in the metrics; an argon2 hash replaces an
old scrypt one at the next sign-in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from prometheus_client import REGISTRY
from sqlalchemy import update

from services.dispatch import passwords
from services.dispatch.models import Account
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
