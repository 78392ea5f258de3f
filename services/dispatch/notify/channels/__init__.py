"""Channel adapters: how one message reaches one target on one channel (企业微信/钉钉 group robots, SMS, a unit's own
system by signed webhook). Each renders a ``Message`` into its wire format and reads the receiver's answer into a
``Sent``; none keeps state — retries, ordering, digests and rate limits are the delivery job's."""

from services.dispatch.notify.channels.base import Channel, ChannelKind, Message, Outcome, Sent
from services.dispatch.notify.channels.registry import adapters, validate_target
from services.dispatch.notify.channels.sms import SmsConfig
from services.dispatch.notify.channels.targets import TargetRefused

__all__ = [
    "Channel",
    "ChannelKind",
    "Message",
    "Outcome",
    "Sent",
    "SmsConfig",
    "TargetRefused",
    "adapters",
    "validate_target",
]
