"""One POST and what the network did with it, the same for every channel (as the 12345 callbacks map it): a timeout
is TIMEOUT, any other transport failure NETWORK_ERROR; the answer itself is the adapter's to read."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from services.dispatch.notify.channels.base import Outcome, Sent

MAX_ERROR_CHARS = 300


async def post(client: httpx.AsyncClient, url: str | httpx.URL, **kwargs: Any) -> httpx.Response | Sent:
    """The response, or the ``Sent`` of a failure before one arrived. Never raises for the network."""
    try:
        return await client.post(url, **kwargs)
    except httpx.TimeoutException:
        return Sent(Outcome.TIMEOUT, "timed out")
    except (httpx.HTTPError, OSError) as exc:
        return Sent(Outcome.NETWORK_ERROR, type(exc).__name__)


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
