"""How each provider the notifications reach checks a request, written from their published descriptions (importing
nothing of the services, so an adapter's mistake is not checked by the same mistake): 企业微信 and 钉钉 group
robots, 阿里云短信 ``SendSms``, and a unit's own system (signed as ``shared.signing`` says). Used by
``deploy.notify_receiver``; each function returns the message as heard, or raises ``Refusal`` with the answer the
real provider gives.

Codes, as the providers document or answer them: 企业微信 93000 (invalid webhook URL/key), 40008 (invalid message
type), 40058 (invalid parameter, e.g. ``markdown.content exceed max length 4096``), 44004 (empty content); 钉钉
300001 (token is not exist), 310000 (sign not match / invalid timestamp), 40035 (a parameter missing or invalid);
阿里云 ``Missing<Param>``, ``InvalidAccessKeyId.NotFound`` (404), ``SignatureDoesNotMatch``,
``InvalidTimeStamp.Expired``, ``SignatureNonceUsed`` (400) and the ``isv.*`` business codes (200).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from shared import signing

WECOM_MARKDOWN_BYTES, WECOM_TEXT_BYTES = 4096, 2048
DINGTALK_TEXT_BYTES = 20_000
DINGTALK_MAX_SKEW_MS = 3_600_000  # 1 hour, as DingTalk allows
ALIYUN_MAX_SKEW_SECONDS = 900  # 15 minutes
WEBHOOK_MAX_SKEW_SECONDS = 300
MOBILE = re.compile(r"1[0-9]{10}")


class Refusal(Exception):
    """The provider's answer to a request it refuses: HTTP status and JSON body."""

    def __init__(self, status: int, body: dict[str, Any], reason: str) -> None:
        super().__init__(reason)
        self.status, self.body, self.reason = status, body, reason


def _wecom_no(code: int, errmsg: str) -> Refusal:
    return Refusal(200, {"errcode": code, "errmsg": errmsg}, errmsg)


def _json_object(body: bytes, refuse: Refusal) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        raise refuse from None
    if not isinstance(parsed, dict):
        raise refuse
    return parsed


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def wecom(key: str, body: bytes, *, keys: frozenset[str] | None) -> dict[str, Any]:
    if not key or (keys is not None and key not in keys):
        raise _wecom_no(93000, "invalid webhook url")
    msg = _json_object(body, _wecom_no(40058, "invalid Request Parameter: body is not a JSON object"))
    kind = msg.get("msgtype")
    if kind not in ("markdown", "text") or set(msg) != {"msgtype", kind}:
        raise _wecom_no(40008, f"invalid message type: {kind!r} (or other top-level fields)")
    inner = msg[kind]
    allowed = {"content"} | ({"mentioned_list", "mentioned_mobile_list"} if kind == "text" else set())
    if not isinstance(inner, dict) or not set(inner) <= allowed:
        raise _wecom_no(40058, f"invalid Request Parameter: {kind} must be an object with {sorted(allowed)}")
    content = inner.get("content")
    if not isinstance(content, str) or not content.strip():
        raise _wecom_no(44004, "empty content")
    limit = WECOM_MARKDOWN_BYTES if kind == "markdown" else WECOM_TEXT_BYTES
    if len(content.encode()) > limit:
        raise _wecom_no(40058, f"{kind}.content exceed max length {limit}")
    mentions = inner.get("mentioned_mobile_list", [])
    if not _strings(mentions):
        raise _wecom_no(40058, "invalid Request Parameter: mentioned_mobile_list")
    return {"msgtype": kind, "content": content, "mentions": mentions}


def dingtalk_sign(secret: str, timestamp: str) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def _ding_no(code: int, errmsg: str) -> Refusal:
    return Refusal(200, {"errcode": code, "errmsg": errmsg}, errmsg)


def dingtalk(
    query: Mapping[str, str], body: bytes, *, secret: str | None, tokens: frozenset[str] | None, now: float
) -> dict[str, Any]:
    token = query.get("access_token", "")
    if not token or (tokens is not None and token not in tokens):
        raise _ding_no(300001, "token is not exist")
    if secret is not None:
        timestamp, given = query.get("timestamp", ""), query.get("sign", "")
        if not (timestamp.isascii() and timestamp.isdigit()) or abs(now * 1000 - int(timestamp)) > DINGTALK_MAX_SKEW_MS:
            raise _ding_no(310000, "invalid timestamp")
        if not hmac.compare_digest(dingtalk_sign(secret, timestamp), given):
            raise _ding_no(310000, "sign not match")
    msg = _json_object(body, _ding_no(40035, "缺少参数 json"))
    markdown, at = msg.get("markdown"), msg.get("at", {})
    if msg.get("msgtype") != "markdown" or not isinstance(markdown, dict) or not isinstance(at, dict):
        raise _ding_no(40035, "msgtype markdown with a markdown object expected")
    title, text = markdown.get("title"), markdown.get("text")
    if not isinstance(title, str) or not title or not isinstance(text, str) or not text:
        raise _ding_no(40035, "缺少参数 markdown.title / markdown.text")
    if len(text.encode()) > DINGTALK_TEXT_BYTES:
        raise _ding_no(40035, f"markdown.text over {DINGTALK_TEXT_BYTES} bytes")
    mobiles = at.get("atMobiles", [])
    if not _strings(mobiles) or at.get("isAtAll", False) not in (True, False):
        raise _ding_no(40035, "at.atMobiles must be a list of strings, at.isAtAll a boolean")
    # DingTalk rings an @ only where the text also says @<phone>: note the ones that would not ring.
    silent = [m for m in mobiles if f"@{m}" not in text]
    return {"title": title, "text": text, "mentions": mobiles, "silent_mentions": silent}


def aliyun_percent(value: str) -> str:
    return quote(value, safe="-_.~")


def aliyun_signature(method: str, params: Mapping[str, str], secret: str) -> str:
    canonical = "&".join(
        f"{aliyun_percent(k)}={aliyun_percent(v)}" for k, v in sorted(params.items()) if k != "Signature"
    )
    to_sign = f"{method}&{aliyun_percent('/')}&{aliyun_percent(canonical)}"
    return base64.b64encode(hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()).decode()


ALIYUN_REQUIRED = (
    "AccessKeyId Action SignatureMethod SignatureNonce SignatureVersion Signature Timestamp Version "
    "PhoneNumbers SignName TemplateCode"
).split()


def _ali_no(status: int, code: str, message: str) -> Refusal:
    return Refusal(status, {"Code": code, "Message": message, "RequestId": "receiver"}, f"{code}: {message}")


def aliyun(
    method: str,
    params: Mapping[str, str],
    *,
    access_keys: Mapping[str, str],
    sign_name: str,
    template_code: str,
    used_nonces: set[str],
    now: float,
) -> dict[str, Any]:
    for name in ALIYUN_REQUIRED:
        if not params.get(name):
            raise _ali_no(400, f"Missing{name}", f"{name} is mandatory for this action.")
    if params["Action"] != "SendSms" or params["Version"] != "2017-05-25":
        raise _ali_no(404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
    if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
        raise _ali_no(400, "InvalidParameter", "SignatureMethod HMAC-SHA1, SignatureVersion 1.0 expected")
    secret = access_keys.get(params["AccessKeyId"])
    if secret is None:
        raise _ali_no(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    try:
        at = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise _ali_no(400, "InvalidTimeStamp.Format", "Specified time stamp is not valid.") from None
    if abs(now - at) > ALIYUN_MAX_SKEW_SECONDS:
        raise _ali_no(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
    if not hmac.compare_digest(aliyun_signature(method, params, secret), params["Signature"]):
        raise _ali_no(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
    if params["SignatureNonce"] in used_nonces:
        raise _ali_no(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
    used_nonces.add(params["SignatureNonce"])
    phones = params["PhoneNumbers"].split(",")
    if len(phones) > 1000:
        raise _ali_no(200, "isv.MOBILE_COUNT_OVER_LIMIT", "手机号码数量超过限制")
    if not all(MOBILE.fullmatch(p) for p in phones):
        raise _ali_no(200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
    if params["SignName"] != sign_name:
        raise _ali_no(200, "isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
    if params["TemplateCode"] != template_code:
        raise _ali_no(200, "isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
    try:
        variables = json.loads(params.get("TemplateParam", ""))
    except ValueError:
        variables = None
    if not isinstance(variables, dict) or not isinstance(variables.get("content"), str):
        raise _ali_no(200, "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值（模板变量 content）")
    return {"phones": phones, "content": variables["content"], "out_id": params.get("OutId", "")}


def webhook(headers: Mapping[str, str], body: bytes, *, secret: str, now: float) -> dict[str, Any]:
    """``headers`` with lowercase names."""
    timestamp = headers.get(signing.HEADER_TIMESTAMP.lower(), "")
    given = headers.get(signing.HEADER_SIGNATURE.lower(), "")
    if not signing.timestamp_fresh(timestamp, now=now, max_skew_seconds=WEBHOOK_MAX_SKEW_SECONDS):
        raise Refusal(401, {"error": "stale or missing timestamp"}, "stale or missing timestamp")
    if not signing.signature_valid(secret, timestamp, body, given):
        raise Refusal(401, {"error": "bad signature"}, "bad signature")
    delivery = headers.get(signing.HEADER_DELIVERY.lower(), "")
    if not delivery:
        raise Refusal(400, {"error": f"{signing.HEADER_DELIVERY} missing"}, "no delivery id")
    data = _json_object(body, Refusal(400, {"error": "body is not a JSON object"}, "body is not a JSON object"))
    return {"delivery": delivery, "sender": headers.get(signing.HEADER_INTEGRATION.lower(), ""), "data": data}
