"""Revocation of login tokens across the three services: deactivating an account or changing its password ends
the tokens it signed in for in dispatch (its own table) and in intake and follow-up (AccountTokensRevoked over
Kafka) within the revocation cache window (1 s in these tests); reloading it unchanged ends nothing; service
tokens name no account and go on working."""

from __future__ import annotations

import asyncio
import time

import httpx

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
