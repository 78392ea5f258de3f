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

from typing import Any

import httpx

from services.dispatch.notify.channels import render, targets
from services.dispatch.notify.channels.base import ChannelKind, Message, Sent
from services.dispatch.notify.channels.transport import errcode_answer, post_json

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
    return errcode_answer(response, rate_limited=RATE_LIMITED, wait_seconds=RATE_LIMIT_RETRY_SECONDS, refusals=REFUSALS)


class WecomRobot:
    kind = ChannelKind.WECOM

    async def send(self, client: httpx.AsyncClient, target: dict[str, Any], message: Message) -> Sent:
        response = await post_json(client, target["url"], body(message))
        return response if isinstance(response, Sent) else answer(response)
