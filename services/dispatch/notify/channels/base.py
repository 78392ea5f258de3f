"""What every channel adapter takes and answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import httpx

from shared.delivery import Outcome as Outcome  # what one try came to: the shared delivery machine's
from shared.delivery import Sent as Sent


class ChannelKind(StrEnum):
    WECOM = "wecom"  # 企业微信群机器人
    DINGTALK = "dingtalk"  # 钉钉群机器人
    SMS = "sms"  # 短信 (through a provider's HTTP API)
    WEBHOOK = "webhook"  # a unit's own system, signed like the 12345 callbacks


@dataclass(frozen=True)
class Message:
    """One message to one target, already rendered from a template (or a digest of several).

    ``title`` and ``lines`` are what people read (Chinese); ``mentions`` are duty phone numbers a group robot @s
    (units' contacts only, never residents'); ``data`` is the structured payload a unit's own system receives by
    webhook; ``key`` identifies the delivery (the receiver drops a repeat); ``sms`` is the short text an SMS carries.
    """

    key: str
    title: str
    lines: tuple[str, ...] = ()
    urgent: bool = False
    mentions: tuple[str, ...] = ()
    sms: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class Channel(Protocol):
    kind: ChannelKind

    async def send(self, client: httpx.AsyncClient, target: dict[str, Any], message: Message) -> Sent:
        """Send ``message`` to ``target`` (the channel's own configuration of one recipient: a robot's webhook URL
        and secret, phone numbers, a system's URL and secret). Never raises for what the network or receiver did:
        every failure is a ``Sent`` with its outcome and a short error."""
        ...
