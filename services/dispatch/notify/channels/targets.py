"""Checks of a target (one recipient's configuration on one channel) before it is stored: the admin API turns a
``TargetRefused`` into a 422 that names the field. A target that passed is what the adapters send to, so they do not
check it again on every send.

Rules: a URL is absolute http(s) with a host, and https unless it points at this machine (127.0.0.1, ::1,
localhost) and the caller allows that (the local receiver, tests); a phone is a mainland mobile number (11 digits
starting with 1 — duty phones of units, never residents'); a secret is a non-empty string of at most 200 characters.
Unknown fields are refused so that a misspelt ``secert`` does not silently leave a robot unsigned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_SECRET_CHARS = 200
MAX_URL_CHARS = 2000
MAX_PHONES = 1000  # Aliyun takes up to 1000 numbers in one SendSms
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_MOBILE = re.compile(r"1[0-9]{10}")  # ASCII digits only: fullmatch, no \d (it matches full-width digits)


class TargetRefused(ValueError):
    """A target the channel cannot send to; ``field`` names what is wrong, ``reason`` says why (English)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def only_fields(target: Any, allowed: Iterable[str], required: Iterable[str]) -> dict[str, Any]:
    if not isinstance(target, dict):
        raise TargetRefused("target", "must be an object")
    allowed = set(allowed)
    for name in target:
        if name not in allowed:
            raise TargetRefused(str(name), f"unknown field (allowed: {', '.join(sorted(allowed))})")
    for name in required:
        if target.get(name) is None:
            raise TargetRefused(name, "is required")
    return dict(target)


def url(target: dict[str, Any], field: str, *, allow_insecure_local: bool, query_param: str | None = None) -> str:
    """An absolute http(s) URL (https unless local and allowed); with ``query_param``, the URL must carry it
    non-empty (a robot's ``key`` or ``access_token``)."""
    value = target.get(field)
    if not isinstance(value, str) or not value.strip():
        raise TargetRefused(field, "must be a non-empty string")
    value = value.strip()
    if len(value) > MAX_URL_CHARS:
        raise TargetRefused(field, f"longer than {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError as exc:
        raise TargetRefused(field, f"not a URL ({exc})") from None
    if parts.scheme not in ("https", "http") or not host:
        raise TargetRefused(field, "must be an absolute http(s) URL")
    if parts.scheme == "http" and not (allow_insecure_local and host in LOCAL_HOSTS):
        raise TargetRefused(field, "must be https (plain http only to this machine, where allowed)")
    if query_param is not None and not any(v.strip() for v in parse_qs(parts.query).get(query_param, [])):
        raise TargetRefused(field, f"must carry the {query_param} query parameter")
    return value


def secret(target: dict[str, Any], field: str, *, required: bool) -> str | None:
    value = target.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise TargetRefused(field, "must be a non-empty string")
    if len(value) > MAX_SECRET_CHARS:
        raise TargetRefused(field, f"longer than {MAX_SECRET_CHARS} characters")
    return value


def mobile(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _MOBILE.fullmatch(value):
        raise TargetRefused(field, "must be a mainland mobile number: 11 digits starting with 1")
    return value


def phones(target: dict[str, Any], field: str, *, required: bool) -> list[str]:
    """A list of mainland mobile numbers, repeats dropped (order kept)."""
    value = target.get(field)
    if value is None and not required:
        return []
    if not isinstance(value, list) or not value:
        raise TargetRefused(field, "must be a non-empty list of mobile numbers")
    if len(value) > MAX_PHONES:
        raise TargetRefused(field, f"more than {MAX_PHONES} numbers")
    return list(dict.fromkeys(mobile(p, f"{field}[{i}]") for i, p in enumerate(value)))


def mentions(target: dict[str, Any]) -> dict[str, Any]:
    """A group robot's ``mentions``: the duty phones it @s on an urgent message (absent: nobody is @'d)."""
    found = phones(target, "mentions", required=False)
    return {"mentions": found} if found else {}


def shown(config: dict[str, Any]) -> dict[str, Any]:
    """A stored target as the API shows it: secrets masked; a robot URL's query (its key: whoever holds it can post
    to the group) masked; phone numbers shown as 138****0000."""
    out = dict(config)
    for key in ("secret", "sender_secret"):
        if key in out:
            out[key] = "***"
    if isinstance(out.get("url"), str):
        parts = urlsplit(out["url"])
        out["url"] = f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?***" if parts.query else "")
    for key in ("phones", "mentions"):
        if isinstance(out.get(key), list):
            out[key] = [p[:3] + "****" + p[-4:] for p in out[key]]
    return out
