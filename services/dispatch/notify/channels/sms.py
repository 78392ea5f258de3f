"""短信: a channel that sends one text to a target's duty phones through an ``SmsProvider``, and the provider this
project speaks: 阿里云短信 (Dysmsapi ``SendSms``, version 2017-05-25, RPC style).

The provider's account — endpoint, AccessKey, 签名 (SignName) and 模板 (TemplateCode) — is the service's setting
(``SmsConfig``), never a target's: a target only names phones (``{"phones": ["138…"]}``). The template is assumed to
be ``${content}``, so ``TemplateParam`` is ``{"content": message.sms or message.title}``.

Signature (RPC, HMAC-SHA1, version 1.0): every parameter but ``Signature``, sorted by name, each name and value
percent-encoded as RFC 3986 (only ``A-Z a-z 0-9 - _ . ~`` left as they are, a space as ``%20``), joined ``k=v`` by
``&``; StringToSign = ``METHOD&%2F&`` + percentEncode(that); Signature = Base64(HMAC-SHA1(key = AccessKeySecret +
"&", StringToSign)). Sent as a form body by POST.

The answer is JSON with ``Code``: ``OK`` delivered (accepted by the provider: the handset's receipt is a later,
separate report); ``isv.BUSINESS_LIMIT_CONTROL`` (a number's per-minute/hour/day quota) and ``Throttling.User`` rate
limited; a bad number, template, signature name, AccessKey or request signature refused; anything else an HTTP error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from services.dispatch.notify.channels import targets
from services.dispatch.notify.channels.base import ChannelKind, Message, Outcome, Sent
from services.dispatch.notify.channels.transport import json_object, post, short

API_VERSION = "2017-05-25"
RATE_LIMIT_RETRY_SECONDS = 60.0
RATE_LIMITS = frozenset({"isv.BUSINESS_LIMIT_CONTROL", "Throttling.User"})
REFUSALS = frozenset(
    {
        "isv.MOBILE_NUMBER_ILLEGAL",
        "isv.SMS_TEMPLATE_ILLEGAL",
        "isv.SMS_SIGNATURE_ILLEGAL",
        "InvalidAccessKeyId.NotFound",
        "SignatureDoesNotMatch",
    }
)


class SmsConfig(BaseModel):
    """The SMS provider's account (阿里云短信)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    endpoint_url: str = Field("https://dysmsapi.aliyuncs.com/", description="Dysmsapi 的接入地址")
    access_key_id: str = Field(min_length=1)
    access_key_secret: SecretStr
    sign_name: str = Field(min_length=1, description="短信签名（SignName）")
    template_code: str = Field(min_length=1, description="短信模板（TemplateCode），内容为 ${content}")
    region_id: str = "cn-hangzhou"


class SmsProvider(Protocol):
    async def send(self, client: httpx.AsyncClient, phones: list[str], text: str, key: str) -> Sent:
        """Send ``text`` to ``phones``; ``key`` identifies the delivery. Never raises for the network."""
        ...


def percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding of UTF-8, as Alibaba Cloud's RPC signature wants it."""
    return quote(value, safe="-_.~")


def canonical_query(params: dict[str, str]) -> str:
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()) if k != "Signature")


def string_to_sign(method: str, params: dict[str, str]) -> str:
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"


def signature(method: str, params: dict[str, str], access_key_secret: str) -> str:
    key = (access_key_secret + "&").encode()
    digest = hmac.new(key, string_to_sign(method, params).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class AliyunSms:
    """阿里云 Dysmsapi ``SendSms``."""

    def __init__(self, config: SmsConfig) -> None:
        self.config = config

    def params(self, phones: list[str], text: str, key: str, *, now: datetime, nonce: str) -> dict[str, str]:
        """The request's parameters, signed."""
        c = self.config
        params = {
            "AccessKeyId": c.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "RegionId": c.region_id,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": nonce,
            "SignatureVersion": "1.0",
            "Timestamp": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": API_VERSION,
            "PhoneNumbers": ",".join(phones),
            "SignName": c.sign_name,
            "TemplateCode": c.template_code,
            "TemplateParam": json.dumps({"content": text}, ensure_ascii=False, separators=(",", ":")),
            "OutId": key[:256],
        }
        params["Signature"] = signature("POST", params, c.access_key_secret.get_secret_value())
        return params

    async def send(self, client: httpx.AsyncClient, phones: list[str], text: str, key: str) -> Sent:
        params = self.params(phones, text, key, now=datetime.now(UTC), nonce=uuid.uuid4().hex)
        response = await post(client, self.config.endpoint_url, data=params)
        return response if isinstance(response, Sent) else answer(response)


def answer(response: httpx.Response) -> Sent:
    reply = json_object(response)
    code = reply.get("Code") if reply is not None else None
    if not isinstance(code, str):
        return Sent(Outcome.HTTP_ERROR, f"HTTP {response.status_code}")
    what = f"{code}: {short(reply.get('Message', '')) if reply else ''}"
    if code == "OK" and 200 <= response.status_code < 300:
        return Sent(Outcome.DELIVERED)
    if code in RATE_LIMITS:
        return Sent(Outcome.RATE_LIMITED, what, RATE_LIMIT_RETRY_SECONDS)
    if code in REFUSALS:
        return Sent(Outcome.REJECTED, what)
    return Sent(Outcome.HTTP_ERROR, what)


def validate_target(target: Any, *, allow_insecure_local: bool = False) -> dict[str, Any]:
    """``{"phones": ["138…", …]}`` (``allow_insecure_local`` is taken for a uniform signature: no URL here)."""
    checked = targets.only_fields(target, ("phones",), ("phones",))
    return {"phones": targets.phones(checked, "phones", required=True)}


class SmsChannel:
    kind = ChannelKind.SMS

    def __init__(self, provider: SmsProvider) -> None:
        self.provider = provider

    async def send(self, client: httpx.AsyncClient, target: dict[str, Any], message: Message) -> Sent:
        text = message.sms or message.title
        return await self.provider.send(client, list(target["phones"]), text, message.key)
