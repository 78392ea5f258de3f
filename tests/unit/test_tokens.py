"""Tokens as Ed25519-signed JWTs: the issuer alone signs, a verifier holding the public key set cannot, and every
way of slipping a token past the key (another key, alg none, HS256 keyed with the public key, a forged kid,
expiry, another issuer or audience) is refused. Revocation by token version, cached."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import SecretStr

from services.dispatch.config import DispatchSettings
from services.dispatch.main import create_app as dispatch_app
from services.dispatch.notify.settings import NotifySettings
from services.dispatch.throttle import Policy, keys
from services.followup.config import FollowupSettings
from services.followup.main import create_app as followup_app
from services.intake.config import IntakeSettings
from services.intake.main import create_app as intake_app
from shared.auth import (
    KeySet,
    Principal,
    Role,
    TokenIssuer,
    TokenVerifier,
    TokenVersions,
    Trust,
    issue,
    load_private_key,
    verifier_for_jwks,
    verifier_from_settings,
)
from shared.settings import DEV_AUTH_PRIVATE_KEY, DEV_AUTH_PUBLIC_JWK, ServiceSettings
from tests.keys import REAL_PHOTOS, another_key

UNIT = Principal(role=Role.UNIT, sub="U-HEAT-1", scope="D-CG")
SIGNER = TokenIssuer(DEV_AUTH_PRIVATE_KEY)
CITY_PEM = another_key()
CITY_KEY = load_private_key(CITY_PEM)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, object], claims: dict[str, object], signature: bytes = b"") -> str:
    parts = [b64(json.dumps(header).encode()), b64(json.dumps(claims).encode())]
    return ".".join([*parts, b64(signature)])


def claims_of(token: str) -> dict[str, object]:
    decoded: dict[str, object] = jwt.decode(token, options={"verify_signature": False})
    return decoded


async def test_a_token_round_trips_as_a_standard_jwt() -> None:
    token = SIGNER.issue(UNIT, ttl_seconds=600, account="heat1", token_version=3)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA" and header["kid"] == SIGNER.kid
    claims = claims_of(token)
    assert claims["iss"] == "heating-dispatch" and claims["aud"] == "heating-api"
    assert (claims["sub"], claims["role"], claims["scope"], claims["acct"], claims["ver"]) == (
        "U-HEAT-1",
        "unit",
        "D-CG",
        "heat1",
        3,
    )
    got = await verifier_for_jwks(SIGNER.jwks()).verify(token)
    assert got == UNIT.model_copy(update={"exp": claims["exp"], "account": "heat1", "token_version": 3})
    # The published key set is exactly the dev public key, with its RFC 7638 thumbprint as kid.
    (published,) = SIGNER.jwks()["keys"]
    assert {k: published[k] for k in DEV_AUTH_PUBLIC_JWK} == DEV_AUTH_PUBLIC_JWK and "d" not in published


async def test_a_verifier_holds_no_private_key_and_refuses_one() -> None:
    verifier = verifier_from_settings(ServiceSettings(environment="test"))
    assert await verifier.verify(issue(UNIT, DEV_AUTH_PRIVATE_KEY)) is not None
    for create_app, settings in ((intake_app, IntakeSettings()), (followup_app, FollowupSettings())):
        state = create_app(settings).state.context
        assert not hasattr(state, "issuer")  # nothing to sign with
        keys = [key for trust in state.auth.verifier._trusts.values() for key, _ in trust.keys._keys.values()]
        assert keys and all(isinstance(key, Ed25519PublicKey) for key in keys)
    private_jwk = {**DEV_AUTH_PUBLIC_JWK, "d": b64(load_private_key(DEV_AUTH_PRIVATE_KEY).private_bytes_raw())}
    with pytest.raises(ValueError, match="public keys only"):
        KeySet({"keys": [private_jwk]})


async def test_tokens_signed_otherwise_are_refused() -> None:
    verifier = verifier_for_jwks(SIGNER.jwks())
    now = int(time.time())
    claims = {"iss": "heating-dispatch", "aud": "heating-api", "exp": now + 600, "sub": "X", "role": "admin"}
    public_pem = (
        load_private_key(DEV_AUTH_PRIVATE_KEY)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    head, _, signature = SIGNER.issue(UNIT, ttl_seconds=600).split(".")
    signed_by_other = TokenIssuer(another_key()).issue(UNIT, ttl_seconds=600).split(".")
    hs256_input = f"{b64(json.dumps({'alg': 'HS256', 'kid': SIGNER.kid}).encode())}.{b64(json.dumps(claims).encode())}"
    refused = {
        "another key": issue(UNIT, another_key()),
        "another key, our kid": ".".join([head, *signed_by_other[1:]]),
        "alg none": forge({"alg": "none", "kid": SIGNER.kid}, claims),
        "alg none, no kid": forge({"alg": "none"}, claims),
        # The classic key confusion: HS256 with the public key's PEM as the shared secret.
        "HS256 keyed with the public key": f"{hs256_input}."
        + b64(hmac.new(public_pem, hs256_input.encode(), hashlib.sha256).digest()),
        "unknown kid": forge({"alg": "EdDSA", "kid": "nope"}, claims, b"\0" * 64),
        "tampered claims": f"{head}.{b64(json.dumps(claims).encode())}.{signature}",
        "expired": SIGNER.issue(UNIT, ttl_seconds=-120),
        "another issuer": TokenIssuer(DEV_AUTH_PRIVATE_KEY, issuer="evil").issue(UNIT, ttl_seconds=600),
        "another audience": TokenIssuer(DEV_AUTH_PRIVATE_KEY, audience="other").issue(UNIT, ttl_seconds=600),
        "garbage": "garbage",
        "empty": "",
    }
    for name, token in refused.items():
        assert await verifier.verify(token) is None, name
    assert await verifier.verify(SIGNER.issue(UNIT, ttl_seconds=600)) is not None


async def test_a_remote_key_set_is_fetched_again_for_an_unknown_kid() -> None:
    rotated = TokenIssuer(another_key())
    served = {"doc": SIGNER.jwks()}
    fetched: list[str] = []

    async def fetch(url: str) -> dict[str, object]:
        fetched.append(url)
        return served["doc"]

    keys = KeySet(url="https://dispatch.example/.well-known/jwks.json", fetch=fetch, min_refresh_seconds=0)
    verifier = TokenVerifier([Trust(issuer="heating-dispatch", keys=keys)])
    assert await verifier.verify(SIGNER.issue(UNIT, ttl_seconds=60)) is not None
    assert await verifier.verify(SIGNER.issue(UNIT, ttl_seconds=60)) is not None
    assert len(fetched) == 1  # cached
    served["doc"] = {"keys": [*SIGNER.jwks()["keys"], *rotated.jwks()["keys"]]}
    assert await verifier.verify(rotated.issue(UNIT, ttl_seconds=60)) is not None  # unknown kid: fetched again
    assert len(fetched) == 2


async def test_an_oidc_provider_maps_its_claims() -> None:
    city = TokenIssuer(CITY_PEM, issuer="https://id.city.example", audience="heating-api")

    async def fetch(_: str) -> dict[str, object]:
        return city.jwks()

    trust = Trust(
        issuer="https://id.city.example",
        keys=KeySet(url="https://id.city.example/jwks", fetch=fetch),
        role_claim="heating_role",
        scope_claim="heating_scope",
    )
    verifier = TokenVerifier([Trust(issuer="heating-dispatch", keys=KeySet(SIGNER.jwks())), trust])
    token = jwt.encode(
        {
            "iss": "https://id.city.example",
            "aud": "heating-api",
            "exp": int(time.time()) + 60,
            "sub": "TF-JYG",
            "heating_role": "task_force",
            "heating_scope": "S-JYG",
            "scope": "openid profile",
        },
        CITY_KEY,
        algorithm="EdDSA",
        headers={"kid": city.kid},
    )
    got = await verifier.verify(token)
    assert got is not None and (got.role, got.sub, got.scope, got.account) == (Role.TASK_FORCE, "TF-JYG", "S-JYG", "")


async def test_token_versions_refuse_older_tokens_and_cache_the_answer() -> None:
    current: dict[str, int | None] = {"heat1": 2}
    asked: list[str] = []

    async def lookup(account: str) -> int | None:
        asked.append(account)
        return current.get(account)

    versions = TokenVersions(lookup, ttl_seconds=30)
    old, new = (UNIT.model_copy(update={"account": "heat1", "token_version": v}) for v in (1, 2))
    assert not await versions.allows(old) and await versions.allows(new)
    assert await versions.allows(UNIT)  # a service token names no account
    current["heat1"] = None  # deactivated
    assert await versions.allows(new) and asked == ["heat1"]  # cached
    versions.forget("heat1")
    assert not await versions.allows(new)
    assert not await TokenVersions(lookup).allows(UNIT.model_copy(update={"account": "ghost"}))


def test_production_refuses_the_dev_keys() -> None:
    strong = "t" * 32
    with pytest.raises(ValueError, match="development key"):
        DispatchSettings(environment="production", photos=REAL_PHOTOS, admin_token=strong)
    real = {"photos": REAL_PHOTOS, "admin_token": strong, "auth_private_key": another_key()}
    with pytest.raises(ValueError, match=r"notify\.alert_token is the development token"):
        DispatchSettings(environment="production", **real)  # what Alertmanager presents to the notifier
    DispatchSettings(environment="production", **real, notify=NotifySettings(alert_token=SecretStr(strong)))
    with pytest.raises(ValueError, match="development key"):
        ServiceSettings(environment="production", photos=REAL_PHOTOS, admin_token=strong, auth_jwks=SIGNER.jwks())
    ServiceSettings(
        environment="production", photos=REAL_PHOTOS, admin_token=strong, auth_jwks=TokenIssuer(another_key()).jwks()
    )


async def test_production_with_an_oidc_provider_alone_never_trusts_the_dev_key() -> None:
    """Only a city's provider configured: a token signed with the repository's dev key (anyone can mint one, admin
    included) is refused, and dispatch's issuer is trusted only when its keys are named."""
    strong = "t" * 32
    oidc = {"auth_oidc_issuer": "https://id.city.example", "auth_oidc_jwks_url": "https://id.city.example/jwks"}
    dev_admin = issue(Principal(role=Role.ADMIN, sub="root"), DEV_AUTH_PRIVATE_KEY)
    for settings_cls in (IntakeSettings, FollowupSettings, ServiceSettings):
        with pytest.raises(ValueError, match="auth_trust_issuer"):  # the intent must be explicit
            settings_cls(environment="production", photos=REAL_PHOTOS, admin_token=strong, **oidc)
        settings = settings_cls(
            environment="production", photos=REAL_PHOTOS, admin_token=strong, auth_trust_issuer=False, **oidc
        )
        verifier = verifier_from_settings(settings)
        assert list(verifier._trusts) == ["https://id.city.example"]
        assert await verifier.verify(dev_admin) is None
        # Even settings that skipped validation never fall back to the dev key outside development and test.
        unchecked = settings_cls.model_construct(
            environment="production", photos=REAL_PHOTOS, admin_token=strong, **oidc
        )
        assert await verifier_from_settings(unchecked).verify(dev_admin) is None
    # Development and test still trust it (the seed and the tests sign with it).
    assert await verifier_from_settings(ServiceSettings(environment="development")).verify(dev_admin) is not None
    with pytest.raises(ValueError, match="no token would be accepted"):
        ServiceSettings(auth_trust_issuer=False)
    with pytest.raises(ValueError, match="both"):
        ServiceSettings(auth_oidc_issuer="https://id.city.example")
    with pytest.raises(ValueError, match="its own tokens"):
        DispatchSettings(auth_trust_issuer=False, **oidc)


def test_a_lockout_doubles_from_the_threshold_up_to_its_cap() -> None:
    policy = Policy(account_after=5, address_after=20, base_seconds=1, max_seconds=900)
    assert [policy.lockout("account:heat1", n) for n in (1, 4, 5, 6, 7, 14, 15, 99)] == [
        None,
        None,
        1,
        2,
        4,
        512,
        900,
        900,
    ]
    assert policy.lockout("address:10.0.0.1", 19) is None and policy.lockout("address:10.0.0.1", 20) == 1


def test_a_client_is_counted_by_its_address_an_ipv6_one_by_its_64() -> None:
    assert keys("heat1", "10.0.0.7") == ["account:heat1", "address:10.0.0.7"]
    assert keys("heat1", "::ffff:10.0.0.7")[1] == "address:10.0.0.7"  # IPv4 mapped into IPv6
    same = {keys("heat1", a)[1] for a in ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe", "2001:DB8:1:2::9")}
    assert same == {"address:2001:db8:1:2::/64"}
    assert keys("heat1", "2001:db8:1:3::1")[1] == "address:2001:db8:1:3::/64"
    assert keys("heat1", "unknown")[1] == "address:unknown"


async def test_dispatch_trusts_its_own_key_without_fetching_it() -> None:
    settings = DispatchSettings(auth_jwks_url="http://127.0.0.1:9/.well-known/jwks.json")  # nothing listens there
    state = dispatch_app(settings).state.context
    assert await state.auth.verifier.verify(state.issuer.issue(UNIT, ttl_seconds=60)) is not None


async def test_a_checked_token_is_remembered_but_never_past_its_expiry_or_the_memory_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    verifier = verifier_for_jwks(SIGNER.jwks())
    checks = 0
    check = verifier._check

    async def counted(token: str) -> Principal | None:
        nonlocal checks
        checks += 1
        return await check(token)

    monkeypatch.setattr(verifier, "_check", counted)
    token = SIGNER.issue(UNIT, ttl_seconds=600)
    first = await verifier.verify(token)
    assert first is not None and await verifier.verify(token) == first and checks == 1
    # Another token (here: one byte of the signature changed) is its own entry, checked and refused.
    forged = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    assert await verifier.verify(forged) is None and checks == 2
    assert await verifier.verify(forged) is None and checks == 3  # a refusal is never remembered
    # Past the memory window the signature is checked again (a key withdrawn meanwhile would now refuse it).
    clock = time.monotonic() + verifier.REMEMBER_SECONDS + 1
    monkeypatch.setattr("shared.auth.time.monotonic", lambda: clock)
    assert await verifier.verify(token) == first and checks == 4
    # A remembered token past its expiry (and the leeway) is not served from memory: it goes back to the full
    # check, which refuses it once it has truly expired.
    short = SIGNER.issue(UNIT, ttl_seconds=1, now=time.time() - 25)  # expires 6 s from now, leeway 30 s
    assert await verifier.verify(short) is not None and checks == 5
    wall = time.time() + 40
    monkeypatch.setattr("shared.auth.time.time", lambda: wall)
    await verifier.verify(short)
    assert checks == 6
