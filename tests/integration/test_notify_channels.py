"""Each channel adapter over real HTTP against the local receiver (deploy.notify_receiver) on 127.0.0.1: the
receiver checks the wire format as the providers do, so a message it records is one the provider would take."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from deploy.notify_receiver import (
    DEV_SMS_KEY_ID,
    DEV_SMS_KEY_SECRET,
    DEV_SMS_SIGN_NAME,
    DEV_SMS_TEMPLATE,
    Ear,
    RunningReceiver,
)
from services.dispatch.notify.channels import (
    ChannelKind,
    Message,
    Outcome,
    Sent,
    SmsConfig,
    adapters,
    validate_target,
)

pytestmark = pytest.mark.integration

DING_SECRET = "SECit-dingtalk-secret"
UNIT_SECRET = "it-unit-secret"
MSG = Message(
    key="asg-42:1",
    title="新派单：和平区幸福里 3 号楼",
    lines=("住户反映室温 15℃", "请 24 小时内处理"),
    urgent=True,
    mentions=("13800000001",),
    sms="您单位有新派单（和平区幸福里 3 号楼），请登录平台处理",
    data={"assignment_id": "asg-42", "case_id": "C-1", "title": "新派单"},
)


@dataclass
class Rig:
    ear: Ear
    url: str
    http: httpx.AsyncClient

    def sms_config(self, **changes: object) -> SmsConfig:
        base = {
            "endpoint_url": f"{self.url}/sms/",
            "access_key_id": DEV_SMS_KEY_ID,
            "access_key_secret": SecretStr(DEV_SMS_KEY_SECRET),
            "sign_name": DEV_SMS_SIGN_NAME,
            "template_code": DEV_SMS_TEMPLATE,
        }
        return SmsConfig.model_validate(base | changes)

    def target(self, kind: ChannelKind, name: str = "g1", **extra: object) -> dict[str, Any]:
        raws: dict[ChannelKind, dict[str, Any]] = {
            ChannelKind.WECOM: {"url": f"{self.url}/wecom/send?key={name}"},
            ChannelKind.DINGTALK: {"url": f"{self.url}/dingtalk/robot/send?access_token={name}", "secret": DING_SECRET},
            ChannelKind.SMS: {"phones": ["13800000001", "13900000002"]},
            ChannelKind.WEBHOOK: {"url": f"{self.url}/webhook/{name}", "secret": UNIT_SECRET},
        }
        return validate_target(kind, raws[kind] | extra, allow_insecure_local=True)

    async def send(self, kind: ChannelKind, target: dict[str, Any], message: Message = MSG, **sms: object) -> Sent:
        channel = adapters(self.sms_config(**sms))[kind]
        return await channel.send(self.http, target, message)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    ear = Ear(dingtalk_default_secret=DING_SECRET, webhook_default_secret=UNIT_SECRET)
    async with RunningReceiver(ear) as url, httpx.AsyncClient(timeout=5) as http:
        yield Rig(ear, url, http)


@pytest.mark.parametrize("kind", list(ChannelKind))
async def test_each_channel_is_delivered_and_recorded_as_sent(rig: Rig, kind: ChannelKind) -> None:
    sent = await rig.send(kind, rig.target(kind))
    assert sent.outcome is Outcome.DELIVERED, (sent, rig.ear.refused)
    heard = (await rig.http.get(f"{rig.url}/heard", params={"kind": kind.value})).json()["heard"]
    assert len(heard) == 1
    message = heard[0]["message"]
    if kind is ChannelKind.WECOM:  # @s by phone: one text message
        assert message["msgtype"] == "text" and message["mentions"] == ["13800000001"]
        assert message["content"].startswith("【紧急】新派单：和平区幸福里 3 号楼\n住户反映室温 15℃")
    elif kind is ChannelKind.DINGTALK:
        assert message["title"] == "【紧急】新派单：和平区幸福里 3 号楼"
        assert message["mentions"] == ["13800000001"] and message["silent_mentions"] == []
    elif kind is ChannelKind.SMS:
        assert message == {"phones": ["13800000001", "13900000002"], "content": MSG.sms, "out_id": "asg-42:1"}
    else:
        assert message["data"] == MSG.data and message["delivery"] == "asg-42:1"
        assert message["sender"] == "heating-dispatch"


async def test_wecom_markdown_at_the_byte_limit_passes_the_receivers_size_check(rig: Rig) -> None:
    long = Message(key="k", title="每日汇总", lines=tuple(f"第{i}条：幸福里小区室温不达标" for i in range(500)))
    assert (await rig.send(ChannelKind.WECOM, rig.target(ChannelKind.WECOM), long)).outcome is Outcome.DELIVERED
    content = rig.ear.heard[0]["message"]["content"]
    assert rig.ear.heard[0]["message"]["msgtype"] == "markdown"
    assert 4000 < len(content.encode()) <= 4096 and content.endswith("（共 500 条，余见控制台）")


async def test_a_wrong_dingtalk_secret_is_rejected_by_the_receiver(rig: Rig) -> None:
    sent = await rig.send(ChannelKind.DINGTALK, rig.target(ChannelKind.DINGTALK, secret="SECnot-the-one"))
    assert sent.outcome is Outcome.REJECTED
    assert sent.error is not None and "310000" in sent.error
    assert rig.ear.heard == [] and rig.ear.refused[-1]["reason"] == "sign not match"


async def test_an_unsigned_message_to_a_signing_robot_is_rejected(rig: Rig) -> None:
    target = validate_target(ChannelKind.DINGTALK, {"url": f"{rig.url}/dingtalk/robot/send?access_token=g1"},
                             allow_insecure_local=True)  # fmt: skip
    assert (await rig.send(ChannelKind.DINGTALK, target)).outcome is Outcome.REJECTED


async def test_a_wrong_sms_access_key_secret_is_rejected(rig: Rig) -> None:
    sent = await rig.send(ChannelKind.SMS, rig.target(ChannelKind.SMS), access_key_secret=SecretStr("wrong"))
    assert sent.outcome is Outcome.REJECTED and sent.error is not None and "SignatureDoesNotMatch" in sent.error
    sent = await rig.send(ChannelKind.SMS, rig.target(ChannelKind.SMS), template_code="SMS_OTHER")
    assert sent.outcome is Outcome.REJECTED and sent.error is not None and "isv.SMS_TEMPLATE_ILLEGAL" in sent.error


async def test_a_wrong_webhook_secret_is_rejected_by_the_receivers_signature_check(rig: Rig) -> None:
    sent = await rig.send(ChannelKind.WEBHOOK, rig.target(ChannelKind.WEBHOOK, secret="not-the-units"))
    assert (sent.outcome, sent.error) == (Outcome.REJECTED, "HTTP 401")
    assert rig.ear.heard == []


async def test_a_repeated_webhook_delivery_is_acknowledged_and_recorded_once(rig: Rig) -> None:
    target = rig.target(ChannelKind.WEBHOOK)
    for _ in range(2):
        assert (await rig.send(ChannelKind.WEBHOOK, target)).outcome is Outcome.DELIVERED
    assert len(rig.ear.heard) == 1 and rig.ear.repeats == 1


@pytest.mark.parametrize(
    ("kind", "retry"), [(ChannelKind.WECOM, 60.0), (ChannelKind.DINGTALK, 600.0), (ChannelKind.SMS, 60.0)]
)
async def test_the_receivers_rate_limit_is_rate_limited_with_a_wait(rig: Rig, kind: ChannelKind, retry: float) -> None:
    rig.ear.per_minute[kind.value] = 2
    target = rig.target(kind)
    outcomes = [(await rig.send(kind, target)).outcome for _ in range(2)]
    assert outcomes == [Outcome.DELIVERED, Outcome.DELIVERED]
    sent = await rig.send(kind, target)
    assert (sent.outcome, sent.retry_after_seconds) == (Outcome.RATE_LIMITED, retry)
    assert len(rig.ear.heard) == 2


async def test_a_webhook_429_carries_its_retry_after(rig: Rig) -> None:
    rig.ear.per_minute["webhook"], rig.ear.webhook_retry_after = 1, 17
    target = rig.target(ChannelKind.WEBHOOK)
    assert (await rig.send(ChannelKind.WEBHOOK, target)).outcome is Outcome.DELIVERED
    sent = await rig.send(ChannelKind.WEBHOOK, target, Message(key="asg-42:2", title="t"))
    assert (sent.outcome, sent.retry_after_seconds) == (Outcome.RATE_LIMITED, 17.0)


@pytest.mark.parametrize("kind", list(ChannelKind))
async def test_a_receiver_that_is_down_is_an_http_error_and_up_again_delivers(rig: Rig, kind: ChannelKind) -> None:
    rig.ear.down(503)
    sent = await rig.send(kind, rig.target(kind))
    assert sent.outcome is Outcome.HTTP_ERROR and sent.error is not None and "503" in sent.error
    rig.ear.up()
    assert (await rig.send(kind, rig.target(kind))).outcome is Outcome.DELIVERED


async def test_a_receiver_that_is_gone_is_a_network_error() -> None:
    receiver = RunningReceiver(Ear())
    url = await receiver.start()
    await receiver.stop()  # the port is closed: a connection is refused
    target = validate_target(ChannelKind.WECOM, {"url": f"{url}/wecom/send?key=g1"}, allow_insecure_local=True)
    async with httpx.AsyncClient(timeout=5) as http:
        sent = await adapters(None)[ChannelKind.WECOM].send(http, target, MSG)
    assert (sent.outcome, sent.error) == (Outcome.NETWORK_ERROR, "ConnectError")


async def test_a_receiver_that_does_not_answer_is_a_timeout(rig: Rig) -> None:
    rig.ear.hang()  # released when the test's receiver stops
    async with httpx.AsyncClient(timeout=0.3) as http:
        sent = await adapters(None)[ChannelKind.WEBHOOK].send(http, rig.target(ChannelKind.WEBHOOK), MSG)
    assert (sent.outcome, sent.error) == (Outcome.TIMEOUT, "timed out")
    assert rig.ear.heard == []
