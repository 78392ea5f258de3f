"""The adapters by channel, and one entry point to check a target of any channel (the admin API's 422s)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.dispatch.notify.channels import dingtalk, sms, webhook, wecom
from services.dispatch.notify.channels.base import Channel, ChannelKind
from services.dispatch.notify.channels.sms import AliyunSms, SmsChannel, SmsConfig

Validator = Callable[..., dict[str, Any]]
VALIDATORS: dict[ChannelKind, Validator] = {
    ChannelKind.WECOM: wecom.validate_target,
    ChannelKind.DINGTALK: dingtalk.validate_target,
    ChannelKind.SMS: sms.validate_target,
    ChannelKind.WEBHOOK: webhook.validate_target,
}


def adapters(sms_config: SmsConfig | None) -> dict[ChannelKind, Channel]:
    """Every channel this deployment can send on: SMS only when a provider account is configured (without one
    there is no SMS adapter, and the delivery job decides what a row for SMS becomes)."""
    out: dict[ChannelKind, Channel] = {
        ChannelKind.WECOM: wecom.WecomRobot(),
        ChannelKind.DINGTALK: dingtalk.DingtalkRobot(),
        ChannelKind.WEBHOOK: webhook.UnitWebhook(),
    }
    if sms_config is not None:
        out[ChannelKind.SMS] = SmsChannel(AliyunSms(sms_config))
    return out


def validate_target(kind: ChannelKind, target: Any, *, allow_insecure_local: bool = False) -> dict[str, Any]:
    """The target as stored, or ``TargetRefused`` (a ``ValueError``) naming the field and why."""
    return VALIDATORS[kind](target, allow_insecure_local=allow_insecure_local)
