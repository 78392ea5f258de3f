"""企业微信群机器人: ``POST <webhook url>`` (``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…``) with JSON.

What is sent: a ``markdown`` message (``### title``, urgent ones tagged ``<font color="warning">紧急</font>``, the
lines below), at most 4096 UTF-8 bytes of content. WeCom's markdown cannot @ anyone by phone number; only its
``text`` message can (``mentioned_mobile_list``). So a message with ``mentions`` goes as ONE ``text`` message
(plain, at most 2048 bytes, the @s in ``mentioned_mobile_list``) instead of markdown: an @ that makes a duty phone
ring matters more than bold type, and one request keeps one outcome — a markdown followed by a second text message
could be half delivered, and a retry would post the markdown twice.

The answer is HTTP 200 with ``{"errcode": …, "errmsg": …}``: 0 delivered; 45009 (the robot's 20 messages a minute
spent) rate limited, try again in 60 s; 93000 (invalid webhook URL: no such key), 40008 (invalid message type),
40058 (an invalid parameter, such as content over its length) and 44004 (empty content) are refusals a retry will
not cure; any other code is an HTTP error with its errmsg.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from services.dispatch.notify.channels import render, targets
from services.dispatch.notify.channels.base import ChannelKind, Message, Outcome, Sent
from services.dispatch.notify.channels.transport import json_object, post, short

MARKDOWN_LIMIT = 4096
TEXT_LIMIT = 2048
URGENT_TAG = f'<font color="warning">{render.URGENT}</font>'
RATE_LIMITED = 45009
RATE_LIMIT_RETRY_SECONDS = 60.0
REFUSALS = frozenset({93000, 40008, 40058, 44004})


def validate_target(target: Any, *, allow_insecure_local: bool = False) -> dict[str, Any]:
    """``{"url": <webhook URL with key>, "mentions": [duty phones @'d on an urgent message] (optional)}``."""
    checked = targets.only_fields(target, ("url", "mentions"), ("url",))
    url = targets.url(checked, "url", allow_insecure_local=allow_insecure_local, query_param="key")
    return {"url": url} | targets.mentions(checked)


def body(message: Message) -> dict[str, Any]:
    if message.mentions:
        text = {"content": render.plain(message, limit=TEXT_LIMIT), "mentioned_mobile_list": [*message.mentions]}
        return {"msgtype": "text", "text": text}
    content = render.markdown(message, urgent_tag=URGENT_TAG, limit=MARKDOWN_LIMIT)
    return {"msgtype": "markdown", "markdown": {"content": content}}


def answer(response: httpx.Response) -> Sent:
    reply = json_object(response)
    if not 200 <= response.status_code < 300 or reply is None:
        return Sent(Outcome.HTTP_ERROR, f"HTTP {response.status_code}")
    code, errmsg = reply.get("errcode"), short(reply.get("errmsg", ""))
    if code == 0:
        return Sent(Outcome.DELIVERED)
    if code == RATE_LIMITED:
        return Sent(Outcome.RATE_LIMITED, f"errcode {code}: {errmsg}", RATE_LIMIT_RETRY_SECONDS)
    if code in REFUSALS:
        return Sent(Outcome.REJECTED, f"errcode {code}: {errmsg}")
    return Sent(Outcome.HTTP_ERROR, f"errcode {code}: {errmsg}")


class WecomRobot:
    kind = ChannelKind.WECOM

    def validate_target(self, target: Any, *, allow_insecure_local: bool = False) -> dict[str, Any]:
        return validate_target(target, allow_insecure_local=allow_insecure_local)

    async def send(self, client: httpx.AsyncClient, target: dict[str, Any], message: Message) -> Sent:
        raw = json.dumps(body(message), ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        response = await post(client, target["url"], content=raw, headers=headers)
        return response if isinstance(response, Sent) else answer(response)
