"""One POST and what the network did with it, the same for every channel (as the 12345 callbacks map it): a timeout
is TIMEOUT, any other transport failure NETWORK_ERROR; the answer itself is the adapter's to read."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from shared.delivery import post as post  # one POST, what the network did as a Sent: the shared machine's

MAX_ERROR_CHARS = 300


def json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def short(text: object) -> str:
    return str(text)[:MAX_ERROR_CHARS]


def retry_after_seconds(response: httpx.Response, *, default: float | None = None) -> float | None:
    """``Retry-After`` as seconds (a number of seconds or an HTTP date), else ``default``."""
    raw = response.headers.get("retry-after", "").strip()
    if raw.isascii() and raw.isdigit():
        return float(raw)
    if raw:
        try:
            return max(0.0, parsedate_to_datetime(raw).timestamp() - time.time())
        except (TypeError, ValueError):
            pass
    return default
