"""Signed HTTP between the system and the systems it talks to: 12345 platforms (orders in, status callbacks out) and
units' own systems (assignments out by webhook). One scheme both ways, one definition.

Headers ``X-Heat-Integration`` (who signs: an integration or the system's sender id), ``X-Heat-Timestamp`` (whole
Unix seconds) and ``X-Heat-Signature`` = lowercase hex HMAC-SHA256 with the shared secret over
``timestamp + "." + body`` (for a GET the request path as sent stands for the body). A receiver refuses a timestamp
more than a few minutes off. ``X-Heat-Delivery`` names a delivery (``<stream>:<seq>``) so a receiver drops a repeat.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from shared import inputs

HEADER_INTEGRATION = "X-Heat-Integration"
HEADER_TIMESTAMP = "X-Heat-Timestamp"
HEADER_SIGNATURE = "X-Heat-Signature"
HEADER_DELIVERY = "X-Heat-Delivery"

# 2100-12-31T23:59:59Z: a later timestamp is not one of a clock in service.
MAX_UNIX_SECONDS = 4_133_980_799


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of ``timestamp + "." + body``."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, body), signature.strip().lower())


def timestamp_fresh(timestamp: str, *, now: float, max_skew_seconds: int) -> bool:
    """The timestamp is whole Unix seconds in ASCII digits, within ``max_skew_seconds`` of now, either way."""
    try:
        seconds = inputs.ascii_int(timestamp, low=0, high=MAX_UNIX_SECONDS)
    except inputs.InputRefused:
        return False
    return abs(now - seconds) <= max_skew_seconds


def signed_headers(sender: str, secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """The headers of a signed request, callback or webhook."""
    timestamp = str(int(now if now is not None else time.time()))
    return {HEADER_INTEGRATION: sender, HEADER_TIMESTAMP: timestamp, HEADER_SIGNATURE: sign(secret, timestamp, body)}


def backoff_seconds(attempt: int, *, base: float, cap: float) -> float:
    """Delay before the next try after ``attempt`` failed tries: base, 2·base, 4·base, … up to cap."""
    return float(min(cap, base * 2 ** max(0, attempt - 1)))
