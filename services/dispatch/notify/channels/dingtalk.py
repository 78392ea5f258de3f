"""钉钉群机器人: ``POST <webhook url>`` (``https://oapi.dingtalk.com/robot/send?access_token=…``) with JSON.

Signed (加签) when the target has a ``secret`` (``SEC…``): query parameters ``timestamp`` (Unix milliseconds, within
an hour of DingTalk's clock) and ``sign`` = URL-encoded Base64 of HMAC-SHA256 keyed with the secret over
``timestamp + "\\n" + secret``, as DingTalk documents. The body is a ``markdown`` message (``title`` is what the
notification list shows; ``text`` the heading and lines, at most 20000 bytes here) and ``at.atMobiles`` lists the
duty phones — DingTalk rings them only where the text also carries ``@<phone>``, so the text ends with them.

The answer is ``{"errcode": …, "errmsg": …}``: 0 delivered; 130101 (sent too fast: over 20 a minute, and DingTalk
then throttles the robot for 10 minutes) rate limited; 310000 (signature, keyword or IP check failed) and 300001
(no such access token) refused; any other code an HTTP error with its errmsg.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import httpx

from services.dispatch.notify.channels import render, targets
from services.dispatch.notify.channels.base import ChannelKind, Message, Sent
from services.dispatch.notify.channels.transport import errcode_answer, post_json

TEXT_LIMIT = 20_000
URGENT_TAG = f"【{render.URGENT}】"
RATE_LIMITED = 130101
RATE_LIMIT_RETRY_SECONDS = 600.0  # DingTalk holds a robot that sent too fast for 10 minutes
REFUSALS = frozenset({310000, 300001})


def validate_target(target: Any, *, allow_insecure_local: bool = False) -> dict[str, Any]:
    """``{"url": <webhook URL with access_token>, "secret": "SEC…" (optional), "mentions": [duty phones @'d on an
    urgent message] (optional)}``."""
    checked = targets.only_fields(target, ("url", "secret", "mentions"), ("url",))
    out: dict[str, Any] = {
        "url": targets.url(checked, "url", allow_insecure_local=allow_insecure_local, query_param="access_token")
    }
    secret = targets.secret(checked, "secret", required=False)
    if secret is not None:
        out["secret"] = secret
    return out | targets.mentions(checked)


def sign(secret: str, timestamp_ms: int) -> str:
    """Base64 of HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}") — not yet URL-encoded (httpx encodes the
    query parameter, which is the ``urlEncode`` step DingTalk names)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signed_params(secret: str, *, now: float | None = None) -> dict[str, str]:
    timestamp_ms = round((now if now is not None else time.time()) * 1000)
    return {"timestamp": str(timestamp_ms), "sign": sign(secret, timestamp_ms)}


def body(message: Message) -> dict[str, Any]:
    text = render.markdown(message, urgent_tag=URGENT_TAG, limit=TEXT_LIMIT, mentions=message.mentions)
    title = f"{URGENT_TAG}{message.title}" if message.urgent else message.title
    return {
        "msgtype": "markdown",
        "markdown": {"title": render.cut_utf8(title, 200), "text": text},
        "at": {"atMobiles": [*message.mentions], "isAtAll": False},
    }


def answer(response: httpx.Response) -> Sent:
    return errcode_answer(response, rate_limited=RATE_LIMITED, wait_seconds=RATE_LIMIT_RETRY_SECONDS, refusals=REFUSALS)


class DingtalkRobot:
    kind = ChannelKind.DINGTALK

    async def send(self, client: httpx.AsyncClient, target: dict[str, Any], message: Message) -> Sent:
        url = httpx.URL(target["url"])
        if target.get("secret"):  # added to the access_token already in the URL (httpx's params= would replace it)
            url = url.copy_merge_params(signed_params(target["secret"]))
        response = await post_json(client, url, body(message))
        return response if isinstance(response, Sent) else answer(response)
