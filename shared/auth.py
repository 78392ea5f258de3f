"""Bearer tokens: standard JWTs signed with an asymmetric key by the issuer alone.

Dispatch signs (its console login, and the admin tooling with the same key: deploy/seed, the simulator, chaos,
bench, the tests) with an Ed25519 private key (``alg: EdDSA``) and publishes the public half at
``GET /.well-known/jwks.json``. Intake and follow-up hold only the public key set (``*_AUTH_JWKS`` or
``*_AUTH_JWKS_URL``): they can check a token, never make one. An external OIDC provider (a city's unified identity)
may be trusted beside it (``*_AUTH_OIDC_ISSUER`` + ``*_AUTH_OIDC_JWKS_URL``).

Claims: ``iss``, ``aud``, ``exp``, ``iat``, ``sub`` (grid worker id, unit id, …), ``role``, ``scope`` (grid,
street or district id); a login token also carries ``acct`` (the console account) and ``ver`` (the account's
token version), which every service checks against what it knows of the account (``TokenVersions``), so a
deactivated account or a changed password ends its tokens within the cache window. Tokens without ``acct`` (the
long-lived tokens the admin tooling mints for systems and demos) cannot be revoked one by one: they end at their
``exp`` or when the signing key is replaced.

Only asymmetric algorithms are accepted, and only the one of the key a token names (``kid``): ``alg: none``, an
HS256 token "signed" with the public key, or a key the service does not know are all refused.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import HTTPException, status
from jwt.algorithms import OKPAlgorithm
from pydantic import BaseModel, ConfigDict, ValidationError

from shared.settings import DEV_AUTH_PUBLIC_JWK, ServiceSettings

log = logging.getLogger(__name__)

# What the services accept: signatures made with a private key. HS* (a shared secret) and none never.
ASYMMETRIC_ALGORITHMS = ("EdDSA", "ES256", "ES384", "RS256", "PS256")
DEFAULT_ISSUER = "heating-dispatch"
DEFAULT_AUDIENCE = "heating-api"


class Role(StrEnum):
    GRID_WORKER = "grid_worker"  # 网格员
    UNIT = "unit"  # 责任单位 dispatcher
    TASK_FORCE = "task_force"  # 街道工作专班
    DISTRICT = "district"  # 区住建局 / 12345 督办
    ADMIN = "admin"


class Principal(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: Role
    sub: str = ""  # grid worker id, unit id, ...
    scope: str = ""  # grid id for a grid worker, street id for a task force, district id for a district
    exp: int = 0
    account: str = ""  # the console account a login token was issued to; "" for a service token
    token_version: int = 0  # the account's token version at login


# -- keys --------------------------------------------------------------------------------------------------


def key_id(public_jwk: Mapping[str, Any]) -> str:
    """RFC 7638 thumbprint (SHA-256, base64url) of a public JWK: a stable ``kid`` derived from the key itself."""
    required = {"OKP": ("crv", "kty", "x"), "EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}
    members = {k: public_jwk[k] for k in required[str(public_jwk["kty"])]}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _public_jwk(private: Ed25519PrivateKey) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(OKPAlgorithm.to_jwk(private.public_key()))
    jwk.update(kid=key_id(jwk), alg="EdDSA", use="sig")
    return jwk


def load_private_key(text: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM (PKCS#8) or a private JWK (JSON with ``d``)."""
    text = text.strip()
    key: Any
    if text.startswith("{"):
        key = OKPAlgorithm.from_jwk(text)
    else:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the signing key must be an Ed25519 private key")
    return key


class TokenIssuer:
    """Holds the private key: only dispatch and the admin tooling build one."""

    def __init__(self, private_key: str, *, issuer: str = DEFAULT_ISSUER, audience: str = DEFAULT_AUDIENCE) -> None:
        self._key = load_private_key(private_key)
        self.public_jwk = _public_jwk(self._key)
        self.kid: str = self.public_jwk["kid"]
        self.issuer = issuer
        self.audience = audience

    def jwks(self) -> dict[str, Any]:
        """The public key set to publish."""
        return {"keys": [self.public_jwk]}

    def issue(
        self, principal: Principal, *, ttl_seconds: int, account: str = "", token_version: int = 0, now: float = 0
    ) -> str:
        at = int(now or time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "iat": at,
            "exp": at + ttl_seconds,
            "sub": principal.sub,
            "role": principal.role.value,
            "scope": principal.scope,
        }
        if account:
            claims.update(acct=account, ver=token_version)
        return jwt.encode(claims, self._key, algorithm="EdDSA", headers={"kid": self.kid})


def issue(
    principal: Principal,
    private_key: str,
    *,
    ttl_seconds: int = 365 * 24 * 3600,
    issuer: str = DEFAULT_ISSUER,
    audience: str = DEFAULT_AUDIENCE,
) -> str:
    """A service token (no account) signed with ``private_key``: what the admin tooling and the tests mint."""
    return TokenIssuer(private_key, issuer=issuer, audience=audience).issue(principal, ttl_seconds=ttl_seconds)


# -- verification ------------------------------------------------------------------------------------------


class KeySet:
    """Public keys by ``kid``, from a JWKS document. A remote set (``url``) is fetched on first use, again when a
    token names a ``kid`` it does not hold (a rotated key), at most every ``min_refresh_seconds``, and otherwise
    kept for ``max_age_seconds``."""

    def __init__(
        self,
        jwks: Mapping[str, Any] | None = None,
        *,
        url: str | None = None,
        max_age_seconds: float = 3600.0,
        min_refresh_seconds: float = 10.0,
        fetch: Callable[[str], Awaitable[Mapping[str, Any]]] | None = None,
    ) -> None:
        self.url = url
        self._keys: dict[str, tuple[Any, str]] = {}
        self._fetched_at = -1e18
        self._tried_at = -1e18
        self._max_age = max_age_seconds
        self._min_refresh = min_refresh_seconds
        self._fetch = fetch or _get_json
        if jwks is not None:
            self._load(jwks)

    def _load(self, jwks: Mapping[str, Any]) -> None:
        keys: dict[str, tuple[Any, str]] = {}
        for jwk in jwks.get("keys", []):
            if "d" in jwk:
                raise ValueError("a verifier's key set must hold public keys only")
            alg = jwk.get("alg") or {"OKP": "EdDSA", "EC": "ES256"}.get(jwk.get("kty", ""), "RS256")
            if alg not in ASYMMETRIC_ALGORITHMS:
                continue
            kid = jwk.get("kid") or key_id(jwk)
            keys[kid] = (jwt.PyJWK(dict(jwk), algorithm=alg).key, alg)
        self._keys = keys

    async def get(self, kid: str) -> tuple[Any, str] | None:
        if self.url is not None:
            now = time.monotonic()
            stale = now - self._fetched_at > self._max_age
            if (stale or kid not in self._keys) and now - self._tried_at >= self._min_refresh:
                self._tried_at = now
                try:
                    self._load(await self._fetch(self.url))
                    self._fetched_at = now
                except Exception as exc:
                    log.warning("public key set could not be fetched", extra={"url": self.url, "error": repr(exc)})
        return self._keys.get(kid)

    @property
    def kids(self) -> list[str]:
        return list(self._keys)


async def _get_json(url: str) -> Mapping[str, Any]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        r = await client.get(url)
        r.raise_for_status()
        body: Mapping[str, Any] = r.json()
        return body


@dataclass(frozen=True)
class Trust:
    """One issuer whose tokens a service accepts, its keys, and which claims say the role, subject and scope (an
    external OIDC provider names them as the city's identity service does, e.g. ``heating_role``)."""

    issuer: str
    keys: KeySet
    audience: str = DEFAULT_AUDIENCE
    role_claim: str = "role"
    sub_claim: str = "sub"
    scope_claim: str = "scope"


class TokenVerifier:
    """Checks tokens against public keys only: a service holding one cannot mint."""

    # A token checked once is taken at its word again for this long (and never past its ``exp``): a phone sends the
    # same token with every request, and an Ed25519 check plus two JSON decodes is a tenth of a one-tap report's
    # work. Short, so a key withdrawn from the key set stops being honoured within it; revocation per account
    # (``TokenVersions``) is asked on every request regardless.
    REMEMBER_SECONDS = 60.0
    REMEMBER_MAX = 10_000

    def __init__(self, trusts: Sequence[Trust], *, leeway_seconds: int = 30) -> None:
        self._trusts = {t.issuer: t for t in trusts}
        self._leeway = leeway_seconds
        self._verified: dict[str, tuple[float, Principal]] = {}  # token → (checked at, monotonic; its principal)

    async def verify(self, token: str) -> Principal | None:
        now = time.monotonic()
        hit = self._verified.get(token)
        if hit is not None and now - hit[0] < self.REMEMBER_SECONDS and time.time() < hit[1].exp + self._leeway:
            return hit[1]
        principal = await self._check(token)
        if principal is not None:
            if len(self._verified) >= self.REMEMBER_MAX:
                self._verified.clear()
            self._verified[token] = (now, principal)
        return principal

    async def _check(self, token: str) -> Principal | None:
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None
        trust = self._trusts.get(str(claims.get("iss", "")))
        kid = header.get("kid")
        if trust is None or not isinstance(kid, str):
            return None
        found = await trust.keys.get(kid)
        if found is None:
            return None
        key, alg = found
        if header.get("alg") != alg:
            return None  # the key decides the algorithm, never the token (no HS256 with a public key, no none)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=trust.audience,
                issuer=trust.issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
            return Principal(
                role=Role(str(claims.get(trust.role_claim))),
                sub=str(claims.get(trust.sub_claim, "")),
                scope=str(claims.get(trust.scope_claim, "")),
                exp=int(claims["exp"]),
                account=str(claims.get("acct", "")),
                token_version=int(claims.get("ver", 0)),
            )
        except (jwt.PyJWTError, ValueError, TypeError, ValidationError):
            return None


def verifier_for_jwks(
    jwks: Mapping[str, Any] | str, *, issuer: str = DEFAULT_ISSUER, audience: str = DEFAULT_AUDIENCE
) -> TokenVerifier:
    """A verifier trusting one issuer with a fixed key set (what tests and tools need)."""
    doc = json.loads(jwks) if isinstance(jwks, str) else jwks
    return TokenVerifier([Trust(issuer=issuer, keys=KeySet(doc), audience=audience)])


async def verify(token: str, verifier: TokenVerifier) -> Principal | None:
    return await verifier.verify(token)


# -- revocation --------------------------------------------------------------------------------------------

# account → the lowest token version still valid, or None when the account may not act at all.
VersionLookup = Callable[[str], Awaitable[int | None]]


class TokenVersions:
    """Per-account token versions, cached for ``ttl_seconds`` (≤ 30 s): a token whose ``ver`` is below its
    account's current version (or whose account is unknown or deactivated, where the lookup answers None) is
    refused. Dispatch looks in its accounts table; intake and follow-up in the versions dispatch announced
    (``AccountTokensRevoked``)."""

    def __init__(self, lookup: VersionLookup, *, ttl_seconds: float = 30.0) -> None:
        self._lookup = lookup
        self.ttl = ttl_seconds
        self._cache: dict[str, tuple[float, int | None]] = {}

    async def allows(self, principal: Principal) -> bool:
        if not principal.account:
            return True  # a service token: not revocable per account
        now = time.monotonic()
        hit = self._cache.get(principal.account)
        if hit is None or now - hit[0] >= self.ttl:
            hit = (now, await self._lookup(principal.account))
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[principal.account] = hit
        current = hit[1]
        return current is not None and principal.token_version >= current

    def forget(self, account: str) -> None:
        self._cache.pop(account, None)


@dataclass
class Auth:
    """How ``bearer`` checks a token (the service context's ``auth``, shared.http.context)."""

    verifier: TokenVerifier
    versions: TokenVersions | None = None


def unauthenticated(field: str = "Authorization", message: str = "未登录或令牌无效") -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail={"code": "unauthenticated", "message": message, "field": field},
        headers={"WWW-Authenticate": "Bearer"},
    )


def require(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail={"code": "forbidden", "message": "无权执行此操作", "field": "Authorization"},
        )


def verifier_from_settings(settings: ServiceSettings, *, own_jwks: Mapping[str, Any] | None = None) -> TokenVerifier:
    """The trusts a service's settings name (``shared.settings.ServiceSettings``): the issuer's key set (given,
    fetched from a URL, the issuer's own public keys, or in development and test only the dev key), and an OIDC
    provider. Outside development and test the dev key is never trusted: with no key set named, the issuer's tokens
    are not trusted at all (production settings refuse that unless ``auth_trust_issuer`` is false)."""
    trusts: list[Trust] = []
    if settings.auth_trust_issuer:
        keys: KeySet | None = None
        if settings.auth_jwks_url and own_jwks is None:  # the issuer itself never fetches its own keys
            keys = KeySet(settings.auth_jwks, url=settings.auth_jwks_url)
        else:
            doc = {"keys": [*(own_jwks or {}).get("keys", []), *(settings.auth_jwks or {}).get("keys", [])]}
            if not doc["keys"] and settings.trusts_dev_key:
                doc = {"keys": [DEV_AUTH_PUBLIC_JWK]}
            if doc["keys"]:
                keys = KeySet(doc)
        if keys is not None:
            trusts.append(Trust(issuer=settings.auth_issuer, keys=keys, audience=settings.auth_audience))
    if settings.auth_oidc_issuer and settings.auth_oidc_jwks_url:
        trusts.append(
            Trust(
                issuer=settings.auth_oidc_issuer,
                keys=KeySet(url=settings.auth_oidc_jwks_url),
                audience=settings.auth_oidc_audience,
                role_claim=settings.auth_oidc_role_claim,
                sub_claim=settings.auth_oidc_sub_claim,
                scope_claim=settings.auth_oidc_scope_claim,
            )
        )
    return TokenVerifier(trusts)
