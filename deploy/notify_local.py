"""The notifications of the local stack: who hears of what in the seed (its units' duty groups and phones, a
heating company's own system, the community and street offices, the on-call), every channel played by the local
receiver (deploy.notify_receiver), and what the demo prints of what it heard."""

from __future__ import annotations

import time
from typing import Any

import httpx

from deploy.notify_receiver import (
    DEV_DINGTALK_SECRET,
    DEV_SMS_KEY_ID,
    DEV_SMS_KEY_SECRET,
    DEV_SMS_SIGN_NAME,
    DEV_SMS_TEMPLATE,
    DEV_WEBHOOK_SECRET,
    describe,
)


def sms_account(receiver: str) -> dict[str, str]:
    """Dispatch's SMS provider account (``DISPATCH_NOTIFY__SMS``): the receiver, with its development keys."""
    return {
        "endpoint_url": f"{receiver}/sms/",
        "access_key_id": DEV_SMS_KEY_ID,
        "access_key_secret": DEV_SMS_KEY_SECRET,
        "sign_name": DEV_SMS_SIGN_NAME,
        "template_code": DEV_SMS_TEMPLATE,
    }


def targets(doc: dict[str, Any], receiver: str) -> list[dict[str, Any]]:
    """The seed's recipients (``doc["notify"]``) as bodies of dispatch's ``PUT /admin/notify/targets``."""
    notify = doc.get("notify", {})
    out: list[dict[str, Any]] = []

    def add(owner_kind: str, owner_id: str, channel: str, name: str, config: dict[str, Any]) -> None:
        out.append({"owner_kind": owner_kind, "owner_id": owner_id, "channel": channel, "name": name, "config": config})

    for unit, phone in notify.get("duty_phones", {}).items():
        add("unit", unit, "wecom", "值班群", {"url": f"{receiver}/wecom/send?key={unit}", "mentions": [phone]})
        add("unit", unit, "sms", "值班手机", {"phones": [phone]})
    for unit in notify.get("own_systems", []):
        add(
            "unit", unit, "webhook", "自有调度系统", {"url": f"{receiver}/webhook/{unit}", "secret": DEV_WEBHOOK_SECRET}
        )
    for area, channel in notify.get("area_groups", {}).items():
        if channel == "dingtalk":
            url = f"{receiver}/dingtalk/robot/send?access_token={area}"
            add("area", area, "dingtalk", "工作群", {"url": url, "secret": DEV_DINGTALK_SECRET})
        else:
            add("area", area, "wecom", "工作群", {"url": f"{receiver}/wecom/send?key={area}"})
    for audience in notify.get("ops", []):
        add("ops", audience, "wecom", "运维值班", {"url": f"{receiver}/wecom/send?key={audience}"})
    return out


def load(doc: dict[str, Any], *, dispatch_url: str, receiver: str, admin_token: str) -> int:
    headers = {"X-Admin-Token": admin_token}
    bodies = targets(doc, receiver)
    with httpx.Client(timeout=30) as client:
        for body in bodies:
            client.put(f"{dispatch_url}/admin/notify/targets", json=body, headers=headers).raise_for_status()
    return len(bodies)


def heard(receiver: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{receiver}/heard", timeout=10)
    r.raise_for_status()
    return r.json()["heard"]  # type: ignore[no-any-return]


def lines(receiver: str, *, settle: bool = False, quiet_for: float = 4.0, at_most: float = 30.0) -> list[str]:
    """Every message the receiver heard, one line each, in the order it heard them. ``settle``: first wait until
    nothing new arrived for ``quiet_for`` seconds (a group robot's digest leaves a few seconds after a burst)."""
    got = heard(receiver)
    if settle:
        deadline, still_since = time.monotonic() + at_most, time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - still_since < quiet_for:
            time.sleep(0.5)
            now = heard(receiver)
            if len(now) != len(got):
                got, still_since = now, time.monotonic()
    return [describe(h["kind"], h["target"], h["message"]) for h in got]
