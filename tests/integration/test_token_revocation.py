"""Revocation of login tokens across the three services: deactivating an account or changing its password ends
the tokens it signed in for in dispatch (its own table) and in intake and follow-up (AccountTokensRevoked over
Kafka) within the revocation cache window (1 s in these tests); reloading it unchanged ends nothing; service
tokens name no account and go on working."""

from __future__ import annotations

import asyncio
import threading
import time

import asyncpg
import httpx
import pytest

from shared.settings import DEV_ADMIN_TOKEN
from tests.integration.conftest import Loop

ADMIN = {"X-Admin-Token": DEV_ADMIN_TOKEN}


def task_force(username: str, password: str, *, active: bool = True) -> dict[str, object]:
    return {
        "username": username,
        "password": password,
        "role": "task_force",
        "sub": "TF-JYG",
        "scope": "S-JYG",
        "active": active,
    }


async def load(loop: Loop, *accounts: dict[str, object]) -> None:
    r = await loop.dispatch.http.put("/admin/accounts", json={"accounts": list(accounts)}, headers=ADMIN)
    assert r.status_code == 200, r.text


async def sign_in(loop: Loop, username: str, password: str) -> str:
    r = await loop.dispatch.http.post("/v1/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    token: str = r.json()["token"]
    return token


async def answers(loop: Loop, token: str) -> dict[str, int]:
    """What each service answers the token on a route a street task force may read."""
    h = {"Authorization": f"Bearer {token}"}
    calls: dict[str, tuple[httpx.AsyncClient, str]] = {
        "intake": (loop.intake.http, "/v1/visits?day=2026-12-01&grid_id=G-PHN-01"),
        "dispatch": (loop.dispatch.http, "/v1/cases"),
        "followup": (loop.followup.http, "/v1/visits"),
    }
    return {name: (await http.get(path, headers=h)).status_code for name, (http, path) in calls.items()}


async def until_refused(loop: Loop, token: str, within: float = 20.0) -> float:
    started = time.monotonic()
    while (got := await answers(loop, token)) != {"intake": 401, "dispatch": 401, "followup": 401}:
        assert time.monotonic() - started < within, got
        await asyncio.sleep(0.2)
    return time.monotonic() - started


ALL_OK = {"intake": 200, "dispatch": 200, "followup": 200}


async def test_a_deactivated_account_is_refused_by_every_service(loop: Loop) -> None:
    await load(loop, task_force("rev-a", "password-rev-a"))
    token = await sign_in(loop, "rev-a", "password-rev-a")
    assert await answers(loop, token) == ALL_OK
    await load(loop, task_force("rev-a", "password-rev-a"))  # reloaded unchanged: nothing revoked
    assert await answers(loop, token) == ALL_OK
    await load(loop, task_force("rev-a", "password-rev-a", active=False))
    took = await until_refused(loop, token)
    assert took < 15
    body = (
        await loop.intake.http.get(
            "/v1/visits?day=2026-12-01&grid_id=G-PHN-01", headers={"Authorization": f"Bearer {token}"}
        )
    ).json()
    assert body == {"detail": {"code": "unauthenticated", "message": "未登录或令牌无效", "field": "Authorization"}}
    # Reactivated: the old token stays dead, a new sign-in works everywhere.
    await load(loop, task_force("rev-a", "password-rev-a"))
    await asyncio.sleep(1.1)
    assert await answers(loop, token) == {"intake": 401, "dispatch": 401, "followup": 401}
    assert await answers(loop, await sign_in(loop, "rev-a", "password-rev-a")) == ALL_OK


async def test_a_changed_password_ends_the_old_tokens_only(loop: Loop) -> None:
    await load(loop, task_force("rev-b", "first-password-b"))
    old = await sign_in(loop, "rev-b", "first-password-b")
    assert await answers(loop, old) == ALL_OK
    await load(loop, task_force("rev-b", "second-password-b"))
    await until_refused(loop, old)
    new = await sign_in(loop, "rev-b", "second-password-b")
    assert await answers(loop, new) == ALL_OK
    # Service tokens (minted by the admin tooling, no account) are not revocable per account.
    assert await answers(loop, loop.tokens["TF-JYG"]) == ALL_OK


async def test_a_request_during_the_revoking_transaction_does_not_cache_the_old_version(
    loop: Loop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dispatch forgets an account's cached version only once the new one is committed: a request that looks the
    account up right after the forgetting (here, at the very moment) must find the revocation, not cache the old
    version for another window."""
    await load(loop, task_force("rev-c", "password-rev-c"))
    token = await sign_in(loop, "rev-c", "password-rev-c")
    h = {"Authorization": f"Bearer {token}"}
    assert (await loop.dispatch.http.get("/v1/cases", headers=h)).status_code == 200  # its version now cached
    versions = loop.dispatch.app.state.context.auth.versions
    url = loop.dispatch.runtime.settings.database_url.replace("+asyncpg", "")
    real_forget = versions.forget

    def lookup_now(account: str) -> int | None:
        """What a request arriving now would read (another connection, so only what is committed)."""
        found: list[int | None] = []

        async def read() -> None:
            conn = await asyncpg.connect(url)
            try:
                row = await conn.fetchrow("SELECT active, token_version FROM accounts WHERE username = $1", account)
            finally:
                await conn.close()
            found.append(row["token_version"] if row is not None and row["active"] else None)

        worker = threading.Thread(target=lambda: asyncio.run(read()))
        worker.start()
        worker.join()
        return found[0]

    def forget_then_a_request_arrives(account: str) -> None:
        real_forget(account)
        versions._cache[account] = (time.monotonic(), lookup_now(account))

    monkeypatch.setattr(versions, "forget", forget_then_a_request_arrives)
    await load(loop, task_force("rev-c", "password-rev-c", active=False))
    assert (await loop.dispatch.http.get("/v1/cases", headers=h)).status_code == 401  # at once, not a window later
