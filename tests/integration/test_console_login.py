"""Console sign-in on the real database: accounts loaded from the seed, a wrong name or password answered alike,
the right one answered with a token every API accepts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from deploy.seed import registry
from shared.auth import Role, verifier_for_jwks
from shared.settings import DEV_ADMIN_TOKEN, DEV_AUTH_PUBLIC_JWK
from tests.integration.conftest import Loop

ADMIN = {"X-Admin-Token": DEV_ADMIN_TOKEN}


@pytest.fixture(scope="module")
async def seeded(loop: Loop) -> Loop:
    r = await loop.dispatch.http.put("/admin/accounts", json=registry.dispatch_accounts(registry.read()), headers=ADMIN)
    assert r.status_code == 200 and r.json() == {"accounts": 16}
    return loop


async def test_a_wrong_password_and_an_unknown_name_fail_alike(seeded: Loop) -> None:
    http = seeded.dispatch.http
    wrong = await http.post("/v1/login", json={"username": "heat1", "password": "not-the-password"})
    unknown = await http.post("/v1/login", json={"username": "nobody", "password": "not-the-password"})
    for r in (wrong, unknown):
        assert r.status_code == 401
        assert r.json() == {"detail": {"code": "login_failed", "message": "用户名或密码错误", "field": None}}
    assert wrong.content == unknown.content
    empty = await http.post("/v1/login", json={"username": "heat1", "password": ""})
    assert empty.status_code == 422 and empty.json()["detail"][0]["field"] == "password"


async def test_the_right_password_gives_a_token_that_works(seeded: Loop) -> None:
    http = seeded.dispatch.http
    r = await http.post("/v1/login", json={"username": "heat1", "password": "heat1-demo"})
    assert r.status_code == 200
    body = r.json()
    assert body["role"] == "unit" and body["sub"] == "U-HEAT-1" and body["scope"] == "D-CG"
    assert body["display_name"] == "城关第一供热公司"
    principal = await verifier_for_jwks({"keys": [DEV_AUTH_PUBLIC_JWK]}).verify(body["token"])
    assert principal is not None and principal.role is Role.UNIT and principal.sub == "U-HEAT-1"
    lasts = datetime.fromisoformat(body["expires_at"]) - datetime.now(UTC)
    assert timedelta(hours=11) < lasts <= timedelta(hours=12)  # one working day, not a demo token's year
    mine = await http.get("/v1/assignments", headers={"Authorization": f"Bearer {body['token']}"})
    assert mine.status_code == 200 and isinstance(mine.json(), list)
    cases = await http.get("/v1/cases", headers={"Authorization": f"Bearer {body['token']}"})
    assert cases.status_code == 403  # a unit is not a task force, whatever it signed in with

    tf = (await http.post("/v1/login", json={"username": "jyg", "password": "jyg-demo-2026"})).json()
    assert (tf["role"], tf["sub"], tf["scope"]) == ("task_force", "TF-JYG", "S-JYG")
    street = await http.get("/v1/cases", headers={"Authorization": f"Bearer {tf['token']}"})
    assert street.status_code == 200


async def test_accounts_are_replaced_locked_and_checked(seeded: Loop) -> None:
    http = seeded.dispatch.http
    account = {"username": "pm-night", "password": "first-password", "role": "unit", "sub": "U-PM-1"}
    assert (await http.put("/admin/accounts", json={"accounts": [account]})).status_code == 401  # admin only
    assert (await http.put("/admin/accounts", json={"accounts": [account]}, headers=ADMIN)).status_code == 200
    ok = await http.post("/v1/login", json={"username": "pm-night", "password": "first-password"})
    assert ok.status_code == 200 and ok.json()["display_name"] == "安居物业"  # from the unit registry

    changed = {**account, "password": "second-password"}
    assert (await http.put("/admin/accounts", json={"accounts": [changed]}, headers=ADMIN)).status_code == 200
    old = await http.post("/v1/login", json={"username": "pm-night", "password": "first-password"})
    assert old.status_code == 401
    locked = {**changed, "active": False}
    assert (await http.put("/admin/accounts", json={"accounts": [locked]}, headers=ADMIN)).status_code == 200
    gone = await http.post("/v1/login", json={"username": "pm-night", "password": "second-password"})
    assert gone.status_code == 401 and gone.json()["detail"]["message"] == "用户名或密码错误"

    for bad, field in (
        ({**account, "sub": "U-NOWHERE"}, "accounts.0.sub"),
        ({**account, "role": "task_force", "sub": "TF-X"}, "accounts.0.scope"),
    ):
        r = await http.put("/admin/accounts", json={"accounts": [bad]}, headers=ADMIN)
        assert r.status_code == 422 and r.json()["detail"]["field"] == field
    admin = await http.put("/admin/accounts", json={"accounts": [{**account, "role": "admin"}]}, headers=ADMIN)
    assert admin.status_code == 422
    short = await http.put("/admin/accounts", json={"accounts": [{**account, "password": "short"}]}, headers=ADMIN)
    assert short.status_code == 422


async def test_the_live_stream_refuses_what_the_api_refuses(seeded: Loop) -> None:
    http = seeded.dispatch.http
    for params in ({}, {"token": "v1.bogus.token"}, {"token": seeded.tokens["U-HEAT-1"] + "x"}):
        r = await http.get("/console/events", params=params)
        assert r.status_code == 401 and r.json()["detail"]["code"] == "unauthenticated"


async def test_account_texts_refuse_characters_xml_cannot_carry(seeded: Loop) -> None:
    http = seeded.dispatch.http
    person = {"username": "tf-text", "password": "password-tf-text", "role": "task_force", "sub": "TF-JYG"}
    person["scope"] = "S-JYG"
    for field, bad in (("display_name", "专班\x0b王"), ("sub", "TF\x00JYG"), ("scope", "S-JYG\ufffe")):
        r = await http.put("/admin/accounts", json={"accounts": [{**person, field: bad}]}, headers=ADMIN)
        assert r.status_code == 422, (field, r.text)
        detail = r.json()["detail"]
        assert any(e["field"] == f"accounts.0.{field}" and e["code"] == "text_forbidden_char" for e in detail), detail
    assert (await http.put("/admin/accounts", json={"accounts": [person]}, headers=ADMIN)).status_code == 200
    signed_in = await http.post("/v1/login", json={"username": "tf\x0btext", "password": "password-tf-text"})
    assert signed_in.status_code == 422 and signed_in.json()["detail"][0]["field"] == "username"
