"""One POST and what the network did with it, the same for every channel (as the 12345 callbacks map it): a timeout
is TIMEOUT, any other transport failure NETWORK_ERROR; the answer itself is the adapter's to read."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from shared.delivery import Outcome, Sent
from shared.delivery import post as post  # one POST, what the network did as a Sent: the shared machine's
from shared.delivery import post_json as post_json

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


def errcode_answer(
    response: httpx.Response, *, rate_limited: int, wait_seconds: float, refusals: frozenset[int]
) -> Sent:
    """A group robot's answer (企业微信 and 钉钉 both say ``{"errcode": 0, "errmsg": "ok"}``): 0 delivered, the
    robot's too-fast code waits ``wait_seconds``, a refusal a retry will not cure parks, anything else is retried."""
    reply = json_object(response)
    if not 200 <= response.status_code < 300 or reply is None:
        return Sent(Outcome.HTTP_ERROR, f"HTTP {response.status_code}")
    code, errmsg = reply.get("errcode"), short(reply.get("errmsg", ""))
    if code == 0:
        return Sent(Outcome.DELIVERED)
    if code == rate_limited:
        return Sent(Outcome.RATE_LIMITED, f"errcode {code}: {errmsg}", wait_seconds)
    if code in refusals:
        return Sent(Outcome.REJECTED, f"errcode {code}: {errmsg}")
    return Sent(Outcome.HTTP_ERROR, f"errcode {code}: {errmsg}")
