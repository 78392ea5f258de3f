"""A unit's own system: ``POST <url>`` with ``message.data`` as compact JSON, signed as the 12345 callbacks are
(``shared.signing``: ``X-Heat-Integration`` = the sender, ``X-Heat-Timestamp``, ``X-Heat-Signature``) and named by
``X-Heat-Delivery: <message key>`` so the system drops a repeat (delivery is at least once).

The answer is read by HTTP status: 2xx delivered; 429 rate limited (after ``Retry-After`` seconds, if it says);
408 and 5xx an HTTP error worth retrying; any other 4xx a refusal of the message itself.
"""

from __future__ import annotations

from typing import Any

import httpx

from services.dispatch.notify.channels import targets
from services.dispatch.notify.channels.base import ChannelKind, Message, Outcome, Sent
from services.dispatch.notify.channels.transport import retry_after_seconds
from shared.delivery import post_signed

DEFAULT_SENDER = "heating-dispatch"
MAX_SENDER_CHARS = 64


def validate_target(target: Any, *, allow_insecure_local: bool = False) -> dict[str, Any]:
    """``{"url": …, "secret": …, "sender": "heating-dispatch" (optional)}``."""
    checked = targets.only_fields(target, ("url", "secret", "sender"), ("url", "secret"))
    sender = checked.get("sender", DEFAULT_SENDER)
    if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER_CHARS or not sender.isascii():
        raise targets.TargetRefused("sender", f"must be non-empty ASCII of at most {MAX_SENDER_CHARS} characters")
    return {
        "url": targets.url(checked, "url", allow_insecure_local=allow_insecure_local),
        "secret": targets.secret(checked, "secret", required=True),
        "sender": sender.strip(),
    }


def answer(response: httpx.Response) -> Sent:
    status = response.status_code
    if 200 <= status < 300:
        return Sent(Outcome.DELIVERED)
    if status == 429:
        return Sent(Outcome.RATE_LIMITED, "HTTP 429", retry_after_seconds(response))
    if 400 <= status < 500 and status != 408:
        return Sent(Outcome.REJECTED, f"HTTP {status}")
    return Sent(Outcome.HTTP_ERROR, f"HTTP {status}")


class UnitWebhook:
    kind = ChannelKind.WEBHOOK

    async def send(self, client: httpx.AsyncClient, target: dict[str, Any], message: Message) -> Sent:
        sender = target.get("sender") or DEFAULT_SENDER
        response = await post_signed(
            client, target["url"], message.data, sender=sender, secret=target["secret"], delivery=message.key
        )
        return response if isinstance(response, Sent) else answer(response)
