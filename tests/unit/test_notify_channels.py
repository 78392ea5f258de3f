"""Channel adapters without a network: rendering and truncation, the providers' signatures against known vectors,
answer codes to outcomes, target checks. Requests are captured by httpx.MockTransport."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from services.dispatch.notify.channels import (
    ChannelKind,
    Message,
    Outcome,
    TargetRefused,
    adapters,
    dingtalk,
    render,
    sms,
    validate_target,
    webhook,
    wecom,
)
from shared import signing

MSG = Message(key="asg-1:1", title="新派单：幸福里小区 3 号楼室温不达标", lines=("地址：3-2-501", "时限：24 小时"))
SMS_CONFIG = sms.SmsConfig(
    endpoint_url="https://dysmsapi.aliyuncs.com/",
    access_key_id="testId",
    access_key_secret=SecretStr("testSecret"),
    sign_name="供热热线",
    template_code="SMS_1",
)


async def capture(channel: Any, target: dict[str, Any], message: Message, reply: httpx.Response) -> tuple[Any, Any]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return reply

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        sent = await channel.send(client, target, message)
    return sent, seen[0]


# -- rendering ---------------------------------------------------------------------------------------------------


def test_wecom_markdown_has_the_title_as_heading_the_lines_below_and_marks_urgent() -> None:
    body = wecom.body(MSG)
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["content"] == "### 新派单：幸福里小区 3 号楼室温不达标\n地址：3-2-501\n时限：24 小时"
    urgent = wecom.body(Message(key="k", title="催办", urgent=True))["markdown"]["content"]
    assert urgent == '### <font color="warning">紧急</font> 催办'


def test_wecom_with_mentions_sends_one_text_message_that_ats_the_phones() -> None:
    body = wecom.body(Message(key="k", title="督办", lines=("请今日处理",), urgent=True, mentions=("13800000001",)))
    assert body == {
        "msgtype": "text",
        "text": {"content": "【紧急】督办\n请今日处理", "mentioned_mobile_list": ["13800000001"]},
    }


def test_truncation_keeps_whole_lines_within_the_byte_limit_and_says_how_many_there_were() -> None:
    lines = tuple(f"第{i}条：供热温度不达标，住户反映室温十五度" for i in range(300))  # ~60 bytes each, 3-byte chars
    content = wecom.body(Message(key="k", title="每日汇总", lines=lines))["markdown"]["content"]
    raw = content.encode()
    assert len(raw) <= wecom.MARKDOWN_LIMIT
    assert len(raw) > wecom.MARKDOWN_LIMIT - 80  # filled, not cut early
    assert content.endswith("\n…（共 300 条，余见控制台）")
    kept = content.split("\n")[1:-1]
    assert kept == list(lines[: len(kept)])  # whole lines, in order
    raw.decode()  # strict: no broken character


@pytest.mark.parametrize("limit", range(45, 120))
def test_a_single_long_line_is_cut_on_a_character_boundary(limit: int) -> None:
    text = render.fit("标题", ["暖" * 100], limit)
    assert len(text.encode()) <= limit
    assert text.startswith("标题")
    assert text.endswith("…（共 1 条，余见控制台）")


def test_cut_utf8_never_splits_a_character() -> None:
    assert render.cut_utf8("供热", 5) == "供"  # 3 + 2 bytes of the second: dropped
    assert render.cut_utf8("供热", 6) == "供热"
    assert render.cut_utf8("a供", 3) == "a"


def test_dingtalk_body_ats_the_phones_in_the_text_too_and_keeps_them_when_cut() -> None:
    lines = tuple("长" * 1000 for _ in range(10))
    message = Message(key="k", title="通报", lines=lines, urgent=True, mentions=("13800000001", "13900000002"))
    body = dingtalk.body(message)
    text = body["markdown"]["text"]
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "【紧急】通报"
    assert body["at"] == {"atMobiles": ["13800000001", "13900000002"], "isAtAll": False}
    assert len(text.encode()) <= dingtalk.TEXT_LIMIT
    assert text.endswith("…（共 10 条，余见控制台）\n@13800000001 @13900000002")


# -- signatures --------------------------------------------------------------------------------------------------


def test_dingtalk_sign_matches_a_vector_computed_outside_python() -> None:
    # printf '1700000000000\nSECtest-secret' | openssl dgst -sha256 -hmac 'SECtest-secret' -binary | base64
    assert dingtalk.sign("SECtest-secret", 1_700_000_000_000) == "LC7hxZ4wslL+P7j7gu1hoQ+wzByekL+yWgiUMekZs0g="


async def test_dingtalk_send_puts_timestamp_and_url_encoded_sign_in_the_query(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("services.dispatch.notify.channels.dingtalk.time.time", lambda: 1_700_000_000.0)
    target = {"url": "https://oapi.dingtalk.com/robot/send?access_token=T1", "secret": "SECtest-secret"}
    reply = httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})
    sent, request = await capture(dingtalk.DingtalkRobot(), target, MSG, reply)
    assert sent.outcome is Outcome.DELIVERED
    query = urlsplit(str(request.url)).query
    assert "access_token=T1" in query and "timestamp=1700000000000" in query
    assert "sign=LC7hxZ4wslL%2BP7j7gu1hoQ%2BwzByekL%2ByWgiUMekZs0g%3D" in query  # + / = encoded, never a space


def test_aliyun_signature_matches_the_sms_documentation_example() -> None:
    # Alibaba Cloud SMS "签名机制" example (GET, AccessKeySecret testSecret).
    params = {
        "AccessKeyId": "testId",
        "Action": "SendSms",
        "Format": "XML",
        "OutId": "123",
        "PhoneNumbers": "15300000001",
        "RegionId": "cn-hangzhou",
        "SignName": "阿里云短信测试专用",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "SignatureVersion": "1.0",
        "TemplateCode": "SMS_71390007",
        "TemplateParam": '{"customer":"test"}',
        "Timestamp": "2017-07-12T02:42:19Z",
        "Version": "2017-05-25",
    }
    assert sms.string_to_sign("GET", params).startswith(
        "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123%26PhoneNumbers%3D15300000001"
        "%26RegionId%3Dcn-hangzhou%26SignName%3D%25E9%2598%25BF%25E9%2587%258C"
    )
    assert sms.signature("GET", params, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert sms.signature("GET", params | {"Signature": "ignored"}, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_aliyun_signature_matches_the_rpc_documentation_example() -> None:
    params = {
        "Format": "XML",
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Version": "2014-05-26",
        "Timestamp": "2016-02-23T12:46:24Z",
    }
    assert sms.signature("GET", params, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def test_percent_encoding_is_rfc3986_not_form_encoding() -> None:
    assert sms.percent_encode("a b*~/+") == "a%20b%2A~%2F%2B"


async def test_sms_request_carries_the_config_the_phones_and_a_post_signature() -> None:
    channel = sms.SmsChannel(sms.AliyunSms(SMS_CONFIG))
    message = Message(key="asg-7:2", title="标题", sms="您单位有新派单，请登录平台处理")
    reply = httpx.Response(200, json={"Code": "OK", "Message": "OK", "BizId": "1", "RequestId": "r"})
    sent, request = await capture(channel, {"phones": ["13800000001", "13900000002"]}, message, reply)
    assert sent.outcome is Outcome.DELIVERED
    params = {k: v[0] for k, v in parse_qs(request.content.decode(), keep_blank_values=True).items()}
    assert params["PhoneNumbers"] == "13800000001,13900000002"
    assert json.loads(params["TemplateParam"]) == {"content": "您单位有新派单，请登录平台处理"}
    assert (params["SignName"], params["TemplateCode"], params["OutId"]) == ("供热热线", "SMS_1", "asg-7:2")
    assert params["Signature"] == sms.signature("POST", params, "testSecret")


async def test_webhook_posts_the_data_signed_with_shared_signing() -> None:
    target = {"url": "https://unit.example/hook", "secret": "s3cret", "sender": "heating-dispatch"}
    message = Message(key="asg-1:1", title="t", data={"case_id": "C1", "text": "室温低"})
    sent, request = await capture(webhook.UnitWebhook(), target, message, httpx.Response(204))
    assert sent.outcome is Outcome.DELIVERED
    assert request.content == '{"case_id":"C1","text":"室温低"}'.encode()
    h = request.headers
    assert h[signing.HEADER_DELIVERY] == "asg-1:1" and h[signing.HEADER_INTEGRATION] == "heating-dispatch"
    assert signing.signature_valid("s3cret", h[signing.HEADER_TIMESTAMP], request.content, h[signing.HEADER_SIGNATURE])


# -- answers -----------------------------------------------------------------------------------------------------


def _json(body: dict[str, Any], status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(
    ("code", "outcome", "retry"),
    [(0, Outcome.DELIVERED, None), (45009, Outcome.RATE_LIMITED, 60.0), (93000, Outcome.REJECTED, None),
     (40058, Outcome.REJECTED, None), (40008, Outcome.REJECTED, None), (-1, Outcome.HTTP_ERROR, None)],
)  # fmt: skip
def test_wecom_answers(code: int, outcome: Outcome, retry: float | None) -> None:
    sent = wecom.answer(_json({"errcode": code, "errmsg": "x"}))
    assert (sent.outcome, sent.retry_after_seconds) == (outcome, retry)
    assert (sent.error is None) == (outcome is Outcome.DELIVERED)


@pytest.mark.parametrize(
    ("code", "outcome"),
    [(0, Outcome.DELIVERED), (130101, Outcome.RATE_LIMITED), (310000, Outcome.REJECTED),
     (300001, Outcome.REJECTED), (400013, Outcome.HTTP_ERROR)],
)  # fmt: skip
def test_dingtalk_answers(code: int, outcome: Outcome) -> None:
    assert dingtalk.answer(_json({"errcode": code, "errmsg": "x"})).outcome is outcome


def test_robots_read_a_non_json_or_non_2xx_answer_as_an_http_error() -> None:
    assert wecom.answer(httpx.Response(502, text="bad gateway")).error == "HTTP 502"
    assert dingtalk.answer(httpx.Response(200, text="<html>")).outcome is Outcome.HTTP_ERROR


@pytest.mark.parametrize(
    ("status", "code", "outcome"),
    [(200, "OK", Outcome.DELIVERED), (200, "isv.BUSINESS_LIMIT_CONTROL", Outcome.RATE_LIMITED),
     (200, "isv.MOBILE_NUMBER_ILLEGAL", Outcome.REJECTED), (200, "isv.SMS_TEMPLATE_ILLEGAL", Outcome.REJECTED),
     (200, "isv.SMS_SIGNATURE_ILLEGAL", Outcome.REJECTED), (404, "InvalidAccessKeyId.NotFound", Outcome.REJECTED),
     (400, "SignatureDoesNotMatch", Outcome.REJECTED), (200, "isv.OUT_OF_SERVICE", Outcome.HTTP_ERROR),
     (500, "InternalError", Outcome.HTTP_ERROR)],
)  # fmt: skip
def test_sms_answers(status: int, code: str, outcome: Outcome) -> None:
    sent = sms.answer(_json({"Code": code, "Message": "m"}, status))
    assert sent.outcome is outcome
    if outcome is not Outcome.DELIVERED:
        assert sent.error is not None and code in sent.error


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(200, Outcome.DELIVERED), (204, Outcome.DELIVERED), (400, Outcome.REJECTED), (401, Outcome.REJECTED),
     (404, Outcome.REJECTED), (408, Outcome.HTTP_ERROR), (500, Outcome.HTTP_ERROR), (503, Outcome.HTTP_ERROR)],
)  # fmt: skip
def test_webhook_answers(status: int, outcome: Outcome) -> None:
    assert webhook.answer(httpx.Response(status)).outcome is outcome


def test_webhook_429_honours_retry_after() -> None:
    sent = webhook.answer(httpx.Response(429, headers={"Retry-After": "42"}))
    assert (sent.outcome, sent.retry_after_seconds) == (Outcome.RATE_LIMITED, 42.0)
    assert webhook.answer(httpx.Response(429)).retry_after_seconds is None


async def test_network_failures_are_outcomes_not_exceptions() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    target = {"url": "https://unit.example/hook", "secret": "s"}
    for handler, outcome in ((refuse, Outcome.NETWORK_ERROR), (slow, Outcome.TIMEOUT)):
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            sent = await webhook.UnitWebhook().send(client, target, MSG)
        assert sent.outcome is outcome


# -- targets -----------------------------------------------------------------------------------------------------


def test_registry_has_sms_only_with_a_provider_account() -> None:
    assert set(adapters(None)) == {ChannelKind.WECOM, ChannelKind.DINGTALK, ChannelKind.WEBHOOK}
    assert set(adapters(SMS_CONFIG)) == set(ChannelKind)
    assert all(a.kind is k for k, a in adapters(SMS_CONFIG).items())


@pytest.mark.parametrize(
    ("kind", "target", "field"),
    [
        (ChannelKind.WECOM, {"url": "http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K"}, "url"),
        (ChannelKind.WECOM, {"url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"}, "url"),
        (ChannelKind.WECOM, {"url": "ftp://x/send?key=K"}, "url"),
        (ChannelKind.WECOM, {"url": "https://q/send?key=K", "secert": "x"}, "secert"),
        (ChannelKind.WECOM, {}, "url"),
        (ChannelKind.DINGTALK, {"url": "https://oapi.dingtalk.com/robot/send?access_token=T", "secret": ""}, "secret"),
        (ChannelKind.DINGTALK, {"url": "https://oapi.dingtalk.com/robot/send?access_token=T", "secret": "S" * 201},
         "secret"),
        (ChannelKind.SMS, {"phones": ["1380000000"]}, "phones[0]"),
        (ChannelKind.SMS, {"phones": ["23800000001"]}, "phones[0]"),
        (ChannelKind.SMS, {"phones": ["1３800000001"]}, "phones[0]"),  # a full-width digit
        (ChannelKind.SMS, {"phones": []}, "phones"),
        (ChannelKind.WEBHOOK, {"url": "https://unit.example/hook"}, "secret"),
        (ChannelKind.WEBHOOK, {"url": "http://localhost:9/h", "secret": "s"}, "url"),
        (ChannelKind.WEBHOOK, {"url": "https://u/h", "secret": "s", "sender": ""}, "sender"),
    ],
)  # fmt: skip
def test_target_refusals_name_the_field(kind: ChannelKind, target: dict[str, Any], field: str) -> None:
    with pytest.raises(TargetRefused) as refused:
        validate_target(kind, target)
    assert refused.value.field == field
    assert isinstance(refused.value, ValueError) and str(refused.value).startswith(field)


def test_targets_accepted_and_normalised() -> None:
    assert validate_target(ChannelKind.SMS, {"phones": ["13800000001", "13800000001"]}) == {"phones": ["13800000001"]}
    assert validate_target(ChannelKind.WEBHOOK, {"url": "https://u.example/h", "secret": "s"})["sender"] == (
        "heating-dispatch"
    )
    local = {"url": "http://127.0.0.1:8006/dingtalk/robot/send?access_token=T", "secret": "SEC1"}
    assert validate_target(ChannelKind.DINGTALK, local, allow_insecure_local=True) == local
    with pytest.raises(TargetRefused):
        validate_target(ChannelKind.DINGTALK, local)  # plain http only where allowed
    with pytest.raises(TargetRefused):  # and only to this machine
        validate_target(ChannelKind.WEBHOOK, {"url": "http://10.0.0.1/h", "secret": "s"}, allow_insecure_local=True)
